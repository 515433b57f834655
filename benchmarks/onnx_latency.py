"""CPU latency of the two prediction backends side by side: PyTorch (``.pt``) and ONNX Runtime (``model.onnx``).

    .venv/bin/python benchmarks/onnx_latency.py [--runs 100] [--warmup 10] [--threads 2] [--conf 0.25]

Model: the ``n`` preset with an AttriHead for the LLD attribute schema, untrained (seed 0, 14 LLD classes),
saved as a checkpoint and exported with ``leukodet.api.export`` (detector + NMS + AttriHead in one graph).
Both backends predict the same synthetic 640x640 HCM_100x_C2 fields (``render_field``, rendered before timing)
through ``Detector.predict(image, conf=CONF, batch=1)`` at imgsz 640: letterbox, model, NMS, attribute head
and the ``Prediction`` objects are all inside the timed call. After ``--warmup`` untimed calls per backend,
``--runs`` timed calls per backend alternate between the backends (torch, onnx, torch, ...) so that a change
in the machine's load hits both alike; p50, mean, p90 and min are reported in milliseconds (``latency.torch``,
``latency.onnx``). torch and ONNX Runtime use ``--threads`` intra-op threads each. An untrained model keeps
almost no boxes at ``conf 0.25`` (the ``detections`` fields say how many), so these are the network's cost
with next to no NMS or AttriHead work; lower ``--conf`` to include them. The 1-minute load average before and
after is recorded (``load_avg``): the machine may be shared, rerun when it is well below the thread count.

Prints one JSON line and saves it to benchmarks/results/onnx_latency.json (not with ``--no-save``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from result_file import publish

from leukodet import api
from leukodet.infer.onnx_backend import OnnxDetector
from leukodet.infer.predictor import Detector
from leukodet.model.checkpoint import save_checkpoint
from leukodet.model.registry import create_model
from leukodet.records import LLD_CLASSES, lld_schema
from leukodet.synth import render_field

IMGSZ = 640
FIELDS = 8


def _checkpoint(tmp: Path) -> Path:
    torch.manual_seed(0)
    schema = lld_schema()
    model = create_model(
        "n", len(LLD_CLASSES), attribute_sizes=[len(v) for v in schema.to_mapping().values()]
    )
    meta = {
        "classes": list(LLD_CLASSES),
        "imgsz": IMGSZ,
        "model_config": model.config.to_dict(),
        "attributes": schema.to_mapping(),
        "attribute_order": list(schema.names),
    }
    return save_checkpoint(tmp / "yolo_n_untrained.pt", model.state_dict(), meta)


def _summary(seconds: list[float], detections: int) -> dict[str, float | int]:
    ms = np.asarray(seconds) * 1000.0
    return {
        "p50_ms": round(float(np.median(ms)), 2),
        "mean_ms": round(float(ms.mean()), 2),
        "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "min_ms": round(float(ms.min()), 2),
        "detections": detections,
    }


def _time(detectors: dict[str, Detector], fields: list[np.ndarray], runs: int, conf: float) -> dict:
    """``runs`` timed ``predict`` calls per backend, alternating backends call by call."""
    seconds: dict[str, list[float]] = {name: [] for name in detectors}
    found = dict.fromkeys(detectors, 0)
    for i in range(runs):
        field = fields[i % len(fields)]
        for name, det in detectors.items():
            t0 = time.perf_counter()
            pred = det.predict(field, conf=conf, batch=1)[0]
            seconds[name].append(time.perf_counter() - t0)
            found[name] += len(pred)
    return {name: _summary(seconds[name], found[name]) for name in detectors}


def main(runs: int, warmup: int, threads: int, conf: float) -> dict[str, object]:
    torch.set_num_threads(threads)
    load_before = os.getloadavg()[0]
    fields = [render_field(s, "HCM_100x_C2", IMGSZ).image for s in range(FIELDS)]
    with tempfile.TemporaryDirectory() as tmp:
        weights = _checkpoint(Path(tmp))
        t0 = time.perf_counter()
        onnx_path = api.export(weights, Path(tmp) / "export")
        export_seconds = time.perf_counter() - t0
        onnx_mb = onnx_path.stat().st_size / 2**20
        detectors = {"torch": Detector.load(weights), "onnx": OnnxDetector.load(onnx_path, threads=threads)}
    for det in detectors.values():
        for i in range(warmup):
            det.predict(fields[i % FIELDS], conf=conf, batch=1)
    timed = _time(detectors, fields, runs, conf)
    return {
        "benchmark": "onnx_latency",
        "model": "yolo_n + AttriHead (LLD schema) untrained (seed 0)",
        "imgsz": IMGSZ,
        "batch": 1,
        "conf": conf,
        "runs": runs,
        "warmup": warmup,
        "threads": threads,
        "device": "cpu",
        "latency": timed,
        "onnx_speedup_p50": round(timed["torch"]["p50_ms"] / timed["onnx"]["p50_ms"], 3),
        "export_seconds": round(export_seconds, 1),
        "onnx_file_mb": round(onnx_mb, 2),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="Timed predict calls per backend.")
    parser.add_argument("--warmup", type=int, default=10, help="Untimed calls per backend first.")
    parser.add_argument("--threads", type=int, default=2, help="Intra-op threads of each backend.")
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--no-save", action="store_true", help="Print the JSON line only (smoke runs).")
    args = parser.parse_args()
    result = main(args.runs, args.warmup, args.threads, args.conf)
    if args.no_save:
        print(json.dumps(result), flush=True)
    else:
        publish("onnx_latency", result)
