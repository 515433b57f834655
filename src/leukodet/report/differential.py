"""The WBC differential of a film: count, percentage and 95 % confidence interval per class.

The none class (LLD "None": artefacts, bare nuclei, cells nobody could name) is counted apart and is not part
of the denominator. The total is compared with the conventional 100- and 200-cell manual differentials.

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
    """

    name: str
    count: int
    percent: float | None
    ci95: tuple[float, float] | None

    def to_json(self) -> dict[str, Any]:
        ci = None if self.ci95 is None else [self.ci95[0], self.ci95[1]]
        return {"class": self.name, "count": self.count, "percent": self.percent, "ci95": ci}


@dataclass(frozen=True)
class Differential:
    """Counts of a film.

    Attributes:
        classes: one row per WBC class of the model, model order (zero counts included).
        total: WBCs counted (the denominator).
        none_class: the class counted apart, ``None`` when the model has none.
        none_count: cells of the none class (not in ``total``).
        targets: ``(cells, met)`` per conventional differential size.
        summary: e.g. ``"counted 143 cells: ≥ 100 met, 200 not met"``.
    """

    classes: tuple[ClassCount, ...]
    total: int
    none_class: str | None
    none_count: int
    targets: tuple[tuple[int, bool], ...]
    summary: str

    def counts(self) -> dict[str, int]:
        """``{class: count}`` of the WBC classes."""
        return {c.name: c.count for c in self.classes}

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "none_class": self.none_class,
            "none_count": self.none_count,
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
    )


def differential(bank: MorphologyBank) -> Differential:
    """The film's differential from its bank (classes seen but not in the vocabulary are appended)."""
    counts = Counter(c.class_name for c in bank.cells)
    none_count = counts.pop(bank.none_class, 0) if bank.none_class is not None else 0
    names = list(bank.wbc_classes) + sorted(set(counts) - set(bank.wbc_classes))
    total = sum(counts.values())
    rows = tuple(class_count(name, counts.get(name, 0), total) for name in names)
    targets = tuple((t, total >= t) for t in TARGETS)
    return Differential(rows, total, bank.none_class, none_count, targets, target_summary(total))
