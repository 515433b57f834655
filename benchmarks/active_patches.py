"""Benchmark (issue #24): the sparse annotation loop simulated, each acquisition score against ``random``.

A fully labelled set stands in for the person: ``--dataset synth`` (200 synthetic HCM_100x_C2 fields, the 13 WBC
types collapsed to ``WBC`` beside RBC, platelets and ``None``, as ``sparse_protocol.py``) or ``bccd`` (official
splits). The training fields form an unlabelled pool, cut into ``--rounds`` chunks of ``--fields`` fields in a
fixed order. Round r: the current model proposes one patch (``--fraction`` of the field) on each field of chunk r
(``leukodet propose --score S``), the true cells centred in the patch are revealed (``restrict_to_region``: the
simulated person labels the patch completely), and the model is fine-tuned on every patch revealed so far with
the region loss (``sparse.method=region``) for ``--epochs`` fixed epochs from its round-(r-1) weights; its
best.pt is scored on the full-label test split. Every score gets the same fields, epochs and seeds; ``random``
draws the same patches ``leukodet sparsify --seed`` would. Start: ``--model`` (default the bundled synth-n).

    .venv/bin/python benchmarks/active_patches.py [--dataset synth|bccd] [--scores random,entropy,band,flip,unsure]
        [--seeds 0,1,2] [--rounds 3] [--fields 20] [--epochs 10] [--work DIR] [--set KEY=VALUE]

Fixed epochs make the figures independent of the machine's load. Each fine-tune has few optimiser steps (20
fields a round at batch 16: 2 iterations an epoch), so it uses the ``short`` recipe (AdamW, a step every
iteration; ``--recipe``): ``auto`` chose ``paper`` for the first published synthetic loop (SGD at nominal batch
64, one step every 4 iterations: 5-7 steps a 10-epoch round), whose rounds barely moved the model. The EMA is
scaled to the run (``train.ema_horizon=0.1``): with the default ramp the averaged weights stay at the start's and
best.pt is epoch 1 (a first try with 4 epochs a round chose epoch 1 in 14 of 15 runs, and every score tied with
``random``). Prints one JSON line and saves
benchmarks/results/active_patches_<dataset>.json: per score and round the test mAP50 / mAP50-95 (mean ± sd over
seeds), the labelled cells revealed, and the paired difference to ``random`` after the last round with a 95 %
interval, the top-level ``patch_fraction_to_match_random`` (:func:`fraction_to_match_random`; the issue's goal
≤ 0.6), and per run how many fields fell back to the random patch because no window scored above 0 (the model
found no cell there at ``--conf``, default 0.05). Runs already in ``--work`` are reused; ``--republish NAME``
recomputes the figures of a published result.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import torch
from result_file import RESULTS, publish
from sparse_protocol import BCCD, collapsed_synth

from leukodet import api
from leukodet.eval.paired import paired_difference
from leukodet.records.io import write_dataset
from leukodet.records.schema import Dataset
from leukodet.records.sources import load_source
from leukodet.records.sparsify import restrict_to_region


def full_data(args: argparse.Namespace, work: Path) -> Path:
    """The fully labelled set (made once under ``work/data``)."""
    full = work / "data" / "full" / "data.yaml"
    if full.exists():
        return full
    if args.dataset == "synth":
        return collapsed_synth(work / "data", 200, 640)
    return api.convert(BCCD, work / "data" / "full", "yolo", overwrite=True)


def revealed_set(ds: Dataset, regions: dict[str, tuple], out: Path) -> Path:
    """The training split as the simulated person left it (each proposed patch labelled completely, the other
    fields unlabelled and left out), val and test with full labels."""
    by_path = {str(r.path): r for r in ds.records if r.split == "train"}
    train = [restrict_to_region(by_path[p], region) for p, region in regions.items()]
    others = [r for r in ds.records if r.split in ("val", "test")]
    return write_dataset(Dataset(train + others, ds.classes, ds.attributes), out, "coco")


def one_round(
    args: argparse.Namespace, score: str, seed: int, r: int, state: dict, ds: Dataset, run: Path
) -> dict:
    """Propose on round ``r``'s fields, reveal, fine-tune and score; ``state`` carries weights and regions."""
    chunk = state["pool"][r * args.fields : (r + 1) * args.fields]
    doc = api.propose(state["weights"], [str(p) for p in chunk], run / "proposals", fraction=args.fraction,
                      score=score, seed=seed, imgsz=state["imgsz"], conf=args.conf, overwrite=True)  # fmt: skip
    for field in doc["images"]:
        state["regions"][field["source"]] = tuple(field["region"])
    data = revealed_set(ds, state["regions"], run / "data")
    if not (run / "train" / "weights" / "best.pt").is_file():
        api.train(data, model=state["weights"], epochs=args.epochs, imgsz=state["imgsz"], batch=16,
                  out=run / "train", seed=seed, progress=False,
                  overrides=["sparse.method=region", "train.finetune_lr=1", "train.ema_horizon=0.1",
                             f"train.recipe={args.recipe}", *args.sets])  # fmt: skip
    state["weights"] = str(run / "train" / "weights" / "best.pt")
    test = api.val(state["weights"], data, split="test", imgsz=state["imgsz"])
    cells = sum(len(restrict_to_region(r, state["regions"][str(r.path)]).cells) for r in ds.records
                if str(r.path) in state["regions"])  # fmt: skip
    fallbacks = sum(bool(f["fallback"]) for f in doc["images"]) if score != "random" else None
    return {"score": score, "seed": seed, "round": r + 1, "fields": len(state["regions"]), "cells": cells,
            "fallbacks": fallbacks, "map50": test["map50"], "map50_95": test["map50_95"]}  # fmt: skip


