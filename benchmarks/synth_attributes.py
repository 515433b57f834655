"""Benchmark: does the AttriHead help detection? ``n`` on synthetic 14-class LLD fields, with and without it.

Same data (200 synthetic HCM_100x_C2 fields, 7 binary attributes), same budget per run, three seeds per arm;
every run is scored with its ``last.pt`` on the synthetic test split (best.pt is chosen by different criteria
in the two arms, so it is not used). Reports detection mAP50 / mAP50-95 per run and their mean and standard
deviation per arm, and the per-attribute F1 (positive = the attribute's second value, as the paper) of the
head runs. Finished runs are reused when the script is run again.

    .venv/bin/python benchmarks/synth_attributes.py [--minutes 8] [--seeds 0,1,2] [--work /tmp/leukodet-synth-attr]

Prints one JSON line and saves benchmarks/results/synth_attributes.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch
from result_file import publish

from leukodet import api


def _run(data: Path, out: Path, minutes: float, seed: int, head: bool) -> dict:
    if not (out / "weights" / "last.pt").exists():
        overrides = ["train.plots=false"] + ([] if head else ["train.attributes=false"])
        api.train(
            data, model="n", epochs=1000, imgsz=320, batch=16, out=out, time=minutes, seed=seed,
            overrides=overrides, progress=False,
        )  # fmt: skip
    m = api.val(out / "weights" / "last.pt", data, split="test")
    row = {"seed": seed, "map50": round(m["map50"], 4), "map50_95": round(m["map50_95"], 4)}
    if head:
        row["attribute_f1"] = {k: v["f1"] for k, v in m["attributes"].items()}
        row["attribute_accuracy_mean"] = m["attributes_mean"]["accuracy"]
    return row


def _stats(rows: list[dict], key: str) -> dict:
    vals = [r[key] for r in rows]
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return {"mean": round(statistics.mean(vals), 4), "sd": round(sd, 4)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--work", default="/tmp/leukodet-synth-attr")
    args = p.parse_args()
    torch.set_num_threads(2)
    work, seeds = Path(args.work), [int(s) for s in args.seeds.split(",")]
    data = work / "data" / "data.yaml"
    if not data.exists():
        data = api.synth(work / "data", images=args.images, seed=0, progress=False)
    arms = {"with_head": True, "without_head": False}
    runs = {
        arm: [_run(data, work / f"{arm}_{s}", args.minutes, s, h) for s in seeds] for arm, h in arms.items()
    }
    f1 = {
        name: round(statistics.mean(r["attribute_f1"][name] or 0.0 for r in runs["with_head"]), 4)
        for name in runs["with_head"][0]["attribute_f1"]
    }
    result = {
        "benchmark": "synth_attributes",
        "minutes_per_run": args.minutes,
        "fields": args.images,
        "imgsz": 320,
        "runs": runs,
        "map50": {arm: _stats(rows, "map50") for arm, rows in runs.items()},
        "map50_95": {arm: _stats(rows, "map50_95") for arm, rows in runs.items()},
        "attribute_f1_mean_over_seeds": f1,
    }
    publish("synth_attributes", result)


if __name__ == "__main__":
    sys.exit(main())
