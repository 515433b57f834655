"""Prediction outputs of ``leukodet predict``: one JSON per image, one CSV for the run, annotated PNGs."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..data.dataset import load_image
from ..eval.prediction import Prediction
from ..records.files import atomic_write_bytes, atomic_write_text
from ..records.images import IMAGE_SUFFIXES
from ..report.annotate import draw_prediction

__all__ = ["expand_sources", "prediction_json", "write_outputs"]

CSV_FIELDS = ("image", "class", "score", "x0", "y0", "x1", "y1")


def expand_sources(sources: Sequence[str | Path]) -> list[Path]:
    """Files as given, folders expanded to their images (sorted); a missing source is an error naming it."""
    out: list[Path] = []
    for src in sources:
        path = Path(src)
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            out.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such image or folder")
    if not out:
        raise FileNotFoundError(f"no images found in {', '.join(map(str, sources))}")
    return out


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


def _stem_names(paths: Sequence[Path]) -> list[str]:
    """Output names per image: the stem, suffixed with a counter when two inputs share it."""
    seen: dict[str, int] = {}
    names = []
    for p in paths:
        n = seen.get(p.stem, 0)
        seen[p.stem] = n + 1
        names.append(p.stem if n == 0 else f"{p.stem}_{n}")
    return names


def write_outputs(
    out: Path, paths: Sequence[Path], preds: Sequence[Prediction], model: str, annotate: bool = True
) -> None:
    """Write ``out/<stem>.json``, ``out/predictions.csv`` and ``out/<stem>.png`` (annotated)."""
    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for path, pred, name in zip(paths, preds, _stem_names(paths)):
        atomic_write_text(out / f"{name}.json", json.dumps(prediction_json(pred, model), indent=1) + "\n")
        for cell in pred.to_json()["cells"]:
            writer.writerow(
                [str(path), cell["class"], f"{cell['score']:.5f}", *(f"{v:.2f}" for v in cell["box"])]
            )
        if annotate:
            image = draw_prediction(load_image(str(path)), pred)
            ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            if ok:
                atomic_write_bytes(out / f"{name}.png", np.asarray(png).tobytes())
    atomic_write_text(out / "predictions.csv", buf.getvalue())
