"""Benchmark (issue #27, paper Table 6): ConfMix and DACA against source-only fine-tuning, fixed epochs, paired seeds.

The protocol of a method comparison: one source-only detector is trained from scratch (``--source-epochs``,
seed 0, no attributes); every method then fine-tunes *that* checkpoint for the same ``--epochs`` with each of
``--seeds``:

* ``source+ft``: source images only (the same extra compute without the target: the baseline);
* ``confmix``: ``--adapt confmix`` (Mattolin et al., WACV 2023), target images unlabelled;
* ``daca``: ``--adapt daca`` (Mekhalfi et al., BMVC 2023), target images unlabelled.

A seed fixes the batch order and augmentation of all three, so the per-seed difference to ``source+ft`` (and
DACA's to ConfMix) removes most of the seed spread; each gets a 95 % Student-t interval. Fixed epochs make the
figures independent of the machine's load (two processes may share the cores). Settings as in
``adapt_confmix.py``: ``synth`` (HCM_100x_C2 → LCM_100x_C2, the paper's pair, WBC detection, imgsz 320) or
``bccd`` (BCCD → BCDD, imgsz 416; BCDD's labels only score, they never train).

    .venv/bin/python benchmarks/adapt_table6.py --setting synth [--source-epochs 20] [--epochs 6] [--seeds 0,1,2]
        [--methods source+ft,confmix,daca] [--fields 400] [--work DIR]

Prints one JSON line and saves benchmarks/results/adapt_table6_<setting>.json beside the paper's Table 6
(YOLOv5x source-only 25.5 mAP50 → ConfMix 33.5, DACA 30.2 on HCM_100x_C2 → LCM_100x_C2). Runs already
finished in ``--work`` are reused.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from adapt_confmix import PAPER, _data, _matrix, _score
from result_file import publish

from leukodet import api
from leukodet.eval.paired import by_seed, paired_difference

ADAPT = {"source+ft": [], "confmix": ["adapt.method=confmix"], "daca": ["adapt.method=daca"]}
COMPARE = {"confmix": ("source+ft",), "daca": ("source+ft", "confmix")}
KEYS = ("target_map50", "target_map50_95", "source_map50", "source_map50_95")


def _fit(data: Path, out: Path, epochs: int, imgsz: int, model: str, seed: int, extra: list[str]) -> Path:
    """best.pt of one fixed-epoch run (trained unless ``out`` already holds a finished one)."""
    best = out / "weights" / "best.pt"
    if not (best.exists() and (out / "results.csv").exists()):
        api.train(data, model=model, epochs=epochs, imgsz=imgsz, batch=16, out=out, seed=seed,
                  overrides=["train.plots=false", "train.attributes=false", *extra], progress=False)  # fmt: skip
    return best


def summarise(rows: list[dict], methods: list[str]) -> dict:
    """Per method mean ± sd of each score, and the paired difference to ``source+ft`` (and DACA − ConfMix)."""
    out: dict[str, dict] = {}
    for m in methods:
        per = {k: [r[k] for r in rows if r["method"] == m] for k in KEYS}
        out[m] = {k: {"mean": round(statistics.mean(v), 4), "sd": round(statistics.stdev(v), 4) if len(v) > 1
                      else None} for k, v in per.items() if v}  # fmt: skip
        for base in COMPARE.get(m, ()):
            if base in methods:
                out[m][f"vs_{base}"] = {
                    k: paired_difference(by_seed(rows, m, k), by_seed(rows, base, k)) for k in KEYS
                }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", choices=["synth", "bccd"], default="synth")
    p.add_argument("--source-epochs", type=int, default=20)
    p.add_argument("--epochs", type=int, default=6, help="fine-tuning epochs of every method")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--methods", default="source+ft,confmix,daca")
    p.add_argument("--fields", type=int, default=400, help="synthetic fields per domain (80/10/10 splits)")
    p.add_argument(
        "--set", dest="sets", action="append", default=[], help="config override of every fine-tune"
    )
    p.add_argument("--work", default=None, help="default: /tmp/leukodet-table6-<setting>")
    args = p.parse_args()
    methods = args.methods.split(",")
    if unknown := [m for m in methods if m not in ADAPT]:
        raise SystemExit(f"unknown method(s) {unknown}: choose from {sorted(ADAPT)}")
    work = Path(args.work or f"/tmp/leukodet-table6-{args.setting}")
    source, target, split, imgsz = _data(args.setting, work, args.fields)
    base = _fit(source, work / "runs" / "source", args.source_epochs, imgsz, "n", 0, [])
    weights: dict[str, Path] = {"source": base}
    for seed in [int(s) for s in args.seeds.split(",")]:
        for m in methods:
            extra = [*ADAPT[m], f"adapt.target_data={target}"] if ADAPT[m] else []
            out = work / "runs" / f"{m.replace('+', '_')}_s{seed}"
            weights[f"{m}|{seed}"] = _fit(source, out, args.epochs, imgsz, str(base), seed, extra + args.sets)
    if args.setting == "synth":
        scores = _matrix(work, weights)
    else:
        scores = {name: _score(w, source, target, split) for name, w in weights.items()}
    rows = [{"method": n.split("|")[0], "seed": int(n.split("|")[1]), **{k: round(v, 4) for k, v in s.items()}}
            for n, s in scores.items() if "|" in n]  # fmt: skip
    start = {k: round(v, 4) for k, v in scores["source"].items()}
    publish(
        f"adapt_table6_{args.setting}",
        {
            "benchmark": "adapt_table6",
            "setting": args.setting,
            "imgsz": imgsz,
            "source_epochs": args.source_epochs,
            "finetune_epochs": args.epochs,
            "seeds": [int(s) for s in args.seeds.split(",")],
            "overrides": args.sets,
            "source_only": start,
            "domain_gap_map50": round(start["source_map50"] - start["target_map50"], 4),
            "summary": summarise(rows, methods),
            "runs": rows,
            "paper_table6": PAPER,
        },
    )


if __name__ == "__main__":
    sys.exit(main())