def summary(runs: list[dict], scores: list[str], rounds: int) -> dict:
    out: dict = {}
    for score in scores:
        per_round = []
        for r in range(1, rounds + 1):
            rows = [x for x in runs if x["score"] == score and x["round"] == r]
            per_round.append({k: {"mean": round(statistics.mean(x[k] for x in rows), 4),
                                  "sd": round(statistics.stdev(x[k] for x in rows), 4) if len(rows) > 1 else None}
                              for k in ("map50", "map50_95", "cells")})  # fmt: skip
        out[score] = {"rounds": per_round}
        last = {x["seed"]: x for x in runs if x["score"] == score and x["round"] == rounds}
        base = {x["seed"]: x for x in runs if x["score"] == "random" and x["round"] == rounds}
        if score != "random" and base:
            out[score]["vs_random"] = {k: paired_difference({s: v[k] for s, v in last.items()},
                                                            {s: v[k] for s, v in base.items()})
                                       for k in ("map50", "map50_95")}  # fmt: skip
    return out


def fraction_to_match_random(summary_doc: dict, key: str = "map50_95") -> dict:
    """Issue #24's figure: for each score, the share of random's patches (rounds × fields) after which its mean
    ``key`` first reaches random's after the last round, linearly interpolated between rounds (round 0 = the
    start, never reached); ``None`` when it never does. ``best`` is the score that needs the smallest share."""
    rounds = summary_doc["random"]["rounds"]
    target, n = rounds[-1][key]["mean"], len(rounds)
    shares: dict[str, float | None] = {}
    for score, doc in summary_doc.items():
        curve = [r[key]["mean"] for r in doc["rounds"]]
        hit = next((i for i, v in enumerate(curve) if v >= target), None)
        if hit is None:
            shares[score] = None
        elif hit == 0:
            shares[score] = round(1 / n, 4)
        else:  # between round `hit` (share hit / n) and round `hit + 1` (share (hit + 1) / n)
            lo, hi = curve[hit - 1], curve[hit]
            shares[score] = round((hit + (target - lo) / (hi - lo)) / n, 4)
    reached = {s: v for s, v in shares.items() if s != "random" and v is not None}
    best = min(reached, key=reached.get) if reached else None  # type: ignore[arg-type]
    return {"per_score": shares, "best": best, "value": reached.get(best) if best else None, "goal": "<= 0.6",
            "target": {key: target, "rounds": n}}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["synth", "bccd"], default="synth")
    p.add_argument("--scores", default="random,entropy,band,flip,unsure")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--fields", type=int, default=20)
    p.add_argument("--fraction", type=float, default=0.2)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument(
        "--conf", type=float, default=0.05, help="the proposals' detection floor (scores see fainter cells)"
    )
    p.add_argument("--model", default="synth-n")
    p.add_argument(
        "--recipe", choices=["short", "paper", "auto"], default="short",
        help="the fine-tunes' recipe (auto picks paper here: 5-7 SGD steps a 10-epoch round)",
    )  # fmt: skip
    p.add_argument("--imgsz", type=int, default=None, help="default: 256 (synth), 416 (bccd)")
    p.add_argument("--set", dest="sets", action="append", default=[])
    p.add_argument("--work", default=None)
    p.add_argument("--republish", default=None, metavar="NAME", help="recompute a published result's figures")
    args = p.parse_args()
    if args.republish:
        doc = json.loads((RESULTS / f"{args.republish}.json").read_text())
        doc["patch_fraction_to_match_random"] = fraction_to_match_random(doc["summary"])
        publish(args.republish, doc)
        return
    work = Path(args.work or f"/tmp/leukodet-active-{args.dataset}")
    ds, _ = load_source(full_data(args, work))
    pool = sorted(str(r.path) for r in ds.records if r.split == "train")
    if len(pool) < args.rounds * args.fields:
        sys.exit(f"the training split has {len(pool)} fields, fewer than {args.rounds} x {args.fields}")
    imgsz = args.imgsz or (256 if args.dataset == "synth" else 416)
    scores, runs = args.scores.split(","), []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for score in scores:
            state = {"weights": args.model, "regions": {}, "pool": pool, "imgsz": imgsz}
            for r in range(args.rounds):
                runs.append(
                    one_round(args, score, seed, r, state, ds, work / f"{score}_s{seed}" / f"r{r + 1}")
                )
                print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    publish(f"active_patches_{args.dataset}", {
        "benchmark": "active_patches", "dataset": args.dataset, "imgsz": imgsz, "start": args.model,
        "rounds": args.rounds, "fields_per_round": args.fields, "fraction": args.fraction,
        "epochs_per_round": args.epochs, "recipe": args.recipe, "proposal_conf": args.conf, "seeds": args.seeds, "overrides": args.sets,
        "cpu_cores": len(os.sched_getaffinity(0)), "torch_threads": torch.get_num_threads(),
        "summary": (table := summary(runs, scores, args.rounds)),
        "patch_fraction_to_match_random": fraction_to_match_random(table), "runs": runs,
    })  # fmt: skip


if __name__ == "__main__":
    main()
