"""Paired comparisons of training methods: the difference per seed and its 95 % confidence interval.

Two methods trained with the same seed share their initialisation, batch order and augmentation, so the
per-seed difference removes most of the seed-to-seed spread; its mean gets a Student-t interval over the seeds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

__all__ = ["t_quantile_975", "paired_difference", "by_seed"]

_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)  # fmt: skip
"""The 0.975 quantile of Student's t for 1 to 30 degrees of freedom (standard tables)."""


def t_quantile_975(df: int) -> float:
    """Two-sided 95 % critical value of Student's t with ``df`` degrees of freedom (beyond 30: the first
    Cornish-Fisher term, within 0.001 of the table)."""
    if df < 1:
        raise ValueError(f"a t interval needs at least 1 degree of freedom, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df)


def paired_difference(method: Mapping[int, float], baseline: Mapping[int, float]) -> dict[str, object]:
    """``method − baseline`` over the seeds both have: mean, sd, the seeds, the 95 % t interval of the mean
    (``None`` with fewer than 2 seeds) and whether it excludes 0."""
    seeds = sorted(set(method) & set(baseline))
    diffs = [float(method[s]) - float(baseline[s]) for s in seeds]
    out: dict[str, object] = {"seeds": seeds, "n": len(diffs)}
    if not diffs:
        return {**out, "mean": None, "sd": None, "ci95": None, "excludes_zero": False}
    mean = statistics.mean(diffs)
    if len(diffs) < 2:
        return {**out, "mean": round(mean, 4), "sd": None, "ci95": None, "excludes_zero": False}
    sd = statistics.stdev(diffs)
    half = t_quantile_975(len(diffs) - 1) * sd / math.sqrt(len(diffs))
    ci = (round(mean - half, 4), round(mean + half, 4))
    return {
        **out,
        "mean": round(mean, 4),
        "sd": round(sd, 4),
        "ci95": ci,
        "excludes_zero": ci[0] > 0 or ci[1] < 0,
    }


def by_seed(rows: Sequence[Mapping[str, object]], method: str, key: str) -> dict[int, float]:
    """``{seed: value}`` of one method's rows (``key`` may be dotted: ``operating_point.recall``)."""
    out = {}
    for row in rows:
        if row["method"] != method:
            continue
        value: object = row
        for part in key.split("."):
            value = value[part]  # type: ignore[index]
        out[int(row["seed"])] = float(value)  # type: ignore[arg-type]
    return out
