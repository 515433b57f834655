"""Red cells and platelets of a film: per-field counts and the usual smear estimate, never part of the WBCs.

A model with red-cell or platelet classes (role ``rbc`` / ``platelet``, :mod:`leukodet.records.roles`) counts
them in every field. The report gives the per-field counts and their mean, and for platelets the classic
peripheral-smear estimate: mean platelets per oil-immersion (100x) field × 20,000 / µL (laboratory manuals
give factors of 15,000–20,000; 20,000 is the one the project was asked to use). It is labelled an estimate and it is only meaningful when each field is one 100x oil-immersion
field of the monolayer: at 40x or 10x, in thick or thin areas, or with clumped platelets it is not. Red-cell
morphology (size, shape, inclusions) is not evaluated, and no red-cell count per µL is estimated from a smear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..records.roles import PLATELET, RBC
from .bank import MorphologyBank

__all__ = ["PLATELETS_PER_FIELD_TO_UL", "CellTally", "SmearCounts", "smear_counts"]

PLATELETS_PER_FIELD_TO_UL = 20_000
"""Platelets per µL for one platelet per oil-immersion field (the classic smear estimate's factor)."""

ESTIMATE_NOTE = (
    "estimate from the smear: mean platelets per field × 20,000/µL, valid only when every field is one "
    "100x oil-immersion field of the monolayer; confirm with an analyser count"
)
RBC_NOTE = "red-cell morphology not evaluated"


@dataclass(frozen=True)
class CellTally:
    """One kind of non-WBC cell (red cells or platelets) across the film's fields.

    Attributes:
        classes: the model's classes of this role (empty: the model cannot see them, nothing was evaluated).
        per_field: cells per field, field order.
    """

    classes: tuple[str, ...]
    per_field: tuple[int, ...]

    @property
    def evaluated(self) -> bool:
        return bool(self.classes)

    @property
    def total(self) -> int:
        return sum(self.per_field)

    @property
    def mean_per_field(self) -> float | None:
        return self.total / len(self.per_field) if self.per_field and self.evaluated else None

    def to_json(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "evaluated": self.evaluated,
            "total": self.total if self.evaluated else None,
            "per_field": list(self.per_field) if self.evaluated else None,
            "mean_per_field": self.mean_per_field,
        }


@dataclass(frozen=True)
class SmearCounts:
    """Red cells and platelets of a film (what the WBC differential leaves out)."""

    rbc: CellTally
    platelets: CellTally

    @property
    def platelet_estimate(self) -> float | None:
        """Estimated platelets per µL (see the module docstring), ``None`` when platelets were not evaluated."""
        mean = self.platelets.mean_per_field
        return None if mean is None else mean * PLATELETS_PER_FIELD_TO_UL

    def to_json(self) -> dict[str, Any]:
        estimate = self.platelet_estimate
        return {
            "rbc": {**self.rbc.to_json(), "note": RBC_NOTE},
            "platelets": {
                **self.platelets.to_json(),
                "estimate_per_ul": None if estimate is None else round(estimate),
                "note": ESTIMATE_NOTE if estimate is not None else None,
            },
        }


def _tally(bank: MorphologyBank, role: str) -> CellTally:
    per_field = [0] * len(bank.fields)
    for cell in bank.cells_of(role):
        per_field[cell.field] += 1
    return CellTally(bank.classes_of(role), tuple(per_field))


def smear_counts(bank: MorphologyBank) -> SmearCounts:
    """Per-field red-cell and platelet counts of a film."""
    return SmearCounts(_tally(bank, RBC), _tally(bank, PLATELET))
