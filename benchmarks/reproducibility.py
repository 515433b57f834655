"""Benchmark: seeded training is reproducible bit for bit (the yardstick of behaviour-preserving refactors).

Fine-tunes the bundled ``synth-n`` in three tiny seeded runs on synthetic fields — the plain objective, SLA-Det on a sparse split (labelled
regions, pseudo-labels and the triplet term switched on from the first step) and ConfMix towards another
synthetic domain — and records the SHA-256 of each run's final weights (``last.pt``'s model and EMA tensors)
of its per-epoch training log (every loss term and pseudo-label count) and of its validation figures. Two runs of this script on the same code give the same digests; a refactor
that claims to change no behaviour must give the digests of the code before it.

    .venv/bin/python benchmarks/reproducibility.py --tag before   # on the old code
    .venv/bin/python benchmarks/reproducibility.py --tag after    # on the new code: same digests

Prints one JSON line and saves benchmarks/results/reproducibility_<tag>.json (``--compare TAG`` also says
whether every digest equals that earlier result's).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from result_file import RESULTS, publish

from leukodet import api

RUNS: dict[str, list[str]] = {
    "plain": [],
    "sladet": ["sparse.burn_in=0.0", "sparse.t1=0.3", "sparse.t0=0.05", "sparse.t2=10"],
    "confmix": ["adapt.method=confmix", "adapt.burn_in=0.0"],
}
"""The objectives measured and the overrides that make every term of each fire in a two-epoch run."""


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(tensors[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _data(work: Path) -> dict[str, Path]:
    """A full synthetic set, its sparse version (1/5-area regions) and a target domain for ConfMix."""
    full = work / "full" / "data.yaml"
    if not full.exists():
        api.synth(full.parent, images=12, seed=0, size=320, overwrite=True)
    sparse = work / "sparse" / "data.yaml"
    if not sparse.exists():
        api.sparsify(full, sparse.parent, fraction=0.2, seed=0, overwrite=True)
    target = work / "target" / "data.yaml"
    if not target.exists():
        api.synth(target.parent, images=8, seed=1, size=320, domain="LCM_100x_C1", overwrite=True)
    return {"plain": full, "sladet": sparse, "confmix": full, "target": target}


def measure(name: str, data: dict[str, Path], work: Path, epochs: int) -> dict[str, Any]:
    run = work / f"run-{name}"
    overrides = list(RUNS[name]) + ["train.plots=false"]
    if name == "confmix":
        overrides.append(f"adapt.target_data={data['target']}")
    torch.manual_seed(0)
    start = time.monotonic()
    api.train(
        data[name], model="synth-n", epochs=epochs, imgsz=320, batch=4, out=run, seed=0, recipe="short",
        overrides=overrides, progress=False,
    )  # fmt: skip
    seconds = time.monotonic() - start
    ckpt = torch.load(run / "weights" / "last.pt", map_location="cpu", weights_only=True)
    figures = api.val(run / "weights" / "last.pt", data[name], split="val", imgsz=320)
    scores = {k: figures[k] for k in ("map50", "map50_95") if k in figures}
    rows = list(csv.DictReader((run / "results.csv").open()))
    curve = [{k: v for k, v in row.items() if k != "seconds"} for row in rows]
    return {
        "model_sha256": _digest(ckpt["model"]),
        "ema_sha256": _digest(ckpt["ema"]),
        "val_sha256": hashlib.sha256(json.dumps(scores, sort_keys=True).encode()).hexdigest(),
        "val": scores,
        "curve_sha256": hashlib.sha256(json.dumps(curve, sort_keys=True).encode()).hexdigest(),
        "last_epoch": curve[-1],
        "seconds": round(seconds, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tag", default="after")
    p.add_argument("--compare", default=None, help="tag of an earlier result whose digests must match")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--work", default="/tmp/leukodet-repro")
    args = p.parse_args()
    torch.set_num_threads(2)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = _data(work)
    runs = {}
    for name in RUNS:
        shutil.rmtree(work / f"run-{name}", ignore_errors=True)
        runs[name] = measure(name, data, work, args.epochs)
    result: dict[str, Any] = {
        "benchmark": "reproducibility",
        "tag": args.tag,
        "epochs": args.epochs,
        "runs": runs,
    }
    if args.compare:
        earlier = json.loads((RESULTS / f"reproducibility_{args.compare}.json").read_text())["runs"]
        keys = ("model_sha256", "ema_sha256", "val_sha256", "curve_sha256")
        result["compared_with"] = args.compare
        result["identical"] = {n: all(runs[n][k] == earlier[n][k] for k in keys) for n in runs}
    publish(f"reproducibility_{args.tag}", result)


if __name__ == "__main__":
    main()
