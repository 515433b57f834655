"""Benchmark: the ``n`` preset on 200 synthetic fields for 5 CPU minutes; mAP50 on their test split.

Reports the 14-class mAP50 / mAP50-95 (COCO, faster-coco-eval) and the class-agnostic WBC AP50 (every cell
type merged into one "WBC" class, detections too), i.e. "is every white cell found" apart from "is it named".

    .venv/bin/python benchmarks/synth_detect.py [--minutes 5] [--images 200] [--imgsz 320]

Prints one JSON line and saves it to benchmarks/results/synth_detect.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from result_file import publish

from leukodet import api
from leukodet.eval.detection import evaluate
from leukodet.infer.config import InferConfig
from leukodet.infer.predictor import Detector
from leukodet.records import Cell, load_source
from leukodet.records.prediction import Prediction

RESULTS = Path(__file__).resolve().parent / "results"


def agnostic(records: list, preds: list[Prediction]) -> dict:
    """Score with every class merged into one ``WBC`` class."""
    recs = [r.with_(cells=tuple(Cell(c.box, 0, {}) for c in r.cells)) for r in records]
    merged = [
        Prediction(p.boxes, p.scores, np.zeros(len(p), np.int64), ("WBC",), p.image, p.width, p.height)
        for p in preds
    ]
    return evaluate(recs, ["WBC"], merged)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--work", default="/tmp/leukodet-synth-detect")
    args = p.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    torch.set_num_threads(2)
    t0 = time.monotonic()
    data = api.synth(work / "data", images=args.images, seed=0)
    synth_s = time.monotonic() - t0
    summary = api.train(
        data,
        model="n",
        epochs=1000,
        imgsz=args.imgsz,
        batch=16,
        out=work / "run",
        time=args.minutes,
        seed=0,
        progress=False,
    )
    det = Detector.load(work / "run" / "weights" / "best.pt")
    ds, _ = load_source(data)
    records = ds.split("test")
    preds = det.predict([str(r.path) for r in records], InferConfig.protocol())
    full = evaluate(records, ds.classes, preds)
    agn = agnostic(
        records, det.predict([str(r.path) for r in records], InferConfig.protocol(multi_label=False))
    )
    result = {
        "benchmark": "synth_detect",
        "model": "n",
        "fields": args.images,
        "test_fields": len(records),
        "imgsz": args.imgsz,
        "train_minutes_budget": args.minutes,
        "train_seconds": summary["seconds"],
        "epochs": summary["epochs"],
        "recipe": summary["recipe"],
        "synth_seconds": round(synth_s, 1),
        "map50": round(full["map50"], 4),
        "map50_95": round(full["map50_95"], 4),
        "wbc_agnostic_ap50": round(agn["map50"], 4),
        "wbc_agnostic_ap50_95": round(agn["map50_95"], 4),
        "operating_point_f1_agnostic": round(agn["operating_point"]["f1"], 4),
        "cpus": os.cpu_count(),
    }
    publish("synth_detect", result)


if __name__ == "__main__":
    main()
