"""Benchmark (issue #21): leukodet against the peer on the yardstick, with Welch 95 % intervals per set and figure.

The two sides start from different random weights (different detectors), so seeds do not pair: the difference of
the means gets a Welch interval (unequal variances, Welch–Satterthwaite degrees of freedom rounded down, so the
interval is on the wide side). Reads two published yardstick results, no training:

    .venv/bin/python benchmarks/peer_gap.py [--ours short40_labs] [--peer peer23]

Prints one JSON line and saves benchmarks/results/generalisation_vs_peer.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics

from result_file import RESULTS, publish

from leukodet.eval.paired import t_quantile_975

FIGURES = ("wbc_ap50", "wbc_ap50_95", "map50_95")


def welch_difference(a: list[float], b: list[float]) -> dict[str, float | None]:
    """Mean of ``a`` minus mean of ``b`` with a Welch 95 % t interval (df rounded down, at least 1; ``None`` when
    neither side varies)."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    diff = statistics.fmean(a) - statistics.fmean(b)
    if se == 0:
        return {"diff": round(diff, 4), "lo": round(diff, 4), "hi": round(diff, 4), "df": None}
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_quantile_975(max(1, math.floor(df))) * se
    return {
        "diff": round(diff, 4),
        "lo": round(diff - half, 4),
        "hi": round(diff + half, 4),
        "df": round(df, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ours", default="short40_labs")
    p.add_argument("--peer", default="peer23")
    args = p.parse_args()
    ours, peer = (
        json.loads((RESULTS / f"generalisation_{t}.json").read_text()) for t in (args.ours, args.peer)
    )
    sets: dict[str, dict[str, dict[str, float | None]]] = {}
    for name in ours["sets"]:
        sets[name] = {}
        for key in FIGURES:
            a = [r["sets"][name][key] for r in ours["seeds"] if r["sets"][name].get(key) is not None]
            b = [r["sets"][name][key] for r in peer["seeds"] if r["sets"][name].get(key) is not None]
            if len(a) >= 2 and len(b) >= 2:
                sets[name][key] = welch_difference(a, b)
    publish("generalisation_vs_peer", {"benchmark": "generalisation_vs_peer", "ours": args.ours,
                                       "peer": args.peer, "interval": "Welch 95 %", "sets": sets})  # fmt: skip


if __name__ == "__main__":
    main()
