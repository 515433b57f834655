"""Benchmark (issue #23): the crop path for attributes on WBCAtt, beside the AttriHead's figure, with latency.

Trains ``leukodet train-crops`` on WBCAtt's train split (1,601 cells; 11 attributes, 5 types) for a fixed epoch
count per seed, each of ``--paths``: ``crop`` (type from the image) and ``cbm`` (the concept-bottleneck model:
type from the predicted attributes only), and scores best.pt on the val split (400 cells; the split best.pt is
chosen on, as the AttriHead benchmark ``wbcatt_attributes.py`` does). Reported per path: mean attribute accuracy
and macro-F1, per attribute, type accuracy and macro-F1, seconds; beside the AttriHead's stored figure and the
WBCAtt paper's ResNet-50 (ImageNet-pretrained, on ground-truth crops: 0.9409 / 0.9127).

Latency (``--latency``): one 640² field with 12 cells at 2 threads, batch 1: the ``n`` detector with its
AttriHead (11 WBCAtt attributes) vs the detector without head plus the crop classifier on the kept boxes
(untrained weights: latency does not depend on them). Run on a quiet machine.

    .venv/bin/python benchmarks/attribute_paths.py [--paths crop,cbm] [--seeds 0] [--epochs 30]
        [--arch resnet18] [--size 96] [--work DIR] [--latency] [--views 1,2,4,8] [--name NAME]

``--views`` also scores every run's best.pt with that many test-time views averaged (the crop as cut, its
mirror, its half turn, ..., ``train-crops --views``): an inference switch, the same weights.

Prints one JSON line and saves benchmarks/results/<--name, default attribute_paths>.json (runs already in
``--work`` are reused: a finished one is only scored again).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from result_file import RESULTS, publish

from leukodet import api
from leukodet.data.crops import crop_set
from leukodet.engine.crop_train import evaluate_crops
from leukodet.engine.run_data import load_data
from leukodet.infer.config import InferConfig
from leukodet.infer.predictor import Detector
from leukodet.model.crop_classifier import CropClassifier, CropConfig, load_crop_classifier
from leukodet.model.registry import create_model
from leukodet.records.sources import load_source

ROOT = Path(__file__).resolve().parents[1]
WBCATT = ROOT.parent / "shared" / "data" / "wbcatt"
RESNET50 = {"mean_accuracy": 0.9409, "mean_macro_f1": 0.9127}
TYPE_FROM = {"crop": "image", "cbm": "attributes"}


def train_path(path: str, seed: int, args: argparse.Namespace, work: Path) -> dict:
    """One trained (or reused) run of a path and its val figures."""
    out = work / f"{path}_s{seed}"
    crop = {"arch": args.arch, "size": args.size, "type_from": TYPE_FROM[path]}
    result = api.train_crops(
        WBCATT, out, crop=crop, epochs=args.epochs, seed=seed, resume=True
    )  # reuses a run
    val = result["val"]
    return {"path": path, "seed": seed, "epochs": result["epochs"], "best_epoch": result["best_epoch"],
            "seconds": result["seconds"], "accuracy": val["accuracy"], "macro_f1": val["macro_f1"],
            "type_accuracy": val.get("type_accuracy"), "type_macro_f1": val.get("type_macro_f1"),
            "attributes": {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]}
                           for k, v in val["attributes"].items()}}  # fmt: skip


def views_effect(out: Path, views: list[int]) -> dict:
    """best.pt of a finished run scored on the val split with each number of test-time views (mirrors and
    turns averaged, ``CropConfig.views``): no retraining, the same weights."""
    bundle = load_data(str(WBCATT))
    model = load_crop_classifier(out / "best.pt")
    cfg = model.config
    crops = crop_set(bundle.val, list(cfg.attributes), cfg.size, cfg.context, cfg.imgsz)
    scores = {}
    for n in views:
        m = evaluate_crops(load_crop_classifier(out / "best.pt", views=n), crops)
        scores[str(n)] = {k: round(m[k], 4) for k in ("accuracy", "macro_f1", "type_accuracy", "type_macro_f1")
                          if m.get(k) is not None}  # fmt: skip
    return scores


def latency(args: argparse.Namespace) -> dict:
    """Seconds per field (median of 20) of each path at 2 threads, batch 1, on one 640² field with 12 cells."""
    torch.set_num_threads(2)
    ds, _ = load_source(WBCATT)
    schema = ds.attributes.to_mapping()
    image = np.random.default_rng(0).integers(0, 255, (640, 640, 3), dtype=np.uint8)
    cfg = InferConfig(conf=0.0, max_det=12, imgsz=640)
    out = {}
    for path in ("head", "crop"):
        torch.manual_seed(0)
        sizes = tuple(len(v) for v in schema.values()) if path == "head" else ()
        model = create_model("n", len(ds.classes), attribute_sizes=sizes)
        det = Detector.of_network(model, ds.classes, 640, schema if path == "head" else None)
        if path == "crop":
            det.use_crops(CropClassifier(CropConfig(arch=args.arch, size=args.size, classes=list(ds.classes),
                                                    attributes=schema, imgsz=640)))  # fmt: skip
        times = []
        for _ in range(22):
            start = time.perf_counter()
            pred = det.predict([image], cfg=cfg)[0]
            times.append(time.perf_counter() - start)
        out[path] = {"seconds_per_field": round(statistics.median(times[2:]), 4), "cells": len(pred)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paths", default="crop,cbm")
    p.add_argument("--seeds", default="0")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--work", default="/tmp/leukodet-attribute-paths")
    p.add_argument("--latency", action="store_true")
    p.add_argument(
        "--views", default=None, help="also score each run with these test-time views, e.g. 1,2,4,8"
    )
    p.add_argument("--name", default="attribute_paths", help="results file name")
    args = p.parse_args()
    runs = [train_path(path, int(s), args, Path(args.work)) for s in args.seeds.split(",")
            for path in args.paths.split(",")]  # fmt: skip
    if args.views:
        for r in runs:
            r["views"] = views_effect(
                Path(args.work) / f"{r['path']}_s{r['seed']}", [int(v) for v in args.views.split(",")]
            )
    summary = {}
    for path in dict.fromkeys(r["path"] for r in runs):
        mine = [r for r in runs if r["path"] == path]
        summary[path] = {k: round(statistics.mean(r[k] for r in mine), 4) for k in
                         ("accuracy", "macro_f1", "type_accuracy", "type_macro_f1")}  # fmt: skip
    head = json.loads((RESULTS / "wbcatt_attributes.json").read_text().splitlines()[-1])
    publish(args.name, {
        "benchmark": "attribute_paths", "data": "WBCAtt train -> val (400 cells)", "arch": args.arch,
        "size": args.size, "epochs": args.epochs, "seeds": args.seeds, "torch_threads": torch.get_num_threads(),
        "cpu_cores": len(os.sched_getaffinity(0)), "summary": summary,
        "attrihead": {"accuracy": head["mean_accuracy"], "macro_f1": head["mean_macro_f1"],
                      "epochs": head["epochs"], "note": "detector + AttriHead, 25 CPU minutes from scratch"},
        "resnet50_wbcatt_paper": RESNET50, "targets": {"accuracy": ">= 0.93", "macro_f1": ">= 0.88"},
        "latency": latency(args) if args.latency else None, "runs": runs,
    })  # fmt: skip


if __name__ == "__main__":
    main()
