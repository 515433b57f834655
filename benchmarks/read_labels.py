"""Benchmark: read and validate 10,000 YOLO-family label files (Sparse-LeukemiaAttri 16-column lines).

Builds a throw-away dataset in a temporary folder (tiny same-size PNGs, 4 boxes per file, 1% malformed
lines), then times ``load_source`` (image headers + parsing + D14 order detection + validation) end to end.
Prints one JSON line and saves it to ``benchmarks/results/read_labels.json``.

    .venv/bin/python benchmarks/read_labels.py [--files 10000]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from result_file import publish

from leukodet.records import load_source

RESULTS = Path(__file__).resolve().parent / "results"


def build(root: Path, files: int, seed: int = 0) -> int:
    """Write ``files`` images + 16-column label files; returns the number of malformed lines planted."""
    rng = np.random.default_rng(seed)
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    png = root / "blank.png"
    Image.new("RGB", (640, 640), (200, 190, 180)).save(png)
    data = png.read_bytes()
    bad = 0
    for i in range(files):
        (root / "images" / "train" / f"f{i:05d}.png").write_bytes(data)
        x1, y1 = rng.uniform(0, 400, 2)
        lines = []
        for _ in range(4):
            cx, cy = (x1 + rng.uniform(20, 220)) / 640, (y1 + rng.uniform(20, 200)) / 640
            attrs = " ".join(str(v) for v in rng.integers(0, 2, 7))
            lines.append(
                f"{rng.integers(0, 14)} {cx:.6f} {cy:.6f} 0.06 0.07 {x1:.0f} {y1:.0f} {x1 + 240:.0f} {y1 + 240:.0f} {attrs}"
            )
        if rng.random() < 0.01:
            lines.append("3 0.5 0.5 0.1")
            bad += 1
        (root / "labels" / "train" / f"f{i:05d}.txt").write_text("\n".join(lines) + "\n")
    (root / "data.yaml").write_text(
        "names: 14\ntrain: images/train\n".replace(
            "names: 14", "names: [" + ", ".join(f"c{i}" for i in range(14)) + "]"
        )
    )
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        planted = build(root, args.files)
        t0 = time.perf_counter()
        ds, diag = load_source(root / "data.yaml")
        seconds = time.perf_counter() - t0
    boxes = ds.num_boxes()
    result = {
        "benchmark": "read_labels",
        "format": "lld16",
        "files": args.files,
        "boxes": boxes,
        "malformed_lines_planted": planted,
        "problems_reported": len(diag.problems),
        "seconds": round(seconds, 3),
        "files_per_s": round(args.files / seconds, 1),
        "boxes_per_s": round(boxes / seconds, 1),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    result["problem_reasons"] = {s: diag.counts(s) for s in ds.splits}
    assert len(diag.problems) == planted, f"every malformed line must be reported: {result}"
    publish("read_labels", result)


if __name__ == "__main__":
    main()
