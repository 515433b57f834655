"""Benchmark (issue #23): what the AttriHead sees, switch by switch, each head trained on one frozen detector.

A detector is trained once without the head (``--detector-epochs``, from ``--model``, default the bundled
``synth-n``; attributes off). Then for every variant and seed the AttriHead alone is trained on it, frozen
(``train.freeze_detector``, ``--head-epochs`` fixed), and scored with its ``last.pt`` on the evaluation split:
every variant sees the same detections, so a difference is the head's. Variants (``attrihead.*`` switches,
docs/attributes.md): ``paper`` (the defaults), ``square`` (``roi=[32,32]``), ``stride16`` (``taps`` adds
``c3_p4``), ``context`` (``context=0.2``), ``flip`` (the ``paper`` head evaluated with ``flip_tta``: no training
of its own) and ``all`` (square + stride16 + context, evaluated with the mirror view). Per variant: mean attribute
accuracy and macro-F1 (mean ± sd over seeds), each attribute's accuracy / macro-F1 / F1 of the positive value,
the paired difference to ``paper`` per seed with a 95 % interval, and the seconds per field of detector + head
(``--latency``: 2 threads, batch 1, one 640² field with 12 cells; run it on a quiet machine).

    .venv/bin/python benchmarks/attrihead_switches.py [--data synth|wbcatt] [--seeds 0,1,2]
        [--detector-epochs 12] [--head-epochs 8] [--variants paper,square,...] [--work DIR] [--latency]

Both stages use the ``short`` recipe (``--recipe``): a few hundred fields at batch 16 make a few steps an epoch, too
few for the ``paper`` SGD recipe at nominal batch 64. Fixed epochs and seeded batches make the accuracy figures
load-independent; finished runs in ``--work`` are reused.
Prints one JSON line and saves benchmarks/results/attrihead_switches_<data>.json.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from result_file import publish

from leukodet import api
from leukodet.config import load_config
from leukodet.eval.paired import paired_difference
from leukodet.infer.config import InferConfig
from leukodet.infer.predictor import Detector
from leukodet.model.checkpoint import load_checkpoint, save_checkpoint
from leukodet.model.registry import create_model
from leukodet.records.sources import load_source

ROOT = Path(__file__).resolve().parents[1]
WBCATT = ROOT.parent / "shared" / "data" / "wbcatt"
VARIANTS: dict[str, list[str]] = {
    "paper": [],
    "square": ["attrihead.roi=[32,32]"],
    "stride16": ["attrihead.taps=stem,c3_p3,c3_p4"],
    "context": ["attrihead.context=0.2"],
    "flip": [],  # the paper head's checkpoint with the mirror view switched on
    "all": ["attrihead.roi=[32,32]", "attrihead.taps=stem,c3_p3,c3_p4", "attrihead.context=0.2"],
}
FLIPPED = ("flip", "all")


def dataset(args: argparse.Namespace, work: Path) -> tuple[Path, str]:
    """The data set and the split scored: synthetic LLD fields (7 binary attributes; test) or WBCAtt (val)."""
    if args.data == "wbcatt":
        return WBCATT, "val"
    data = work / "data" / "data.yaml"
    return (
        data if data.exists() else api.synth(work / "data", images=args.images, seed=0, progress=False)
    ), "test"


def with_flip(weights: Path) -> Path:
    """A copy of a checkpoint whose model config turns the head's test-time mirror view on."""
    out = weights.with_name(weights.stem + "_flip.pt")
    if not out.exists():
        ckpt = load_checkpoint(weights)
        meta = ckpt["metadata"]
        meta["model_config"]["attribute_flip"] = True
        save_checkpoint(out, ckpt["model"], meta, ema=ckpt["ema"])
    return out


def head_run(
    args: argparse.Namespace, variant: str, seed: int, detector: Path, data: Path, work: Path
) -> Path:
    """The head of ``variant`` trained for ``--head-epochs`` on the frozen detector: its ``last.pt``."""
    run = work / f"{'paper' if variant == 'flip' else variant}_s{seed}"
    if not (run / "weights" / "last.pt").exists():
        api.train(data, model=str(detector), epochs=args.head_epochs, imgsz=args.imgsz, batch=16, out=run,
                  seed=seed, progress=False, recipe=args.recipe, resume=(run / "weights" / "last.pt").exists(),
                  overrides=["train.freeze_detector=true", "train.plots=false", *VARIANTS[variant]])  # fmt: skip
    last = run / "weights" / "last.pt"
    return with_flip(last) if variant in FLIPPED else last


