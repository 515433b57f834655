"""Attribute distributions of a film: per attribute, how many cells had each value, and the majority value.

Computed over the WBCs (the none class has no morphology: LLD codes its attributes "not applicable"), for
the film as a whole and per WBC type. Majority ties go to the lower value index of the schema (value 0 first),
as in the reference spec (Sec. 5, D20) and the nearest public implementation it cites. A cell without a call
for an attribute (the model predicts none) is not counted for it; an attribute no cell has a call for has no
majority and is left out of the film text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .bank import BankCell, MorphologyBank

__all__ = ["AttributeTally", "Morphology", "majority_value", "morphology", "tally"]


@dataclass(frozen=True)
class AttributeTally:
    """One attribute over a set of cells.

    Attributes:
        name: attribute name.
        counts: ``{value: cells}`` for every schema value (zeros included), then any value outside the schema.
        n: cells with a call for this attribute.
        majority: the most frequent value (tie → lowest schema index), ``None`` when ``n == 0``.
    """

    name: str
    counts: dict[str, int]
    n: int
    majority: str | None

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "counts": dict(self.counts), "majority": self.majority}


@dataclass(frozen=True)
class Morphology:
    """Attribute tallies of the film's WBCs (``overall``) and per WBC type (``by_class``, with ``class_n``)."""

    schema: dict[str, tuple[str, ...]]
    overall: tuple[AttributeTally, ...]
    by_class: dict[str, tuple[AttributeTally, ...]]
    class_n: dict[str, int]

    def majority(self) -> dict[str, str]:
        """``{attribute: majority value}`` over all WBCs, attributes without calls left out."""
        return {t.name: t.majority for t in self.overall if t.majority is not None}

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": {k: list(v) for k, v in self.schema.items()},
            "overall": {t.name: t.to_json() for t in self.overall},
            "by_class": {
                c: {"n": self.class_n[c], "attributes": {t.name: t.to_json() for t in ts}}
                for c, ts in self.by_class.items()
            },
            "tie_rule": "majority; ties go to the value listed first in the schema",
        }


def majority_value(counts: Mapping[str, int], order: Sequence[str]) -> str | None:
    """The value with most cells; ties go to the value earliest in ``order`` (then in ``counts`` order)."""
    if not counts or max(counts.values()) <= 0:
        return None
    rank = {v: i for i, v in enumerate(order)}
    keys = list(counts)
    best = max(counts.values())
    tied = [v for v in keys if counts[v] == best]
    return min(tied, key=lambda v: (rank.get(v, len(rank)), keys.index(v)))


def tally(cells: Sequence[BankCell], name: str, values: Sequence[str]) -> AttributeTally:
    """Tally attribute ``name`` over ``cells`` with schema ``values``."""
    seen = Counter(c.attributes[name][0] for c in cells if name in c.attributes)
    counts = {v: seen.get(v, 0) for v in values}
    counts.update({v: k for v, k in seen.items() if v not in counts})
    return AttributeTally(name, counts, sum(seen.values()), majority_value(counts, values))


def _names(bank: MorphologyBank, cells: Sequence[BankCell]) -> dict[str, tuple[str, ...]]:
    """The bank's schema plus any attribute the cells carry that the schema lacks (values as seen)."""
    schema = dict(bank.attributes)
    for cell in cells:
        for name, (value, _) in cell.attributes.items():
            if name not in schema:
                schema[name] = ()
            if value not in schema[name] and name not in bank.attributes:
                schema[name] = (*schema[name], value)
    return schema


def morphology(bank: MorphologyBank) -> Morphology:
    """Attribute tallies over the bank's WBCs, overall and per WBC type (every WBC class of the model)."""
    cells = bank.wbc_cells()
    schema = _names(bank, cells)
    overall = tuple(tally(cells, n, v) for n, v in schema.items())
    classes = list(bank.wbc_classes) + sorted({c.class_name for c in cells} - set(bank.wbc_classes))
    by_class, class_n = {}, {}
    for cls in classes:
        members = [c for c in cells if c.class_name == cls]
        by_class[cls] = tuple(tally(members, n, v) for n, v in schema.items())
        class_n[cls] = len(members)
    return Morphology(schema, overall, by_class, class_n)
