"""Prediction speed on this CPU: fields/min at 640x640, one tiled 1920x1080 field, 40x vs 100x film area.

    .venv/bin/python benchmarks/predict_speed.py

Model: the ``n`` preset, untrained (seed 0, 14 LLD classes), saved as a checkpoint and loaded with
``Detector.load``; speed does not depend on the weights, except that NMS cost grows with the number of
candidates: at ``conf 0.25`` an untrained model keeps almost none, so these figures are the network's
cost with next to no NMS (the ``detections`` fields say how many boxes were kept). torch uses 2 threads.
Images are synthetic fields (``leukodet.synth.render_field``) rendered before timing; each figure is the
best of ``REPEATS`` runs, decoding and writing files are not included. The machine is shared: with another
busy process, OpenMP's two spinning threads can slow a forward pass ten-fold, so the 1-minute load average
before and after the run is recorded (``load_avg``); rerun when it is well below 2.

* ``fields_per_min_640_batch{1,8}``: 16 HCM_100x_C2 fields of 640x640, letterboxed (no resize needed).
* ``tiled_1920x1080``: one 1920x1080 mosaic of 640-px fields (cells at training scale), tiled at
  imgsz 640 (auto: 1920 > 2 x 640; overlap 128 px, 8 tiles in one batch); the letterboxed time for comparison.
* ``film_40x_vs_100x``: the paper's claim that detecting on 40x fields is faster than on the 100x fields that
  cover the same film area. A 40x field covers (100/40)^2 = 6.25 times the film area of a 100x field at the
  same pixel size, so ``ceil(6.25) = 7`` 100x fields of 640x640 cover one 40x field of 640x640. Timed over
  ``FILMS`` 40x fields and ``7 * FILMS`` 100x fields (batch 1); reported per 40x-field area.

Prints one JSON line and saves it to benchmarks/results/predict_speed.json.
"""

from __future__ import annotations

import math
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from result_file import publish

from leukodet.infer.predictor import Detector
from leukodet.infer.tiling import overlap_pixels, tile_grid
from leukodet.model.checkpoint import save_checkpoint
from leukodet.model.registry import create_model
from leukodet.records import LLD_CLASSES
from leukodet.synth import render_field

CONF = 0.25
REPEATS = 5
FIELDS = 16
FILMS = 3
AREA_RATIO = (100 / 40) ** 2


def _best(fn: Callable[[], object]) -> tuple[float, object]:
    """Fastest of ``REPEATS`` timed calls (seconds) and the last result."""
    best, result = math.inf, None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _detector(tmp: Path) -> Detector:
    torch.manual_seed(0)
    model = create_model("n", len(LLD_CLASSES))
    meta = {"classes": list(LLD_CLASSES), "imgsz": 640, "model_config": model.config.to_dict()}
    return Detector.load(save_checkpoint(tmp / "yolo_n_untrained.pt", model.state_dict(), meta))


def _fields(domain: str, seeds: range) -> list[np.ndarray]:
    return [render_field(s, domain, 640).image for s in seeds]


def _count(preds: object) -> int:
    return sum(len(p) for p in preds)  # type: ignore[attr-defined]


def _throughput(det: Detector, fields: list[np.ndarray]) -> dict[str, float]:
    out: dict[str, float] = {}
    for batch in (1, 8):
        sec, preds = _best(lambda b=batch: det.predict(fields, conf=CONF, batch=b))
        out[f"fields_per_min_640_batch{batch}"] = round(len(fields) * 60 / sec, 1)
    out["detections_per_640_field"] = round(_count(preds) / len(fields), 2)
    return out


def _tiled(det: Detector) -> dict[str, object]:
    tiles = _fields("HCM_100x_C2", range(100, 106))
    mosaic = np.concatenate([np.concatenate(tiles[r * 3 : r * 3 + 3], 1) for r in range(2)], 0)[:1080]
    sec, preds = _best(lambda: det.predict(mosaic, conf=CONF, batch=8))
    flat, _ = _best(lambda: det.predict(mosaic, conf=CONF, batch=8, tile=False))
    return {
        "tiles": len(tile_grid(1920, 1080, 640, overlap_pixels(640, 0.2))),
        "seconds": round(sec, 3),
        "fields_per_min": round(60 / sec, 1),
        "letterboxed_seconds": round(flat, 3),
        "detections": _count(preds),
    }


def _film(det: Detector) -> dict[str, object]:
    n100 = math.ceil(AREA_RATIO)
    f40 = _fields("HCM_40x_C2", range(200, 200 + FILMS))
    f100 = _fields("HCM_100x_C2", range(300, 300 + n100 * FILMS))
    s40, p40 = _best(lambda: det.predict(f40, conf=CONF, batch=1))
    s100, p100 = _best(lambda: det.predict(f100, conf=CONF, batch=1))
    return {
        "area_ratio": AREA_RATIO,
        "fields_100x_per_40x_field": n100,
        "seconds_one_40x_field": round(s40 / FILMS, 3),
        "seconds_100x_fields_same_area": round(s100 / FILMS, 3),
        "speedup_40x": round(s100 / s40, 2),
        "detections_40x": _count(p40),
        "detections_100x": _count(p100),
    }


def main() -> dict[str, object]:
    torch.set_num_threads(2)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        det = _detector(Path(tmp))
    fields = _fields("HCM_100x_C2", range(FIELDS))
    det.predict(fields[:2], conf=CONF)  # warm-up
    result = {
        "benchmark": "predict_speed",
        "model": "yolo_n untrained (seed 0), checkpoint",
        "imgsz": 640,
        "conf": CONF,
        "torch_threads": torch.get_num_threads(),
        "device": "cpu",
        "repeats_best_of": REPEATS,
        "python": platform.python_version(),
        "torch": torch.__version__,
        **_throughput(det, fields),
        "tiled_1920x1080": _tiled(det),
        "film_40x_vs_100x": _film(det),
    }
    result["load_avg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


if __name__ == "__main__":
    publish("predict_speed", main())
