"""Benchmark (issue #27, Table 4 "the detector family"): leukodet's YOLO-style ``n`` against FCOS on the same
backbone (``fcos-n``, docs/detectors.md) on BCCD, same data pipeline, budget and scorer.

Both detectors train from random weights through ``leukodet train`` (the same data set, augmentation, letterbox,
``short`` recipe, EMA with precise batch norm and per-epoch validation) at imgsz 416, batch 16, for the same
fixed number of epochs (``--epochs``), or with ``--minutes`` for the same wall-clock budget each (``--epochs``
is then an upper bound). BCCD uses its official train/val/test splits. Reported per detector and seed:

* test mAP50 and mAP50-95 of ``best.pt`` (the best validation epoch) by leukodet's evaluator (faster-coco-eval,
  conf 0.001, IoU 0.6, 300 detections: ``leukodet val``), with the per-class APs;
* fields per second: one 416x416 BCCD field (a test image cropped square and resized), batch 1, ``--threads``
  torch threads, the median of ``--repeats`` timed ``Detector.predict`` calls after 5 warm-up calls, at the
  product thresholds (conf 0.25, the ``predict`` default) and at the evaluation protocol (conf 0.001);
* parameters, epochs run, training seconds, the best validation figures.

    .venv/bin/python benchmarks/detector_family.py --epochs 30 --seeds 0,1,2
    .venv/bin/python benchmarks/detector_family.py --minutes 15 --seeds 0 --tag 15min
    .venv/bin/python benchmarks/detector_family.py --epochs 1 --limit 8 --imgsz 160 --batch 4 --tag smoke

``--limit N`` keeps the first N images of every split (a smoke test, not a measurement). Runs are resumable: a
run folder holding ``summary.json`` is read back, one holding only ``weights/last.pt`` is resumed. Prints one
JSON line and saves benchmarks/results/detector_family_<data>[_<tag>].json. The machine is shared: the 1-minute
load average before and after the speed figures is recorded (``load_avg``); rerun the speed when it is high.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from PIL import Image
from result_file import publish

from leukodet import api
from leukodet.infer.config import InferConfig
from leukodet.infer.predictor import Detector
from leukodet.records.files import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DETECTORS = ("n", "fcos-n")
NOT_AVAILABLE = {
    "sparse_rcnn": "not measured: no maintained implementation installs from PyPI against this torch (mmdet 3.3.0 "
    "needs mmcv < 2.2, which PyPI has as source only; detectron2 is not on PyPI); docs/detectors.md",
    "dino": "not measured: same as sparse_rcnn (mmdet's DINO; the reference code needs compiled CUDA ops); "
    "docs/detectors.md",
    "detr_family": "not measured: transformers ships DETR, Deformable DETR, RT-DETR and others, not wrapped "
    "in leukodet yet; docs/detectors.md",
}


def prepare(name: str, work: Path, limit: int | None) -> Path:
    """The data set YAML: BCCD (official splits, converted once) or 24 synthetic fields; with ``limit`` a YAML
    listing the first ``limit`` images of each split."""
    if name == "bccd":
        data = work / "bccd" / "data.yaml"
        if not data.exists():
            api.convert(SHARED / "bccd" / "BCCD", work / "bccd", "yolo", overwrite=True)
    elif name == "synth":
        data = work / "synth" / "data.yaml"
        if not data.exists():
            api.synth(data.parent, images=24, seed=0, size=416, label_rbc=True, overwrite=True)
    else:
        raise SystemExit(f"unknown data set {name!r}: bccd or synth")
    return data if limit is None else _limited(data, limit)


def _limited(data: Path, limit: int) -> Path:
    """A YOLO data YAML beside ``data`` whose splits list their first ``limit`` images."""
    root = data.parent
    if not (root / "images").is_dir():
        raise SystemExit(f"--limit needs a YOLO-layout data set (images/<split>); {data} is not one")
    meta = yaml.safe_load(data.read_text())
    out = {"names": meta["names"]}
    for split in ("train", "val", "test"):
        images = sorted(p.relative_to(root).as_posix() for p in (root / "images" / split).iterdir())[:limit]
        atomic_write_text(root / f"limit{limit}_{split}.txt", "\n".join(images) + "\n")
        out[split] = f"limit{limit}_{split}.txt"
    target = root / f"limit{limit}.yaml"
    atomic_write_text(target, yaml.safe_dump(out, sort_keys=False))
    return target


def train_run(data: Path, run: Path, detector: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Train ``detector`` for one seed into ``run`` (or read back / resume it); returns the run summary."""
    done = run / "summary.json"
    if done.is_file():
        return json.loads(done.read_text())
    resume = (run / "weights" / "last.pt").is_file()
    epochs = args.epochs or (1000 if args.minutes else 30)
    summary = api.train(
        data, model=detector, epochs=epochs, imgsz=args.imgsz, batch=args.batch, out=run, time=args.minutes,
        seed=seed, recipe=args.recipe, resume=resume, progress=False, overrides=list(args.set),
    )  # fmt: skip
    atomic_write_text(done, json.dumps(summary) + "\n")
    return summary


