"""Benchmark (issue #21): which pyramid levels the yardstick's cells land on, and what a stride-4 level would add.

A box is trained on a level when one of that level's anchors is within the assignment ratio (``loss.anchor_t``,
4.0: every side within 4x of the anchor's). This reads the anchors a BCCD run trains with (the defaults after the
training set's anchor check, as ``leukodet train`` does it, at ``--imgsz``) and, per development set of the
yardstick (:mod:`generalisation`), reports for the white cells and for every box: their sizes at the input, the
share each level P3/P4/P5 can take, the best possible recall (BPR: some level takes it), and how much recall a
stride-4 level P2 with half P3's anchors would add. A P2 level costs 4x P3's grid; it pays only when boxes no
level takes exist.

    .venv/bin/python benchmarks/pyramid_levels.py [--work runs/generalisation] [--imgsz 416]

Prints one JSON line and saves benchmarks/results/pyramid_levels.json. Needs no training (seconds).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from generalisation import DOMAINS, development_sets
from result_file import publish

from leukodet.config import LossConfig
from leukodet.engine.run_data import box_size_groups, box_sizes, white_cell_boxes
from leukodet.model.anchors import best_possible_recall, check_anchors
from leukodet.model.config import DEFAULT_ANCHORS
from leukodet.records.sources import load_source

LEVELS = ("P3", "P4", "P5")


def level_shares(wh: np.ndarray, anchors: np.ndarray, thr: float) -> dict[str, Any]:
    """Sizes of ``wh`` (longest side: 1st/50th/99th percentile px), the share each level's anchors can take,
    the BPR over the three levels, and the recall a P2 level (P3's anchors halved) would add to it."""
    if not len(wh):
        return {"n": 0}
    side = wh.max(1)
    p1, p50, p99 = np.percentile(side, [1, 50, 99])
    out: dict[str, Any] = {"n": len(wh), "p1_px": round(float(p1), 1), "median_px": round(float(p50), 1),
                           "p99_px": round(float(p99), 1)}  # fmt: skip
    for name, level in zip(LEVELS, anchors, strict=True):
        out[name] = round(best_possible_recall(wh, level, thr), 4)
    bpr = best_possible_recall(wh, anchors, thr)
    with_p2 = best_possible_recall(wh, np.concatenate([anchors[:1] / 2, anchors]), thr)
    out.update(bpr=round(bpr, 4), p2_adds=round(with_p2 - bpr, 4))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", type=Path, default=Path("runs/generalisation"))
    p.add_argument("--imgsz", type=int, default=416)
    args = p.parse_args()
    thr = LossConfig().anchor_t
    source, sets = development_sets(args.work, DOMAINS)
    ds, _ = load_source(source)
    train = box_size_groups(ds.split("train"), args.imgsz)
    anchors, bpr, changed = check_anchors(train, np.array(DEFAULT_ANCHORS), thr, seed=0)
    result: dict[str, Any] = {
        "benchmark": "pyramid_levels",
        "imgsz": args.imgsz,
        "anchor_t": thr,
        "anchors": np.round(anchors, 1).tolist(),
        "anchors_refitted": bool(changed),
        "bccd_train_bpr": round(bpr, 4),
        "sets": {},
    }
    for name, (data, split) in sets.items():
        d, _ = load_source(data)
        records = d.split(split)
        result["sets"][name] = {
            "wbc": level_shares(white_cell_boxes(records, d.classes, args.imgsz, d.roles), anchors, thr),
            "all": level_shares(box_sizes(records, args.imgsz), anchors, thr),
        }
    publish("pyramid_levels", result)


if __name__ == "__main__":
    main()
