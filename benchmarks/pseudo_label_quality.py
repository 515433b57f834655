"""Benchmark (issue #22): how right are SLA-Det's pseudo-labels? Measured against the labels the sparse split hid.

On a sparsified set whose full labels are known (``sparse_protocol.py``'s synthetic fields: ``DATA/sparse`` and
``DATA/full``), every training field is predicted by each checkpoint (eval mode, letterboxed: what phase 2 of the
two-phase protocol, which has no augmentation, trains on). The labelled-region detections feed the calibrated
confidence (:class:`~leukodet.losses.pl_confidence.PrecisionCalibrator`) as training does; then Eq. 6's filter
(:func:`~leukodet.losses.sparse.select_pseudo_labels`) picks the pseudo-labels outside the regions, with the
paper's confidence (t2 = 0.26) and with the calibrated bundle (calibrated confidence, no entropy filter), and each
is matched to the hidden labels (same class, IoU ≥ 0.5, greedy, most confident first). Per checkpoint and
confidence: how many pseudo-labels, their precision overall and per predicted class beside the precision the
calibration promised them (its mean value; the calibration measures precision inside the labelled regions),
the pseudo-labels of the wrong class or on no cell, and the share of the hidden cells they recover.

    .venv/bin/python benchmarks/pseudo_label_quality.py --weights A.pt [B.pt ...] --data runs/sp22/data
        [--imgsz 256] [--name NAME]

Prints one JSON line and saves benchmarks/results/<NAME>.json (default ``pseudo_label_quality``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

import torch
from result_file import publish

from leukodet.config import SparseConfig
from leukodet.data.dataset import DetectionDataset
from leukodet.data.sample import Batch, collate
from leukodet.engine.run_data import DataBundle, box_sizes, load_data
from leukodet.infer.predictor import Detector
from leukodet.losses.pl_confidence import PrecisionCalibrator, greedy_hits
from leukodet.losses.sladet import area_min_of
from leukodet.losses.sparse import select_pseudo_labels
from leukodet.model.decode import decode_boxes

SETTINGS = {"paper": {"calibrated": False, "t2": 0.26}, "calibrated": {"calibrated": True, "t2": 99.0}}
"""The two pseudo-label definitions compared: Eq. 6 as printed, and the calibrated bundle (its t2 = 99)."""


def paired_batches(sparse: DataBundle, full: DataBundle, imgsz: int, size: int = 16):
    """Letterboxed training batches of the sparse split beside the same fields with every label."""
    by_name = {r.path.name: r for r in full.train}
    full_records = [by_name[r.path.name] for r in sparse.train]
    ds_sparse, ds_full = (
        DetectionDataset(recs, len(bundle.classes), bundle.schema, imgsz)
        for bundle, recs in ((sparse, sparse.train), (full, full_records))
    )
    for start in range(0, len(ds_sparse), size):
        idx = range(start, min(start + size, len(ds_sparse)))
        yield collate([ds_sparse.letterboxed(i) for i in idx]), collate([ds_full.letterboxed(i) for i in idx])


def score(pseudo: torch.Tensor, conf: torch.Tensor, full: Batch, sparse: Batch, counts: dict) -> None:
    """Match one batch's pseudo-labels to the hidden labels (the full labels not in the sparse split)."""
    for b in range(len(full.images)):
        mask = pseudo[:, 0] == b
        mine = pseudo[mask][conf[mask].argsort(descending=True)]  # greedy matching takes the surest first
        gt = full.targets[full.targets[:, 0] == b]
        hit = greedy_hits(mine[:, 2:6], mine[:, 1].long(), gt[:, 2:6], gt[:, 1].long(), 0.5)
        any_class = greedy_hits(
            mine[:, 2:6], torch.zeros(len(mine)).long(), gt[:, 2:6], torch.zeros(len(gt)).long(), 0.5
        )
        for c, h, a in zip(mine[:, 1].long().tolist(), hit.tolist(), any_class.tolist()):
            counts["n"][c] += 1
            counts["right"][c] += h
            counts["wrong_class"][c] += a and not h
        counts["hidden"] += len(gt) - int((sparse.targets[:, 0] == b).sum())
    counts["claimed"].extend(conf.tolist())


def quality(weights: Path, sparse: DataBundle, full: DataBundle, imgsz: int) -> dict:
    """Every figure of the module docstring for one checkpoint."""
    model = Detector.load(weights, "cpu").model
    cfg = SparseConfig()
    area = area_min_of(box_sizes(sparse.train, imgsz))
    calibrator = PrecisionCalibrator(cfg.calib_window)
    outputs = []
    with torch.no_grad():
        for b_sparse, b_full in paired_batches(sparse, full, imgsz):
            decoded = decode_boxes(model(b_sparse.images, None)).detach()
            calibrator.update(decoded, b_sparse.regions, b_sparse.targets)
            outputs.append((decoded, b_sparse, b_full))
    result = {"weights": str(weights)}
    for name, s in SETTINGS.items():
        counts = {"n": Counter(), "right": Counter(), "wrong_class": Counter(), "hidden": 0, "claimed": []}
        for decoded, b_sparse, b_full in outputs:
            found = select_pseudo_labels(
                decoded, b_sparse.regions, b_sparse.targets, area, cfg.t0, cfg.t1, s["t2"], cfg.nms_iou,
                cfg.gt_overlap_px, calibrator if s["calibrated"] else None,
            )  # fmt: skip
            score(found.targets, found.scores, b_full, b_sparse, counts)
        n, right = sum(counts["n"].values()), sum(counts["right"].values())
        result[name] = {
            "pseudo_labels": n,
            "precision": round(right / n, 4) if n else None,
            "promised": round(statistics.mean(counts["claimed"]), 4) if n else None,
            "wrong_class": sum(counts["wrong_class"].values()),
            "no_cell": n - right - sum(counts["wrong_class"].values()),
            "hidden_cells": counts["hidden"],
            "recovered_share": round(right / counts["hidden"], 4) if counts["hidden"] else None,
            "per_class": {
                sparse.classes[c]: {"n": k, "precision": round(counts["right"][c] / k, 4)}
                for c, k in sorted(counts["n"].items())
            },
        }
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", nargs="+", required=True)
    p.add_argument("--data", required=True, help="folder holding sparse/data.yaml and full/data.yaml")
    p.add_argument("--imgsz", type=int, default=256)
    p.add_argument("--name", default="pseudo_label_quality")
    args = p.parse_args()
    data = Path(args.data)
    sparse, full = load_data(str(data / "sparse" / "data.yaml")), load_data(str(data / "full" / "data.yaml"))
    runs = [quality(Path(w), sparse, full, args.imgsz) for w in args.weights]
    publish(args.name, {"benchmark": "pseudo_label_quality", "data": str(data), "imgsz": args.imgsz,
                        "fields": len(sparse.train), "settings": SETTINGS, "runs": runs})  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
