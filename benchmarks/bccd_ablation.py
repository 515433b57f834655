"""Ablation on BCCD: leukodet ``n`` with config overrides vs a baseline run, judged on BCCD *val* and on BCDD.

Choices are tuned on validation data only (BCCD val) and checked for transfer to another lab (BCDD); the BCCD
test split stays for the final figure (benchmarks/bccd_peer.py).

    .venv/bin/python benchmarks/bccd_ablation.py --name hsv --set augment.hsv_h=0.05 \
        --baseline /tmp/leukodet-bccd-peer/leukodet/weights/best.pt [--minutes 15]

Prints one JSON line and saves it to benchmarks/results/bccd_ablation_<name>.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from bccd_peer import SHARED, _leukodet_preds, _score, train_once
from result_file import publish

from leukodet.infer.predictor import Detector


def scores(weights: Path, data: Path) -> dict:
    det = Detector.load(weights)
    val_imgs = sorted((data.parent / "images" / "val").iterdir())
    bcdd_imgs = sorted((SHARED / "bcdd" / "images").iterdir())
    val = _score(data, "val", _leukodet_preds(det, val_imgs))
    bcdd = _score(SHARED / "bcdd", "all", _leukodet_preds(det, bcdd_imgs))
    keys = ("map50", "map50_95", "wbc_ap50", "wbc_ap50_95")
    return {"bccd_val": {k: round(val[k], 4) for k in keys}, "bcdd": {k: round(bcdd[k], 4) for k in keys}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--baseline", required=True, help="best.pt of the baseline run (same data, same budget)")
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--work", default="/tmp/leukodet-bccd-peer")
    args = p.parse_args()
    torch.set_num_threads(2)
    data = Path(args.work) / "bccd" / "data.yaml"
    run = Path(args.work) / f"ablation_{args.name}"
    train_once(data, run, args.minutes, args.overrides)
    result = {
        "benchmark": f"bccd_ablation_{args.name}",
        "overrides": args.overrides,
        "minutes": args.minutes,
        "baseline": scores(Path(args.baseline), data),
        "variant": scores(run / "weights" / "best.pt", data),
    }
    publish(f"bccd_ablation_{args.name}", result)


if __name__ == "__main__":
    main()
