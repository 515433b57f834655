"""Benchmark: ConfMix unsupervised domain adaptation against source-only training (paper Table 6 setting).

Two settings (``--setting``):

* ``synth``: synthetic LLD fields, source HCM_100x_C2, target LCM_100x_C2 (the paper's pair), 200 fields
  each (80/10/10 splits), imgsz 320. Valid only if source-only on the target test split scores at least 10
  mAP50 points below source-only on the source test split (the JSON says ``gap_valid``).
* ``bccd``: source BCCD (official splits), target BCDD (another lab; its images unlabelled during adaptation,
  its labels used only to score), imgsz 416.

Runs, all ``n`` preset, batch 16, seed 0: ``source`` = source-only from scratch for ``--minutes``; then, from
its best.pt, ``--finetune`` more minutes either source-only again (``source+ft``: the same extra compute
without the target) or with ``--adapt confmix`` (``confmix``). Each is scored on the source and the target
test data (mAP50, mAP50-95). Runs already finished in ``--work`` are reused.

    .venv/bin/python benchmarks/adapt_confmix.py --setting synth [--minutes 8] [--finetune 4]
    .venv/bin/python benchmarks/adapt_confmix.py --setting bccd

Prints one JSON line and saves benchmarks/results/adapt_confmix_<setting>.json, beside the paper's Table 6
(YOLOv5x source-only 25.5 mAP50 → ConfMix 33.5 on HCM_100x_C2 → LCM_100x_C2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from result_file import publish

from leukodet import api

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PAPER = {"source_only_map50": 25.5, "confmix_map50": 33.5, "daca_map50": 30.2}


def _data(setting: str, work: Path) -> tuple[Path, Path, Path, str, int]:
    """(source data, target data for adaptation, target data to score, target split, imgsz)."""
    if setting == "synth":
        src, tgt = work / "hcm" / "data.yaml", work / "lcm" / "data.yaml"
        if not src.exists():
            api.synth(work / "hcm", images=200, seed=0, domain="HCM_100x_C2", overwrite=True)
        if not tgt.exists():
            api.synth(work / "lcm", images=200, seed=1, domain="LCM_100x_C2", overwrite=True)
        return src, tgt, tgt, "test", 320
    src = work / "bccd" / "data.yaml"
    if not src.exists():
        api.convert(SHARED / "bccd" / "BCCD", work / "bccd", "yolo", overwrite=True)
    tgt = work / "bcdd" / "data.yaml"
    if not tgt.exists():
        api.convert(SHARED / "bcdd", work / "bcdd", "yolo", overwrite=True)
    return src, tgt, tgt, "all", 416


def _train(data: Path, out: Path, minutes: float, imgsz: int, model: str, overrides: list[str]) -> Path:
    best = out / "weights" / "best.pt"
    if not best.exists():
        api.train(data, model=model, epochs=1000, imgsz=imgsz, batch=16, out=out, time=minutes, seed=0,
                  overrides=["train.plots=false", "train.attributes=false", *overrides], progress=False)  # fmt: skip
    return best


def _score(weights: Path, source: Path, target: Path, target_split: str) -> dict:
    s = api.val(weights, source, split="test")
    t = api.val(weights, target, split=target_split)
    return {
        "source_map50": s["map50"],
        "source_map50_95": s["map50_95"],
        "target_map50": t["map50"],
        "target_map50_95": t["map50_95"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", choices=["synth", "bccd"], required=True)
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--finetune", type=float, default=4.0)
    p.add_argument("--work", default=None, help="default: /tmp/leukodet-adapt-<setting>")
    args = p.parse_args()
    work = Path(args.work or f"/tmp/leukodet-adapt-{args.setting}")
    source, target, scored, split, imgsz = _data(args.setting, work)
    base = _train(source, work / "runs" / "source", args.minutes, imgsz, "n", [])
    plain = _train(source, work / "runs" / "source_ft", args.finetune, imgsz, str(base), [])
    adapt = ["adapt.method=confmix", f"adapt.target_data={target}"]
    mixed = _train(source, work / "runs" / "confmix", args.finetune, imgsz, str(base), adapt)
    runs = {name: _score(w, source, scored, split) for name, w in
            (("source", base), ("source+ft", plain), ("confmix", mixed))}  # fmt: skip
    gap = runs["source"]["source_map50"] - runs["source"]["target_map50"]
    publish(
        f"adapt_confmix_{args.setting}",
        {
            "benchmark": f"adapt_confmix_{args.setting}",
            "minutes": args.minutes,
            "finetune_minutes": args.finetune,
            "imgsz": imgsz,
            "runs": runs,
            "domain_gap_map50": round(gap, 4),
            "gap_valid": gap >= 0.10 if args.setting == "synth" else None,
            "confmix_minus_source_ft_target_map50": round(
                runs["confmix"]["target_map50"] - runs["source+ft"]["target_map50"], 4
            ),
            "paper_table6": PAPER,
        },
    )


if __name__ == "__main__":
    sys.exit(main())
