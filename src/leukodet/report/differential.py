"""The WBC differential of a film: count, percentage and 95 % confidence interval per class.

Only classes of role ``wbc`` (:mod:`leukodet.records.roles`) enter it. A generic ``WBC`` class (a model that
finds white cells but does not type them) is a row of its own, marked untyped. Red cells and platelets are
counted per field (:mod:`.smear`); artefacts (LLD "None": bare nuclei, cells nobody could name) and other
objects are counted apart; none of them is part of the denominator. The total is compared with the
conventional 100- and 200-cell manual differentials.

Why the Wilson score interval: a differential is a binomial proportion (k cells of one class among n counted)
and the interesting classes are rare (a few blasts or atypical lymphocytes in 100 cells). The textbook Wald
interval ``p ± z·sqrt(p(1-p)/n)`` collapses to zero width at k = 0 or k = n and covers far less than 95 % for
small n or p near 0 or 1. Wilson's interval (Wilson 1927) stays inside [0, 1], is never empty at k = 0, and has
close to nominal coverage at these sizes; Brown, Cai & DasGupta (2001, Stat. Sci. 16:101) recommend it for
n < 40 and as the default beyond. Clopper-Pearson (what Rümke's classic differential-count tables tabulate) is
conservative, i.e. wider than needed. The interval only covers counting (sampling) error: it assumes cells are
independent draws and the classes are right, so misdetections, misclassification and clustering of cells
within fields all add uncertainty it does not show. With n = 0 there is no proportion and the interval is null.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..records.roles import ARTEFACT, OTHER, is_untyped_wbc
from .bank import MorphologyBank

__all__ = [
    "TARGETS",
    "Z95",
    "ClassCount",
    "Differential",
    "differential",
    "target_summary",
    "wilson_interval",
]

Z95 = 1.959963984540054
"""Two-sided 95 % standard-normal quantile."""

TARGETS: tuple[int, ...] = (100, 200)
"""Conventional manual differential sizes (cells)."""


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of the proportion ``k / n`` (as fractions), ``None`` when ``n == 0``.

    ``centre = (p + z²/2n) / (1 + z²/n)``, ``half = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²)``.
    """
    if n <= 0:
        return None
    if not 0 <= k <= n:
        raise ValueError(f"count {k} outside 0..{n}")
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class ClassCount:
    """One WBC class of the differential.

    Attributes:
        name: class name.
        count: cells of this class.
        percent: ``100 · count / total``, ``None`` when no WBC was counted.
        ci95: Wilson 95 % interval in percent, ``None`` when no WBC was counted.
        untyped: the generic WBC class (white cells the model did not type).
    """

    name: str
    count: int
    percent: float | None
    ci95: tuple[float, float] | None
    untyped: bool = False

    @property
    def label(self) -> str:
        """The row's name on a page: ``WBC, untyped`` for the generic class."""
        return f"{self.name}, untyped" if self.untyped else self.name

    def to_json(self) -> dict[str, Any]:
        ci = None if self.ci95 is None else [self.ci95[0], self.ci95[1]]
        return {
            "class": self.name,
            "label": self.label,
            "untyped": self.untyped,
            "count": self.count,
            "percent": self.percent,
            "ci95": ci,
        }


@dataclass(frozen=True)
class Differential:
    """Counts of a film.

    Attributes:
        classes: one row per WBC class of the model, model order (zero counts included), then WBC classes seen
            but not in the vocabulary.
        total: WBCs counted (the denominator), untyped ones included.
        apart: ``(class, role, count)`` of the artefact and other classes, counted apart (not in ``total``).
        targets: ``(cells, met)`` per conventional differential size.
        summary: e.g. ``"counted 143 cells: ≥ 100 met, 200 not met"``.
    """

    classes: tuple[ClassCount, ...]
    total: int
    apart: tuple[tuple[str, str, int], ...]
    targets: tuple[tuple[int, bool], ...]
    summary: str

    @property
    def untyped(self) -> int:
        """WBCs of the generic class (found, not typed)."""
        return sum(c.count for c in self.classes if c.untyped)

    def counts(self) -> dict[str, int]:
        """``{class: count}`` of the WBC classes."""
        return {c.name: c.count for c in self.classes}

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "typed": self.total - self.untyped,
            "untyped": self.untyped,
            "apart": [{"class": c, "role": r, "count": n} for c, r, n in self.apart],
            "classes": [c.to_json() for c in self.classes],
            "targets": [{"cells": t, "met": met} for t, met in self.targets],
            "summary": self.summary,
            "interval": "Wilson score, 95 %",
        }


def target_summary(total: int, targets: Sequence[int] = TARGETS) -> str:
    """``"counted 143 cells: ≥ 100 met, 200 not met"``."""
    parts = [f"≥ {t} met" if total >= t else f"{t} not met" for t in targets]
    noun = "cell" if total == 1 else "cells"
    return f"counted {total} {noun}: {', '.join(parts)}"


def class_count(name: str, k: int, n: int) -> ClassCount:
    """The row of a class with ``k`` of ``n`` WBCs."""
    ci = wilson_interval(k, n)
    return ClassCount(
        name,
        k,
        None if n == 0 else 100.0 * k / n,
        None if ci is None else (100.0 * ci[0], 100.0 * ci[1]),
        is_untyped_wbc(name),
    )


def differential(bank: MorphologyBank) -> Differential:
    """The film's differential from its bank (WBC classes seen but not in the vocabulary are appended)."""
    counts = Counter(c.class_name for c in bank.wbc_cells())
    names = list(bank.wbc_classes) + sorted(set(counts) - set(bank.wbc_classes))
    total = sum(counts.values())
    rows = tuple(class_count(name, counts.get(name, 0), total) for name in names)
    seen = Counter(c.class_name for c in bank.cells)
    apart_names = [c for c in bank.classes if bank.role(c) in (ARTEFACT, OTHER)]
    apart_names += sorted(c for c in seen if c not in bank.classes and bank.role(c) in (ARTEFACT, OTHER))
    apart = tuple((c, bank.role(c), seen.get(c, 0)) for c in apart_names)
    targets = tuple((t, total >= t) for t in TARGETS)
    return Differential(rows, total, apart, targets, target_summary(total))
