"""Benchmark (issue #17): how long the CPU pretraining recipe takes for both checkpoints on this machine, and how
a rerun compares with the bundled models.

Run the recipe first (quiet machine, each stage under ``/usr/bin/time -v`` so the wall clock is the whole command:
corpus, training, figures, release)::

    /usr/bin/time -v leukodet pretrain --out runs/recipe --setting cpu > runs/recipe/synth.log 2>&1
    /usr/bin/time -v leukodet pretrain --stage general --out runs/recipe --setting cpu \\
        --real bccd=../shared/data/bccd/BCCD --cross-lab ../shared/data/bcdd > runs/recipe/general.log 2>&1
    .venv/bin/python benchmarks/recipe_time.py --run runs/recipe

(``leukodet pretrain --stage all`` does both in one command.) Prints one JSON line and saves
benchmarks/results/recipe_time_cpu.json: each stage's wall clock and its parts (corpus, training epochs, figures),
the total against the issue's 90 minutes, the rerun's card figures beside the bundled models', and whether the
rerun's weights equal the bundled ones.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import torch
from result_file import publish

from leukodet.bundled import resolve_weights
from leukodet.engine.run_dir import finished_epochs, train_seconds
from leukodet.model.checkpoint import load_checkpoint


def wall_seconds(log: Path) -> float:
    """The ``Elapsed (wall clock)`` of a ``/usr/bin/time -v`` log, in seconds."""
    found = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", log.read_text())
    if not found:
        raise SystemExit(f"{log}: no /usr/bin/time -v wall clock in it")
    parts = [float(p) for p in found.group(1).split(":")]
    return round(sum(p * 60**i for i, p in enumerate(reversed(parts))), 1)


def compare(rerun: Path, name: str) -> dict[str, object]:
    """The rerun's card figures beside the bundled model's, and whether their EMA weights are equal."""
    new, old = load_checkpoint(rerun), load_checkpoint(resolve_weights(name))
    a, b = new["model"], old["model"]
    equal = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    return {
        "weights_equal_to_bundled": equal,
        "max_abs_weight_difference": 0.0 if equal else max(float((a[k].float() - b[k].float()).abs().max()) for k in a),
        "figures_rerun": new["metadata"]["card"]["figures"],
        "figures_bundled": old["metadata"]["card"]["figures"],
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default="runs/recipe")
    args = p.parse_args()
    run = Path(args.run)
    stages = {
        "synth-n": {"wall_seconds": wall_seconds(run / "synth.log"), "train_seconds": train_seconds(run / "run"),
                    "epochs": finished_epochs(run / "run")},
        "general-n": {"wall_seconds": wall_seconds(run / "general.log"),
                      "train_seconds": train_seconds(run / "general" / "run"),
                      "epochs": finished_epochs(run / "general" / "run")},
    }  # fmt: skip
    total = sum(s["wall_seconds"] for s in stages.values())
    publish("recipe_time_cpu", {
        "benchmark": "recipe_time", "setting": "cpu", "cpu_cores": len(os.sched_getaffinity(0)),
        "stages": stages, "total_minutes": round(total / 60, 1), "limit_minutes": 90, "within_limit": total <= 5400,
        "compared": {name: compare(run / f"{name}.pt", name) for name in stages},
    })  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
