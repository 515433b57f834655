"""Benchmark (issue #26): batch prediction on this machine, the local engine against Ray Data with 2 workers.

200 synthetic 640 × 640 fields (``leukodet synth``, HCM_100x_C2, seed 0) are predicted by the bundled ``general-n``
(imgsz 416, conf 0.25, annotated PNGs written) into fresh folders, first by the local engine (one process, torch on
every core), then by ``--engine ray --workers 2 --cpus-per-worker 1`` (Ray started here, one model per worker,
torch on one core each). Rates count fields per minute from the first field submitted to the last output written;
Ray's start-up is timed apart. Run on a quiet machine.

    .venv/bin/python benchmarks/ray_predict.py [--fields 200] [--weights general-n] [--workers 2]

Prints one JSON line and saves benchmarks/results/ray_predict.json: fields/min of each engine, their ratio (goal:
Ray ≥ 0.85 × local), Ray's start-up seconds, and the per-field cost split (read + decode, model, write) measured
on the local engine, from which docs/scaling.md works out 8 and 64 workers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from result_file import publish

from leukodet import api
from leukodet.data.dataset import load_image
from leukodet.infer.backends import load_detector
from leukodet.infer.config import InferConfig
from leukodet.infer.fields import predict_fields
from leukodet.infer.outputs import write_image_outputs


def cost_split(weights: str, paths: list[Path], out: Path, n: int = 24) -> dict[str, float]:
    """Seconds per field of reading + decoding, the model (batch 8, letterbox and NMS included) and writing the
    PNG + JSON, on the first ``n`` fields, in this process."""
    det = load_detector(weights)
    cfg = InferConfig(batch=8)
    t0 = time.perf_counter()
    images = [load_image(str(p)) for p in paths[:n]]
    t1 = time.perf_counter()
    det.predict(images, cfg=cfg)
    t2 = time.perf_counter()
    for field in predict_fields(det, [(str(p), im) for p, im in zip(paths[:n], images)], cfg):
        write_image_outputs(out, field, Path(field.path).stem, weights)
    t3 = time.perf_counter()
    write = (t3 - t2) - (t2 - t1)  # the second pass predicts again, then writes
    return {"read_decode": (t1 - t0) / n, "model": (t2 - t1) / n, "write": max(write, 0.0) / n}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fields", type=int, default=200)
    p.add_argument("--weights", default="general-n")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--work", default="/tmp/leukodet-ray-predict")
    args = p.parse_args()
    work = Path(args.work)
    data = work / "fields"
    if not (data / "data.yaml").exists():
        api.synth(data, images=args.fields, seed=0, size=640, overwrite=True)
    paths = sorted((data / "images").rglob("*.png"))[: args.fields]
    figures: dict[str, dict[str, float]] = {}
    for engine in ("local", "ray"):
        out = work / f"out-{engine}"
        shutil.rmtree(out, ignore_errors=True)
        ray = {"workers": args.workers, "cpus_per_worker": 1.0} if engine == "ray" else None
        start = time.monotonic()
        result = api.predict_run(args.weights, [str(p) for p in paths], out, ray=ray, resume=False)
        seconds = time.monotonic() - start
        busy = result.get("seconds", seconds)  # Ray: from the first submitted field, its start-up apart
        figures[engine] = {
            "fields": result["predicted"], "seconds_total": round(seconds, 2), "seconds_predicting": round(busy, 2),
            "fields_per_min": round(60 * result["predicted"] / busy, 1),
        }  # fmt: skip
        if engine == "ray":
            figures[engine]["startup_seconds"] = result["startup_seconds"]
    split = cost_split(args.weights, paths, work / "out-split")
    ratio = figures["ray"]["fields_per_min"] / figures["local"]["fields_per_min"]
    publish("ray_predict", {
        "benchmark": "ray_predict", "weights": args.weights, "fields": len(paths), "field_px": 640,
        "workers": args.workers, "cpu_cores": len(os.sched_getaffinity(0)), "torch_threads_local": torch.get_num_threads(),
        "local": figures["local"], "ray": figures["ray"], "ray_over_local": round(ratio, 3), "goal": ">= 0.85",
        "seconds_per_field_local": {k: round(v, 4) for k, v in split.items()},
        "png_bytes_mean": int(np.mean([os.path.getsize(q) for q in (work / "out-local").glob("*.png")])),
        "opencv": cv2.__version__,
    })  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