def score(weights: Path, data: Path, split: str, imgsz: int) -> dict:
    m = api.val(weights, data, split=split, imgsz=imgsz)
    mean = m["attributes_mean"]
    return {
        "accuracy": round(mean["accuracy"], 4), "macro_f1": round(mean["macro_f1"], 4),
        "attributes": {k: {x: (None if v[x] is None else round(v[x], 4)) for x in ("accuracy", "macro_f1", "f1")}
                       for k, v in m["attributes"].items()},
    }  # fmt: skip


def latency(variant: str, data: Path) -> float:
    """Seconds per field (median of 20 after 2 warm-ups) of detector + head at 2 threads, batch 1."""
    torch.set_num_threads(2)
    ds, _ = load_source(data)
    schema = ds.attributes.to_mapping()
    fields = {"paper": {}, "flip": {"attribute_flip": True}}.get(variant)
    if fields is None:
        cfg = load_config(overrides=VARIANTS[variant]).attrihead.model_fields()
        fields = cfg | {"attribute_flip": variant in FLIPPED}
    torch.manual_seed(0)
    model = create_model(
        "n", len(ds.classes), attribute_sizes=tuple(len(v) for v in schema.values()), **fields
    )
    det = Detector.of_network(model, ds.classes, 640, schema)
    image = np.random.default_rng(0).integers(0, 255, (640, 640, 3), dtype=np.uint8)
    times = []
    for _ in range(22):
        start = time.perf_counter()
        det.predict([image], cfg=InferConfig(conf=0.0, max_det=12, imgsz=640))
        times.append(time.perf_counter() - start)
    return round(statistics.median(times[2:]), 4)


def summarise(runs: list[dict], variants: list[str]) -> dict:
    out: dict = {}
    for v in variants:
        rows = [r for r in runs if r["variant"] == v]
        out[v] = {k: {"mean": round(statistics.mean(r[k] for r in rows), 4),
                      "sd": round(statistics.stdev(r[k] for r in rows), 4) if len(rows) > 1 else None}
                  for k in ("accuracy", "macro_f1")}  # fmt: skip
        if v != "paper":
            base = {r["seed"]: r for r in runs if r["variant"] == "paper"}
            mine = {r["seed"]: r for r in rows}
            out[v]["vs_paper"] = {k: paired_difference({s: r[k] for s, r in mine.items()},
                                                       {s: r[k] for s, r in base.items()})
                                  for k in ("accuracy", "macro_f1")}  # fmt: skip
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["synth", "wbcatt"], default="synth")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--detector-epochs", type=int, default=12)
    p.add_argument("--head-epochs", type=int, default=8)
    p.add_argument("--model", default="synth-n")
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--imgsz", type=int, default=None, help="default: 256 (synth), 320 (wbcatt)")
    p.add_argument("--work", default=None)
    p.add_argument("--latency", action="store_true")
    p.add_argument("--name", default=None, help="result file name (default attrihead_switches_<data>)")
    p.add_argument("--recipe", default="short", help="both stages' recipe (few steps an epoch: AdamW)")
    args = p.parse_args()
    args.imgsz = args.imgsz or (256 if args.data == "synth" else 320)
    work = Path(args.work or f"/tmp/leukodet-attrihead-{args.data}")
    data, split = dataset(args, work)
    det_run = work / "detector"
    if not (det_run / "weights" / "last.pt").exists():
        api.train(data, model=args.model, epochs=args.detector_epochs, imgsz=args.imgsz, batch=16, out=det_run,
                  seed=0, progress=False, recipe=args.recipe, resume=(det_run / "weights" / "last.pt").exists(),
                  overrides=["train.attributes=false", "train.plots=false"])  # fmt: skip
    detector = det_run / "weights" / "last.pt"
    variants, runs = args.variants.split(","), []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for v in variants:
            weights = head_run(args, v, seed, detector, data, work)
            runs.append({"variant": v, "seed": seed, **score(weights, data, split, args.imgsz)})
    publish(args.name or f"attrihead_switches_{args.data}", {
        "benchmark": "attrihead_switches", "data": args.data, "split": split, "imgsz": args.imgsz,
        "start": args.model, "detector_epochs": args.detector_epochs, "head_epochs": args.head_epochs,
        "variants": {v: VARIANTS[v] + (["attrihead.flip_tta=true"] if v in FLIPPED else []) for v in variants},
        "detector_map50": round(api.val(detector, data, split=split, imgsz=args.imgsz)["map50"], 4),
        "recipe": args.recipe,
        "summary": summarise(runs, variants),
        "latency_seconds_per_field": {v: latency(v, data) for v in variants} if args.latency else None,
        "runs": runs,
    })  # fmt: skip


if __name__ == "__main__":
    main()
