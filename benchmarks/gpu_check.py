"""GPU check: AMP training steps, a one-process nccl DDP smoke run, GPU latency at batch 1 and 32.

    bash benchmarks/gpu_check.sh        # (calls this with --work DIR)

Prints one JSON line and saves benchmarks/results/gpu_check.json. Needs CUDA; about 5 minutes.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from result_file import publish

from leukodet import api
from leukodet.infer.predictor import Detector
from leukodet.model.checkpoint import load_checkpoint
from leukodet.synth import render_field


def _amp_training(data: Path, out: Path, minutes: float, device: str) -> dict:
    summary = api.train(
        data,
        model="n",
        epochs=1000,
        imgsz=640,
        batch=32,
        out=out,
        time=minutes,
        device=device,
        progress=False,
    )
    rows = list(csv.DictReader(open(out / "results.csv")))
    steps = int(load_checkpoint(out / "weights" / "last.pt")["train_state"]["iteration"])
    return {
        "epochs": summary["epochs"],
        "steps": steps,
        "seconds_per_epoch": round(statistics.median(float(r["seconds"]) for r in rows), 2),
        "val_map50": summary["metrics"].get("map50"),
        "final_losses": {k: float(v) for k, v in rows[-1].items() if k.startswith("train/")},
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None,
    }


def _ddp_smoke(data: Path, out: Path, device: str) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1", "-m"]
    cmd += ["leukodet.cli", "train", "--data", str(data), "--model", "n", "--epochs", "2", "--imgsz", "640"]
    cmd += ["--batch", "16", "--device", device, "--out", str(out), "--no-progress"]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
    return {
        "returncode": proc.returncode,
        "seconds": round(time.monotonic() - start, 1),
        "checkpoint": (out / "weights" / "last.pt").is_file(),
        "stderr_tail": proc.stderr[-600:] if proc.returncode else "",
    }


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _latency(weights: Path, batch: int, device: str, repeats: int = 20) -> dict:
    det = Detector.load(weights, device)
    fields = [render_field(i).image for i in range(batch)]
    for _ in range(3):
        det.predict(fields, imgsz=640, batch=batch)
    times = []
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        det.predict(fields, imgsz=640, batch=batch)
        _sync(device)
        times.append((time.perf_counter() - t) * 1000)
    ms = statistics.median(times)
    return {"batch": batch, "ms_per_batch": round(ms, 2), "fields_per_s": round(batch * 1000 / ms, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", required=True)
    p.add_argument("--minutes", type=float, default=2.5, help="AMP training budget")
    p.add_argument("--images", type=int, default=160, help="synthetic fields to train on")
    p.add_argument("--device", default="cuda", help="cpu: a dry run of this script (nothing is saved)")
    args = p.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_check: CUDA is not available here")
    work, dev = Path(args.work), args.device
    data = api.synth(work / "synth", images=args.images, seed=0, progress=False)
    result = {
        "benchmark": "gpu_check",
        "gpu": torch.cuda.get_device_name(0) if dev == "cuda" else "none (dry run on CPU)",
        "torch": torch.__version__,
        "amp_training": _amp_training(data, work / "amp", args.minutes, dev),
        "ddp_nccl_one_process": _ddp_smoke(data, work / "ddp", dev),
        "latency": [_latency(work / "amp" / "weights" / "last.pt", b, dev) for b in (1, 32)],
    }
    if dev == "cuda":
        publish("gpu_check", result)
    else:
        print(result)


if __name__ == "__main__":
    sys.exit(main())
