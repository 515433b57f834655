"""Benchmark: leukodet ``n`` against the peer (ultralytics YOLOv8n) on BCCD, same data, budget and scorer.

Both train from scratch for the same wall-clock budget (default 15 min) at imgsz 416, batch 16, on the official
BCCD splits; both sets of test predictions (conf 0.001, IoU 0.6, max 300) are scored by leukodet's evaluator
(faster-coco-eval); both models are also scored on BCDD (another lab; class mapping by name, so BCCD's
Platelets are simply absent there). Speed: CPU latency for one 640x640 field (batch 1, 2 threads, after
warm-up) and training seconds per epoch, as ratios leukodet / peer.

    .venv/bin/python benchmarks/bccd_peer.py [--minutes 15] [--peer-python ~/.cache/leukodet-peer/venv/bin/python]
    .venv/bin/python benchmarks/bccd_peer.py --reuse-peer benchmarks/results/bccd_peer.json   # leukodet side only

``--reuse-peer FILE`` re-measures leukodet alone and copies the peer's figures from an earlier result (the peer
has not changed); the earlier leukodet figures are kept beside the new ones as ``leukodet_before``.

Prints one JSON line and saves it to benchmarks/results/bccd_peer.json. The peer runs in its own virtual
environment (see benchmarks/peer_ultralytics.py); leukodet's side runs here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from result_file import publish

from leukodet import api
from leukodet.eval.detection import evaluate
from leukodet.infer.config import InferConfig
from leukodet.infer.predictor import Detector
from leukodet.records import load_source
from leukodet.records.prediction import Prediction

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
PEER = "ultralytics_8.4.190_yolov8n"


def _peer(python: str, *args: str) -> dict:
    proc = subprocess.run(
        [python, str(ROOT / "benchmarks" / "peer_ultralytics.py"), *args], capture_output=True, text=True
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("PEER-RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"peer failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(line.removeprefix("PEER-RESULT "))


def _score(
    source: Path | str,
    split: str,
    preds_by_image: dict[str, Prediction],
    exclude: frozenset[str] = frozenset(),
) -> dict:
    """Score predictions on ``split`` of ``source``, leaving out the images named in ``exclude``."""
    ds, _ = load_source(source)
    records = [r for r in ds.split(split) if r.path.name not in exclude]
    preds = [preds_by_image[str(r.path.name)] for r in records]
    m = evaluate(records, ds.classes, preds)
    wbc = m["per_class"].get("WBC", {})
    return {
        "map50": m["map50"],
        "map50_95": m["map50_95"],
        "wbc_ap50": wbc.get("ap50"),
        "wbc_ap50_95": wbc.get("ap50_95"),
        "yolov5_map50": m["yolov5"]["map50"],
        "per_class": m["per_class"],
    }


def audited_out() -> frozenset[str]:
    """BCCD test images whose WBC labels are incomplete, from the visual audit in ``bccd_test_audit.json``."""
    doc = json.loads((ROOT / "benchmarks" / "bccd_test_audit.json").read_text())
    return frozenset(entry["image"] for entry in doc["unlabelled_wbc"])


def _leukodet_preds(det: Detector, images: list[Path]) -> dict[str, Prediction]:
    preds = det.predict([str(p) for p in images], InferConfig.protocol())
    return {Path(p.image).name: p for p in preds}


def _peer_preds(path: Path) -> dict[str, Prediction]:
    doc = json.loads(path.read_text())
    return {Path(d["image"]).name: Prediction.from_json(d, doc["names"]) for d in doc["predictions"]}


def train_once(
    data: Path, run: Path, minutes: float, overrides: list[str] | None = None, model: str = "n"
) -> Path:
    """Train leukodet ``model`` (default ``n`` from scratch; a bundled name fine-tunes it) at imgsz 416, batch 16,
    seed 0 for ``minutes`` unless ``run`` already holds it."""
    if not (run / "weights" / "last.pt").exists():
        api.train(
            data,
            model=model,
            epochs=1000,
            imgsz=416,
            batch=16,
            out=run,
            time=minutes,
            seed=0,
            overrides=overrides,
            progress=False,
        )
    return run


def _latency(det: Detector, image: np.ndarray, repeats: int = 30) -> float:
    torch.set_num_threads(2)
    for _ in range(5):
        det.predict([image], imgsz=416)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        det.predict([image], imgsz=416)
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--peer-python", default=str(Path.home() / ".cache/leukodet-peer/venv/bin/python"))
    p.add_argument("--work", default="/tmp/leukodet-bccd-peer")
    p.add_argument("--reuse-peer", default=None, help="earlier bccd_peer JSON: keep its peer figures")
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = work / "bccd" / "data.yaml"
    if not data.exists():
        api.convert(SHARED / "bccd" / "BCCD", work / "bccd", "yolo", overwrite=True)
    names = load_source(data)[0].classes
    field = work / "field640.png"
    if not field.exists():
        api.synth(work / "field", images=1, seed=0, overwrite=True)
        next((work / "field" / "images").rglob("*.png")).rename(field)
    torch.set_num_threads(2)
    # --- leukodet -----------------------------------------------------------------------------------
    run = train_once(data, work / "leukodet", args.minutes)
    import csv

    rows = list(csv.DictReader(open(run / "results.csv")))
    det = Detector.load(run / "weights" / "best.pt")
    test_imgs = sorted((work / "bccd" / "images" / "test").iterdir())
    bcdd_imgs = sorted((SHARED / "bcdd" / "images").iterdir())
    ours = {
        "epochs": len(rows),
        "seconds_per_epoch": round(statistics.median(float(r["seconds"]) for r in rows), 2),
        "bccd_test": _score(data, "test", ours_test := _leukodet_preds(det, test_imgs)),
        "bccd_test_audited": _score(data, "test", ours_test, audited_out()),
        "bcdd": _score(SHARED / "bcdd", "all", _leukodet_preds(det, bcdd_imgs)),
        "latency_ms_median": _latency(det, np.asarray(Image.open(field).convert("RGB"))),
        "threads": torch.get_num_threads(),
    }
    if args.reuse_peer:
        earlier = json.loads(Path(args.reuse_peer).read_text())
        peer = dict(earlier[PEER], reused_from=f"{Path(args.reuse_peer).name} (peer not re-run)")
        publish("bccd_peer", _result(args.minutes, ours, peer, leukodet_before=earlier["leukodet"]))
        return
    # --- peer ---------------------------------------------------------------------------------------
    peer_run = work / "peer"
    trained = _peer(
        args.peer_python,
        "train",
        "--data",
        str(data),
        "--names",
        json.dumps(names),
        "--out",
        str(peer_run),
        "--hours",
        str(args.minutes / 60),
        "--imgsz",
        "416",
        "--work",
        str(work / "peer-work"),
    )
    weights = trained["weights"]
    _peer(
        args.peer_python,
        "predict",
        "--weights",
        weights,
        "--images",
        str(work / "bccd" / "images" / "test"),
        "--out",
        str(work / "peer_test.json"),
        "--imgsz",
        "416",
        "--work",
        str(work / "peer-work"),
    )
    _peer(
        args.peer_python,
        "predict",
        "--weights",
        weights,
        "--images",
        str(SHARED / "bcdd" / "images"),
        "--out",
        str(work / "peer_bcdd.json"),
        "--imgsz",
        "416",
        "--work",
        str(work / "peer-work"),
    )
    lat = _peer(
        args.peer_python,
        "latency",
        "--weights",
        weights,
        "--image",
        str(field),
        "--imgsz",
        "416",
        "--work",
        str(work / "peer-work"),
    )
    peer = {
        "epochs": trained["epochs"],
        "seconds_per_epoch": trained["seconds_per_epoch"],
        "bccd_test": _score(data, "test", peer_test := _peer_preds(work / "peer_test.json")),
        "bccd_test_audited": _score(data, "test", peer_test, audited_out()),
        "bcdd": _score(SHARED / "bcdd", "all", _peer_preds(work / "peer_bcdd.json")),
        "latency_ms_median": lat["latency_ms_median"],
        "threads": lat["threads"],
        "network_calls": trained["network_calls"] + lat["network_calls"],
    }
    publish("bccd_peer", _result(args.minutes, ours, peer))


def _result(minutes: float, ours: dict, peer: dict, **extra: dict) -> dict:
    return {
        "benchmark": "bccd_peer",
        "minutes": minutes,
        "imgsz": 416,
        "leukodet": ours,
        PEER: peer,
        "ratios": {
            "latency": round(ours["latency_ms_median"] / peer["latency_ms_median"], 3),
            "seconds_per_epoch": round(ours["seconds_per_epoch"] / peer["seconds_per_epoch"], 3),
        },
        "cpus": os.cpu_count(),
        **extra,
    }


if __name__ == "__main__":
    sys.exit(main())