def field_416(data: Path, size: int = 416) -> np.ndarray:
    """One test field, cropped to a centred square and resized to ``size`` (RGB uint8)."""
    from leukodet.infer.validate import load_split

    _, records = load_split(data, "test")
    image = Image.open(records[0].path).convert("RGB")
    w, h = image.size
    side = min(w, h)
    box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    return np.asarray(image.crop(box).resize((size, size), Image.BILINEAR))


def fields_per_second(det: Detector, field: np.ndarray, cfg: InferConfig, repeats: int) -> float:
    """1 / the median seconds of ``repeats`` batch-1 predictions of ``field`` (after 5 warm-up calls)."""
    for _ in range(5):
        det.predict([field], cfg)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        det.predict([field], cfg)
        times.append(time.perf_counter() - start)
    return round(1.0 / statistics.median(times), 3)


def measure(data: Path, run: Path, summary: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Test scores, speed and size of one trained run."""
    weights = run / "weights" / "best.pt"
    test = api.val(weights, data, split="test", imgsz=args.imgsz)
    det = Detector.load(weights)
    field = field_416(data, args.imgsz)
    product = InferConfig(imgsz=args.imgsz, batch=1)
    protocol = InferConfig.protocol(imgsz=args.imgsz, batch=1)
    rows = _results(run)
    return {
        "test_map50": test["map50"],
        "test_map50_95": test["map50_95"],
        "test_per_class": test["per_class"],
        "fields_per_second": fields_per_second(det, field, product, args.repeats),
        "fields_per_second_protocol": fields_per_second(det, field, protocol, args.repeats),
        "parameters": sum(p.numel() for p in det.model.parameters()),
        "epochs": summary["epochs"],
        "train_seconds": summary["seconds"],
        "best_val_map50": max((float(r["val/map50"]) for r in rows if r.get("val/map50")), default=None),
        "best_val_map50_95": max(
            (float(r["val/map50_95"]) for r in rows if r.get("val/map50_95")), default=None
        ),
    }


def _results(run: Path) -> list[dict[str, str]]:
    import csv

    with (run / "results.csv").open() as fh:
        return list(csv.DictReader(fh))


def _mean(runs: list[dict[str, Any]]) -> dict[str, float]:
    keys = ("test_map50", "test_map50_95", "fields_per_second", "fields_per_second_protocol", "train_seconds")
    return {k: round(float(np.mean([r[k] for r in runs])), 4) for k in keys}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="bccd", choices=["bccd", "synth"])
    p.add_argument("--detectors", default=",".join(DETECTORS), help="comma-separated --model names")
    p.add_argument("--seeds", default="0")
    p.add_argument(
        "--epochs", type=int, default=None, help="fixed epochs (default 30; an upper bound with --minutes)"
    )
    p.add_argument("--minutes", type=float, default=None, help="the same wall-clock budget per run instead")
    p.add_argument("--imgsz", type=int, default=416)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--recipe", default="short", choices=["short", "paper", "auto"])
    p.add_argument("--limit", type=int, default=None, help="first N images of every split (smoke test)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--work", default="/tmp/leukodet-detector-family")
    p.add_argument("--tag", default="")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override for every run, as `leukodet train --set` (e.g. augment.hed=0)")  # fmt: skip
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    data = prepare(args.data, work, args.limit)
    budget = f"{args.minutes}min" if args.minutes else f"{args.epochs or 30}ep"
    load_before = os.getloadavg()[0]
    detectors: dict[str, Any] = {}
    for detector in args.detectors.split(","):
        runs = []
        for seed in (int(s) for s in args.seeds.split(",")):
            run = work / "runs" / f"{args.data}{args.limit or ''}-{budget}-{detector}-s{seed}"
            summary = train_run(data, run, detector, seed, args)
            torch.set_num_threads(args.threads)  # training may change it; the speed is measured at --threads
            runs.append({"seed": seed, "run": str(run), **measure(data, run, summary, args)})
        detectors[detector] = {"runs": runs, "mean": _mean(runs)}
    result = {
        "benchmark": "detector_family", "data": args.data, "limit": args.limit, "epochs": args.epochs,
        "minutes": args.minutes, "imgsz": args.imgsz, "batch": args.batch, "recipe": args.recipe,
        "seeds": args.seeds, "overrides": list(args.set), "threads": args.threads, "torch": torch.__version__,
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)], "detectors": detectors,
        "not_available": NOT_AVAILABLE,
    }  # fmt: skip
    publish(f"detector_family_{args.data}" + (f"_{args.tag}" if args.tag else ""), result)


if __name__ == "__main__":
    main()
