"""Benchmark: convergence from scratch against from the bundled ``synth-n``, same budgets, BCCD (issue #17).

leukodet ``n`` trains on the official BCCD train split (val split for model selection) for 3, 8 and 15 minutes of
wall-clock, imgsz 416, batch 16, seed 0, once from random weights and once fine-tuned from ``synth-n`` (the
fine-tune LR scaling applies; synth-n's 16 classes map to BCCD's by name, so only the new rows start fresh). Each
best.pt is scored on the BCCD *test* split and on BCDD (another lab, never trained on), by leukodet's evaluator
(conf 0.001, IoU 0.6, max 300). Run it on a quiet machine.

    .venv/bin/python benchmarks/convergence.py [--minutes 3,8,15] [--start scratch,synth-n] [--work DIR]
        [--reference benchmarks/results/bccd_peer.json]

The scratch 15-minute run is the same call as ``bccd_peer.py``'s leukodet run; with the same ``--work`` folder
an existing one is reused (said in the JSON). ``--reference`` takes that run's figures from ``bccd_peer.json``
instead of training it again (said in the JSON, ``"from": "bccd_peer.json"``). Prints one JSON line, saves
benchmarks/results/convergence_bccd.json.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch
from bccd_peer import SHARED, _leukodet_preds, _score, train_once
from result_file import publish

from leukodet import api
from leukodet.infer.predictor import Detector


def measure(data: Path, run: Path, minutes: float, model: str, overrides: list[str] | None = None) -> dict:
    reused = (run / "weights" / "last.pt").exists()
    train_once(data, run, minutes, overrides=overrides, model=model)
    rows = list(csv.DictReader(open(run / "results.csv")))
    det = Detector.load(run / "weights" / "best.pt")
    test = _score(data, "test", _leukodet_preds(det, sorted((data.parent / "images" / "test").iterdir())))
    bcdd = _score(
        SHARED / "bcdd", "all", _leukodet_preds(det, sorted((SHARED / "bcdd" / "images").iterdir()))
    )
    return {
        "minutes": minutes,
        "epochs": len(rows),
        "train_seconds": round(sum(float(r["seconds"]) for r in rows), 1),
        "bccd_test_map50": round(test["map50"], 4),
        "bccd_test_map50_95": round(test["map50_95"], 4),
        "bccd_test_wbc_ap50": round(test["wbc_ap50"], 4),
        "bcdd_wbc_ap50": round(bcdd["wbc_ap50"], 4),
        "bcdd_map50": round(bcdd["map50"], 4),
        "run": str(run),
        "reused_existing_run": reused,
    }


def reference(path: Path) -> dict:
    """The scratch 15-minute figures of ``bccd_peer.py``'s leukodet run (the same training call)."""
    import json

    ours = json.loads(path.read_text())["leukodet"]
    test, bcdd = ours["bccd_test"], ours["bcdd"]
    return {
        "minutes": 15.0,
        "epochs": ours["epochs"],
        "train_seconds": round(ours["epochs"] * ours["seconds_per_epoch"], 1),
        "bccd_test_map50": round(test["map50"], 4),
        "bccd_test_map50_95": round(test["map50_95"], 4),
        "bccd_test_wbc_ap50": round(test["wbc_ap50"], 4),
        "bcdd_wbc_ap50": round(bcdd["wbc_ap50"], 4),
        "bcdd_map50": round(bcdd["map50"], 4),
        "from": path.name,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", default="3,8,15")
    p.add_argument("--start", default="scratch,synth-n", help="scratch and/or bundled model names")
    p.add_argument("--work", default="/tmp/leukodet-bccd-peer")
    p.add_argument(
        "--reference", type=Path, default=None, help="bccd_peer.json: its leukodet run is scratch-15"
    )
    p.add_argument(
        "--finetune-lr", type=float, default=None, help="train.finetune_lr of runs from a checkpoint"
    )
    p.add_argument("--name", default="convergence_bccd", help="result file name under benchmarks/results/")
    args = p.parse_args()
    torch.set_num_threads(2)
    work = Path(args.work)
    data = work / "bccd" / "data.yaml"
    if not data.exists():
        api.convert(SHARED / "bccd" / "BCCD", work / "bccd", "yolo", overwrite=True)
    result: dict = {"benchmark": "convergence_bccd", "imgsz": 416, "batch": 16, "seed": 0, "model": "n"}
    tuned = [] if args.finetune_lr is None else [f"train.finetune_lr={args.finetune_lr}"]
    result["finetune_lr"] = args.finetune_lr if args.finetune_lr is not None else "default (0.1)"
    for start in args.start.split(","):
        for minutes in (float(m) for m in args.minutes.split(",")):
            if (start, minutes) == ("scratch", 15.0) and args.reference is not None:
                result.setdefault(start, []).append(reference(args.reference))
                continue
            name = "leukodet" if (start, minutes) == ("scratch", 15.0) else f"conv-{start}-{minutes:g}"
            model = "n" if start == "scratch" else start
            extra = [] if start == "scratch" else tuned
            if extra:
                name += f"-lr{args.finetune_lr:g}"
            result.setdefault(start, []).append(measure(data, work / name, minutes, model, extra or None))
    if args.reference is not None and not any(r.get("from") for r in result.get("scratch", [])):
        result.setdefault("scratch", []).append(reference(args.reference))  # the 15-minute target
    publish(args.name, result)


if __name__ == "__main__":
    main()
