"""Prediction outputs of ``leukodet predict``: one JSON per image, one CSV per run or shard, annotated PNGs.

Each image's PNG and JSON are written (atomically) as soon as it is predicted; the CSV is rebuilt from the
JSONs at the end, so a resumed run still lists every image.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import mimetypes
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..eval.annotate import draw_prediction
from ..records.files import atomic_write_bytes, atomic_write_text
from ..records.images import IMAGE_SUFFIXES
from ..records.prediction import FieldPrediction, Prediction

log = logging.getLogger(__name__)

__all__ = [
    "csv_name",
    "expand_sources",
    "output_names",
    "prediction_json",
    "write_csv",
    "write_image_outputs",
]

CSV_FIELDS = ("image", "class", "score", "x0", "y0", "x1", "y1")


LIST_SUFFIXES = (".txt", ".lst")
"""A source with one of these suffixes is a list file: one image path per line (relative to the list's folder;
blank lines and ``#`` comments skipped)."""


def _list_file(path: Path) -> list[Path]:
    """The images a list file names; a ``FileNotFoundError`` naming the list, the line and the missing path."""
    listed = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        image = path.parent / line
        if not image.is_file():
            raise FileNotFoundError(f"{path}, line {number}: no such image {image}")
        listed.append(image)
    return listed


def expand_sources(sources: Sequence[str | Path], exclude: Path | None = None) -> list[Path]:
    """Files as given, folders expanded to their images (sorted), list files (:data:`LIST_SUFFIXES`) to the
    paths they list and glob patterns (``fields/**/*.png``) to their matches (sorted); a missing source is an
    error naming it.

    Images inside the folder ``exclude`` (the output folder, which may lie inside a source folder and fills
    up with annotated PNGs while shards run) are left out, so the list is the same for every shard and re-run.
    """
    import glob

    skip = exclude.resolve() if exclude is not None else None
    out: list[Path] = []
    for src in sources:
        path = Path(src)
        if path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            out += _list_file(path)
        elif not path.exists() and glob.has_magic(str(src)):
            matches = sorted(Path(m) for m in glob.glob(str(src), recursive=True))
            out += [p for p in matches if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                    and (skip is None or skip not in p.resolve().parents)]  # fmt: skip
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            out += [p for p in found if skip is None or skip not in p.resolve().parents]
            _warn_unsupported(path)
        elif path.is_file():
            out.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such image or folder")
    if not out:
        raise FileNotFoundError(f"no images found in {', '.join(map(str, sources))}")
    return out


def _warn_unsupported(folder: Path) -> None:
    """Say which files of ``folder`` look like images (by name) but are not a supported type (a GIF, HEIC ...)."""
    odd = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() not in IMAGE_SUFFIXES
        and (mimetypes.guess_type(p.name)[0] or "").startswith("image/")
    )
    if odd:
        names = ", ".join(p.name for p in odd[:5]) + (f" and {len(odd) - 5} more" if len(odd) > 5 else "")
        log.warning(
            "%s: %d files skipped, not a supported image type (%s): %s",
            folder, len(odd), " ".join(IMAGE_SUFFIXES), names,
        )  # fmt: skip


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


def output_names(paths: Sequence[Path]) -> list[str]:
    """Output names per image: the stem, suffixed ``_1``, ``_2`` … for later inputs that share it.

    Computed on the whole (sorted) input list, so every shard of a run gives an image the same name.
    """
    seen: dict[str, int] = {}
    names = []
    for p in paths:
        n = seen.get(p.stem, 0)
        seen[p.stem] = n + 1
        names.append(p.stem if n == 0 else f"{p.stem}_{n}")
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


def write_csv(path: Path, items: Sequence[tuple[Path, Path]]) -> int:
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
