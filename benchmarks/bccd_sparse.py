"""Benchmark: SLA-Det and its baselines on BCCD sparsified to one 1/5-area labelled region per training field.

BCCD's official splits; the training split is sparsified with ``leukodet sparsify --fraction 0.2 --seed 0`` (val
and test keep their full labels). ``leukodet ablate`` trains each method for the same wall-clock budget (default
8 CPU minutes, ``n`` preset, imgsz 416, batch 16) and scores best.pt (chosen on val) on the full-label test split:
mAP50, mAP50-95, per-class AP50 and the operating point at conf 0.25. Full-label training on the unsparsified
split is the upper reference. The runs are resumable (``--work``): a second call only adds what is missing, so
the seeds can be spread over several sessions.

    .venv/bin/python benchmarks/bccd_sparse.py [--minutes 8] [--plan PLAN] [--work DIR]
    .venv/bin/python benchmarks/bccd_sparse.py --dataset synth     # 200 synthetic 14-class LLD fields, imgsz 320

With ``--dataset synth`` the same comparison runs on 200 synthetic HCM_100x_C2 fields (14 LLD classes, small
WBCs, several per field; train split sparsified the same way) at imgsz 320, saved as synth_sparse.json.

PLAN (default: the issue's) is ``methods:seeds`` groups joined by ``;``; ``full`` is full-label training. The
runs go seed by seed, so an interrupted benchmark has one seed of every method first.

Prints one JSON line and saves benchmarks/results/bccd_sparse.json, with the goals of the issue: the share of
the naive → full gap closed by ``sladet`` in mAP50-95 and in recall, and its precision minus full-label
precision.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
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
    p.add_argument("--plan", default="naive,sladet,full:0,1,2;region,region+pl,crop,sladet-fixed:0")
    p.add_argument("--dataset", choices=["bccd", "synth"], default="bccd")
    p.add_argument("--work", default=None, help="default: /tmp/leukodet-<dataset>-sparse")
    args = p.parse_args()
    work = Path(args.work or f"/tmp/leukodet-{args.dataset}-sparse")
    imgsz = 416 if args.dataset == "bccd" else 320
    full = work / "full" / "data.yaml"
    if not full.exists() and args.dataset == "bccd":
        api.convert(BCCD, work / "full", "yolo", overwrite=True)
    elif not full.exists():
        api.synth(work / "full", images=200, seed=0, overwrite=True)
    sparse = work / "sparse" / "data.yaml"
    if not sparse.exists():
        api.sparsify(full, work / "sparse", fraction=0.2, seed=0)
    plan: dict[int, list[str]] = {}
    for group in args.plan.split(";"):
        names, seeds = group.split(":")
        for seed in seeds.split(","):
            plan.setdefault(int(seed), []).extend(names.split(","))
    for seed in sorted(plan):
        methods = [m for m in plan[seed] if m != "full"]
        doc = api.ablate(
            sparse, work / "ablation", full_data=full if "full" in plan[seed] else None, time=args.minutes,
            model="n", imgsz=imgsz, batch=16, seeds=[seed], methods=methods,
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
        "hinge_seed0": {  # Eq. 11: the paper-literal sign (the default) vs the corrected one, same seed
            sign: {k: r[k] for k in ("map50", "map50_95")} | {"recall": r["operating_point"]["recall"]}
            for sign, method in (("paper", "sladet"), ("fixed", "sladet-fixed"))
            for r in doc["runs"]
            if r["method"] == method and r["seed"] == 0
        },
    }
    publish(
        f"{args.dataset}_sparse",
        {
            "benchmark": f"{args.dataset}_sparse",
            "imgsz": imgsz,
            "minutes": args.minutes,
            "cpu_cores": len(os.sched_getaffinity(0)),
            "torch_threads": torch.get_num_threads(),
            "summary": s,
            "goals": goals,
            "runs": doc["runs"],
        },
    )


if __name__ == "__main__":
    sys.exit(main())
