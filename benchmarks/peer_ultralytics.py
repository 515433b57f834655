"""The peer side of benchmarks/bccd_peer.py: ultralytics YOLOv8n, run in its OWN virtual environment.

ultralytics is AGPL-3.0: it is never a leukodet dependency and none of its code is copied; this script only
calls its public API, offline, as ``../shared/notes/ultralytics-peer.md`` describes. It does not import leukodet.

    PEER/bin/python benchmarks/peer_ultralytics.py train --data D.yaml --out DIR --hours 0.25 --imgsz 416
        [--epochs N (fixed, instead of --hours)] [--seed S] [--threads T]
    PEER/bin/python benchmarks/peer_ultralytics.py predict --weights W --images DIR... --out P.json --imgsz 416
    PEER/bin/python benchmarks/peer_ultralytics.py latency --weights W --image F --imgsz 416
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

NETWORK_CALLS: list[str] = []


def _offline(work: Path) -> None:
    """Environment and an audit hook that records (and so proves the absence of) network attempts."""
    os.environ.update(
        YOLO_OFFLINE="1",
        YOLO_AUTOINSTALL="0",
        YOLO_CONFIG_DIR=str(work / "cfg"),
        MPLCONFIGDIR=str(work / "mpl"),
    )
    font_dir = work / "cfg" / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    import matplotlib

    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    shutil.copyfile(dejavu, font_dir / "Arial.ttf")

    def hook(event: str, args: tuple) -> None:
        if event in ("socket.connect", "socket.getaddrinfo"):
            NETWORK_CALLS.append(f"{event} {args[1] if len(args) > 1 else args}")

    sys.addaudithook(hook)


def _threads(n: int = 2) -> None:
    import torch
    import ultralytics.utils.torch_utils as tu
    from ultralytics import settings

    off = ("sync", "tensorboard", "wandb", "mlflow", "comet", "clearml", "neptune", "dvc", "hub", "raytune")
    settings.update({k: False for k in off if k in settings})
    tu.NUM_THREADS = n
    torch.set_num_threads(n)


def train(args: argparse.Namespace) -> dict:
    from ultralytics import YOLO

    names = json.loads(args.names)
    nc = len(names)
    model = YOLO("yolov8n.yaml")
    start = time.monotonic()
    model.train(
        data=args.data,
        epochs=args.epochs or 10000,
        time=None if args.epochs else args.hours,
        imgsz=args.imgsz,
        batch=16,
        optimizer="AdamW",
        lr0=0.002 * 5 / (4 + nc),
        momentum=0.9,
        warmup_bias_lr=0.0,
        workers=0,
        device="cpu",
        amp=False,
        seed=args.seed,
        deterministic=True,
        cache="ram",
        pretrained=False,
        plots=False,
        project=str(Path(args.out).resolve().parent),  # a relative project lands under ultralytics runs_dir
        name=Path(args.out).name,
        exist_ok=True,
        verbose=False,
    )
    seconds = time.monotonic() - start
    import csv

    rows = list(csv.DictReader(open(Path(args.out) / "results.csv")))
    epochs = len(rows)
    epoch_times = [float(r["time"]) for r in rows if r.get("time")]
    per_epoch = (epoch_times[-1] / epochs) if epoch_times else seconds / max(epochs, 1)
    import torch

    return {
        "seconds": round(seconds, 1),
        "epochs": epochs,
        "seconds_per_epoch": round(per_epoch, 2),
        "threads": torch.get_num_threads(),
        "weights": str(Path(args.out) / "weights" / "last.pt"),
    }


def predict(args: argparse.Namespace) -> dict:
    from ultralytics import YOLO

    model = YOLO(args.weights)
    images = []
    for folder in args.images:
        p = Path(folder)
        images += (
            sorted(q for q in p.rglob("*") if q.suffix.lower() in (".jpg", ".jpeg", ".png"))
            if p.is_dir()
            else [p]
        )
    docs = []
    for img in images:
        r = model.predict(
            str(img), conf=0.001, iou=0.6, max_det=300, imgsz=args.imgsz, device="cpu", verbose=False
        )[0]
        boxes = r.boxes
        h, w = r.orig_shape
        cells = [
            {"box": [float(v) for v in b], "class": r.names[int(c)], "score": float(s), "attributes": {}}
            for b, c, s in zip(boxes.xyxy.tolist(), boxes.cls.tolist(), boxes.conf.tolist())
        ]
        docs.append({"image": str(img), "width": int(w), "height": int(h), "cells": cells})
    Path(args.out).write_text(
        json.dumps({"names": [model.names[i] for i in sorted(model.names)], "predictions": docs})
    )
    return {"images": len(docs)}


def latency(args: argparse.Namespace) -> dict:
    import numpy as np
    from PIL import Image
    from ultralytics import YOLO

    model = YOLO(args.weights)
    image = np.asarray(Image.open(args.image).convert("RGB"))[
        :, :, ::-1
    ].copy()  # ultralytics takes BGR arrays
    for _ in range(5):
        model.predict(image, imgsz=args.imgsz, conf=0.25, device="cpu", verbose=False)
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        model.predict(image, imgsz=args.imgsz, conf=0.25, device="cpu", verbose=False)
        times.append((time.perf_counter() - t) * 1000)
    import torch

    return {"latency_ms_median": round(statistics.median(times), 2), "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["train", "predict", "latency"])
    parser.add_argument("--data")
    parser.add_argument("--names", default="[]")
    parser.add_argument("--out")
    parser.add_argument("--hours", type=float, default=0.25)
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--weights")
    parser.add_argument("--images", nargs="*")
    parser.add_argument("--image")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--work", default="/tmp/leukodet-peer-work")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="fixed epochs instead of --hours")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    _offline(Path(args.work))
    _threads(args.threads)
    result = {"train": train, "predict": predict, "latency": latency}[args.command](args)
    result["network_calls"] = NETWORK_CALLS
    print("PEER-RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
