"""Prediction outputs of ``leukodet predict``: one JSON per image, one CSV per run or shard, annotated PNGs.

Each image's PNG and JSON are written (atomically) as soon as it is predicted; the CSV is rebuilt from the
JSONs at the end, so a resumed run still lists every image.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..eval.annotate import draw_prediction
from ..records.files import atomic_write_bytes, atomic_write_text
from ..records.prediction import FieldPrediction, Prediction
from .sources import Source, source_stem

log = logging.getLogger(__name__)

__all__ = [
    "csv_name",
    "output_names",
    "prediction_json",
    "write_csv",
    "write_image_outputs",
]

CSV_FIELDS = ("image", "class", "score", "x0", "y0", "x1", "y1")


def prediction_json(pred: Prediction, model: str) -> dict[str, object]:
    """``{"image", "width", "height", "model", "cells": [{"box", "class", "score", "attributes"}]}``."""
    doc = pred.to_json()
    return {
        "image": doc["image"],
        "width": doc["width"],
        "height": doc["height"],
        "model": model,
        "cells": doc["cells"],
    }


def output_names(paths: Sequence[Source]) -> list[str]:
    """Output names per image: the stem, suffixed ``_1``, ``_2`` … for later inputs that share it.

    Computed on the whole (sorted) input list, so every shard of a run gives an image the same name.
    """
    seen: dict[str, int] = {}
    names = []
    for p in paths:
        stem = source_stem(p)
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        names.append(stem if n == 0 else f"{stem}_{n}")
    return names


def write_image_outputs(
    out: Path, field: FieldPrediction, name: str, model: str, annotate: bool = True
) -> None:
    """Write ``out/<name>.png`` (the field's decoded pixels annotated; optional) then ``out/<name>.json``, each
    atomically.

    The JSON is written last: its presence marks the image as done (what a resumed run skips).
    """
    pred = field.prediction
    if pred is None or field.image is None:
        raise ValueError(f"{field.path}: no prediction to write ({field.reason})")
    if annotate:
        image = draw_prediction(field.image, pred)
        ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if ok:
            atomic_write_bytes(out / f"{name}.png", np.asarray(png).tobytes())
    atomic_write_text(out / f"{name}.json", json.dumps(prediction_json(pred, model), indent=1) + "\n")


def csv_name(shard: tuple[int, int] | None) -> str:
    """``predictions.csv`` for a whole run, ``predictions.shard{i}of{N}.csv`` for shard ``i`` of ``N > 1``."""
    if shard is None or shard[1] == 1:
        return "predictions.csv"
    return f"predictions.shard{shard[0]}of{shard[1]}.csv"


def write_csv(path: Path, items: Sequence[tuple[Source, Path]]) -> int:
    """Write the run CSV from the per-image JSONs: ``items`` are ``(source image, its JSON)``.

    Rows follow ``items`` (images without a JSON are left out); returns the number of cell rows.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    rows = 0
    for source, doc_path in items:
        if not doc_path.is_file():
            continue
        for cell in json.loads(doc_path.read_text())["cells"]:
            writer.writerow(
                [str(source), cell["class"], f"{cell['score']:.5f}", *(f"{v:.2f}" for v in cell["box"])]
            )
            rows += 1
    atomic_write_text(path, buf.getvalue())
    return rows
