"""Benchmark: SLA-Det and its baselines on BCCD sparsified to one 1/5-area labelled region per training field.

BCCD's official splits; the training split is sparsified with ``leukodet sparsify --fraction 0.2 --seed 0`` (val
and test keep their full labels). ``leukodet ablate`` trains each method for the same wall-clock budget (default
8 CPU minutes, ``n`` preset, imgsz 416, batch 16) and scores best.pt (chosen on val) on the full-label test split:
mAP50, mAP50-95, per-class AP50 and the operating point at conf 0.25. Full-label training on the unsparsified
split is the upper reference. The runs are resumable (``--work``): a second call only adds what is missing, so
the seeds can be spread over several sessions.

    .venv/bin/python benchmarks/bccd_sparse.py [--minutes 8] [--seeds 0] [--methods naive,sladet] [--work DIR]

Prints one JSON line and saves benchmarks/results/bccd_sparse.json, with the goals of the issue: the share of
the naive → full gap closed by ``sladet`` in mAP50-95 and in recall, and its precision minus full-label
precision.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from result_file import publish

from leukodet import api

ROOT = Path(__file__).resolve().parents[1]
BCCD = ROOT.parent / "shared" / "data" / "bccd" / "BCCD"


def _gap_closed(summary: dict, key: str) -> float | None:
    """(sladet − naive) / (full − naive) of a figure's seed means; None when a method is missing."""
    try:
        naive, sla, full = (summary[m][key]["mean"] for m in ("naive", "sladet", "full"))
    except KeyError:
        return None
    return round((sla - naive) / (full - naive), 3) if full != naive else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--seeds", default="0")
    p.add_argument("--methods", default="naive,sladet,region,region+pl")
    p.add_argument("--work", default="/tmp/leukodet-bccd-sparse")
    args = p.parse_args()
    work = Path(args.work)
    full = work / "full" / "data.yaml"
    if not full.exists():
        api.convert(BCCD, work / "full", "yolo", overwrite=True)
    sparse = work / "sparse" / "data.yaml"
    if not sparse.exists():
        api.sparsify(full, work / "sparse", fraction=0.2, seed=0)
    doc = api.ablate(
        sparse, work / "ablation", full_data=full, time=args.minutes, model="n", imgsz=416, batch=16,
        seeds=[int(s) for s in args.seeds.split(",")], methods=args.methods.split(","),
    )  # fmt: skip
    s = doc["summary"]
    goals = {
        "map50_95_gap_closed": _gap_closed(s, "map50_95"),
        "recall_gap_closed": _gap_closed(s, "recall"),
        "precision_minus_full": (
            round(s["sladet"]["precision"]["mean"] - s["full"]["precision"]["mean"], 4)
            if "sladet" in s and "full" in s
            else None
        ),
        "targets": {"gap_closed": ">= 0.8", "precision_minus_full": ">= -0.05"},
    }
    publish(
        "bccd_sparse",
        {
            "benchmark": "bccd_sparse",
            "minutes": args.minutes,
            "summary": s,
            "goals": goals,
            "runs": doc["runs"],
        },
    )


if __name__ == "__main__":
    sys.exit(main())
