"""Benchmark: the checkpoints bundled in the package: size, SHA-256, recipe time, card figures, and what each finds
on fresh synthetic 100x fields (issue #17).

For every model in ``src/leukodet/bundled/models.json``: the file's size and SHA-256, the card's epochs, wall-clock
and figures, and a measurement of its own: ``leukodet val`` on ``--fields`` synthetic HCM_100x_C2 fields rendered
with a seed the pretraining corpus never used (``--seed``, 416 px, WBC parent class, red cells and platelets
labelled; scored on the generator's 80 % "train" split of that seed, i.e. 24 of 30 fields, none ever trained
on), reporting the ``WBC`` class (every white cell, typed or not): AP50, and precision and recall at the
operating point (conf 0.25, IoU 0.5).

    .venv/bin/python benchmarks/bundled_models.py [--fields 30] [--seed 101] [--name bundled_models]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from result_file import publish

from leukodet import api
from leukodet.bundled import bundled_models
from leukodet.model.checkpoint import load_checkpoint


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fields", type=int, default=30)
    p.add_argument("--seed", type=int, default=101)
    p.add_argument("--name", default="bundled_models")
    args = p.parse_args()
    torch.set_num_threads(2)
    out: dict = {"benchmark": "bundled_models", "fields": args.fields, "seed": args.seed, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        data = api.synth(
            Path(tmp) / "synth", images=args.fields, seed=args.seed, size=416, domain="HCM_100x_C2",
            label_rbc=True, wbc_parent=True, progress=False,
        )  # fmt: skip
        split = "train"  # the generator's 80 % split of seed --seed: fields no bundled model was trained on
        for name, entry in bundled_models().items():
            card = load_checkpoint(entry.path)["metadata"].get("card") or {}
            metrics = api.val(name, data, split=split, conf_op=0.25)
            op = metrics["operating_point"]["per_class"].get("WBC", {})
            out["models"][name] = {
                "file_mb": round(entry.path.stat().st_size / 1e6, 2),
                "sha256": entry.sha256,
                "epochs": card.get("epochs"),
                "wall_clock_seconds": card.get("wall_clock_seconds"),
                "card_figures": card.get("figures"),
                "synthetic_100x": {
                    "split": split,
                    "map50": round(metrics["map50"], 4),
                    "wbc_ap50": round(metrics["per_class"].get("WBC", {}).get("ap50", 0.0), 4),
                    "rbc_ap50": round(metrics["per_class"].get("RBC", {}).get("ap50", 0.0), 4),
                    "wbc_precision_at_0.25": round(op.get("precision", 0.0), 4),
                    "wbc_recall_at_0.25": round(op.get("recall", 0.0), 4),
                },
            }
    publish(args.name, out)


if __name__ == "__main__":
    main()
