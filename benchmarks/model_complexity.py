"""Benchmark: parameters and GFLOPs of every registered preset at 640x640 with the 14 LLD classes.

    .venv/bin/python benchmarks/model_complexity.py

Prints one JSON line and saves it to benchmarks/results/model_complexity.json.
"""

from __future__ import annotations

from pathlib import Path

from result_file import publish

from leukodet.model.complexity import model_info
from leukodet.model.registry import create_model, list_models

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    presets = {}
    for name in list_models():
        info = model_info(create_model(name, 14), imgsz=640)
        presets[name] = {"params": int(info["params"]), "gflops": round(float(info["gflops"]), 2)}
    publish(
        "model_complexity",
        {"benchmark": "model_complexity", "imgsz": 640, "num_classes": 14, "presets": presets},
    )


if __name__ == "__main__":
    main()
