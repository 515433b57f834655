"""Batch prediction into a folder: deterministic shards, resume, per-image outputs, throughput progress.

**Shards.** The expanded, sorted input list is numbered ``k = 0 … n-1``; shard ``i`` of ``N`` takes the images
with ``k % N == i``. Output names (stem, ``_1`` … on collisions) are computed on the whole list before
sharding, so every shard names an image the same way and all shards can write into one folder; shard ``i``
writes its CSV as ``predictions.shard{i}of{N}.csv`` (``predictions.csv`` when ``N = 1``).

**Unreadable images.** An image that does not decode (truncated, corrupt, not an image) is reported once with
its reason, left out, and listed in ``<csv>.unreadable.csv`` (``image,reason``) and ``errors.jsonl`` (one
``{"image", "error"}`` line each; ``errors.shard{i}of{N}.jsonl`` for a shard); the others are predicted as
usual. The caller decides whether that is fatal (``leukodet predict --strict``).

**Resume.** With ``resume`` an image whose ``<name>.json`` already exists in the folder is skipped. Each
image's PNG and then JSON are written atomically as soon as it is predicted, so an interrupted run loses at
most the images of the batch in flight. The CSV is rebuilt at the end from the JSONs of all the shard's
images (skipped ones included). A skipped JSON is not checked against the current weights or options.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..records.files import atomic_write_text
from ..records.prediction import FieldPrediction, Prediction
from .config import InferConfig
from .fields import decode_field, predict_fields
from .outputs import csv_name, output_names, write_csv, write_image_outputs
from .predictor import Detector
from .sharding import shard_indices

__all__ = ["checked_images", "fields_of_run", "finish_run", "pending", "predict_to_folder"]

log = logging.getLogger(__name__)


def _rate_postfix(fields: int, cells: int, seconds: float) -> str:
    per_min = 60.0 / max(seconds, 1e-9)
    return f"{fields * per_min:.1f} fields/min, {cells * per_min:.0f} cells/min"


def predict_to_folder(
    det: Detector,
    paths: Sequence[Path],
    out: Path,
    model_name: str,
    *,
    shard: tuple[int, int] | None = None,
    cfg: InferConfig | None = None,
    resume: bool = True,
    annotate: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Predict this shard's images of ``paths`` into ``out`` (JSON + PNG per image, CSV per shard).

    Args:
        det: the loaded detector.
        paths: the whole expanded, sorted input list (the same for every shard).
        out: output folder (created).
        model_name: recorded in each JSON.
        shard: ``(i, N)`` or ``None`` for all images.
        resume: skip images whose JSON exists in ``out``.
        annotate: also write annotated PNGs.
        progress: tqdm bar on stderr with fields/min and cells/min.
        cfg: thresholds, size, tiling and batch (default: the detector's ``infer``).

    Returns:
        ``{"images": [this shard's paths that were read], "predicted": n, "skipped": n, "cells": n, "csv": path,
        "unreadable": [(path, reason)]}``.
    """
    out.mkdir(parents=True, exist_ok=True)
    names = output_names(paths)
    mine = shard_indices(len(paths), shard)
    todo = pending(out, names, mine, resume)
    bad: dict[int, str] = {}
    write = lambda k, f: write_image_outputs(out, f, names[k], model_name, annotate)  # noqa: E731
    cells = _run_batches(det, paths, todo, cfg or det.infer, bad, write, progress)
    return finish_run(out, paths, names, mine, todo, bad, cells, shard)


def pending(out: Path, names: Sequence[str], mine: Sequence[int], resume: bool) -> list[int]:
    """The images of ``mine`` still to predict: all, or with ``resume`` those without a JSON in ``out``."""
    todo = [k for k in mine if not (resume and (out / f"{names[k]}.json").is_file())]
    if len(todo) < len(mine):
        log.info("%s: %d of %d images already predicted, skipped", out, len(mine) - len(todo), len(mine))
    return todo


def finish_run(
    out: Path,
    paths: Sequence[Path],
    names: Sequence[str],
    mine: Sequence[int],
    todo: Sequence[int],
    bad: dict[int, str],
    cells: int,
    shard: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The end of a run, whichever engine predicted it: the CSV rebuilt from every read image's JSON, the
    unreadable images listed (``<csv>.unreadable.csv`` and ``errors.jsonl``, one row each) and the summary."""
    csv_path = out / csv_name(shard)
    write_csv(csv_path, [(paths[k], out / f"{names[k]}.json") for k in mine if k not in bad])
    unreadable = [(paths[k], bad[k]) for k in mine if k in bad]
    listing = csv_path.with_suffix(".unreadable.csv")
    errors = out / (csv_path.stem.replace("predictions", "errors") + ".jsonl")
    if unreadable:
        _write_unreadable(listing, unreadable)
        lines = [json.dumps({"image": str(p), "error": reason}) for p, reason in unreadable]
        atomic_write_text(errors, "\n".join(lines) + "\n")
    else:  # left by an earlier run whose images have since been fixed
        listing.unlink(missing_ok=True)
        errors.unlink(missing_ok=True)
    return {
        "images": [paths[k] for k in mine if k not in bad],
        "predicted": len(todo) - len(bad),
        "skipped": len(mine) - len(todo),
        "cells": cells,
        "csv": csv_path,
        "unreadable": unreadable,
    }


def _run_batches(
    det: Detector,
    paths: Sequence[Path],
    todo: list[int],
    cfg: InferConfig,
    bad: dict[int, str],
    write: Any,
    progress: bool,
) -> int:
    """Predict ``todo`` batch by batch, writing each image's outputs as it comes; records each image that does
    not decode in ``bad`` (index → reason); returns the cells found."""
    cells, start = 0, time.monotonic()
    bar = tqdm(total=len(todo), desc="predict", unit="field", file=sys.stderr, disable=not progress)
    with bar:
        for k, field in zip(todo, predict_fields(det, [paths[k] for k in todo], cfg)):
            if field.prediction is None:
                bad[k] = field.reason
            else:
                write(k, field)
                cells += len(field.prediction)
            bar.update(1)
            bar.set_postfix_str(_rate_postfix(bar.n, cells, time.monotonic() - start))
    return cells


def _write_unreadable(path: Path, rows: list[tuple[Path, str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["image", "reason"])
    writer.writerows([str(p), reason] for p, reason in rows)
    atomic_write_text(path, buf.getvalue())


def fields_of_run(
    out: Path, paths: Sequence[Path], unreadable: Sequence[tuple[Path, str]], class_names: Sequence[str]
) -> Iterator[FieldPrediction]:
    """A finished run's fields in input order, as a film report reads them (lazily, one at a time): each read
    image's prediction from its JSON in ``out`` with its pixels decoded again (for the report's crops), an
    unreadable one with its reason. The same for every engine, since both leave the same files."""
    bad = {str(p): reason for p, reason in unreadable}
    for path, name in zip(paths, output_names(paths)):
        if str(path) in bad:
            yield FieldPrediction(str(path), None, None, bad[str(path)])
            continue
        doc = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        pred = replace(Prediction.from_json(doc, class_names), image=str(path))
        _, image, reason = decode_field(path)
        yield FieldPrediction(str(path), image, pred, reason)


def checked_images(result: dict[str, Any], strict: bool) -> list[Path]:
    """The images a run read; ``DataError`` for its unreadable ones when ``strict`` or when none was read."""
    from ..records.diagnostics import DataError

    unreadable = result["unreadable"]
    if unreadable and (strict or not result["images"]):
        listed = "; ".join(f"{p}: {why}" for p, why in unreadable[:5])
        more = f" (and {len(unreadable) - 5} more)" if len(unreadable) > 5 else ""
        what = "no image could be read" if not result["images"] else f"{len(unreadable)} unreadable images"
        raise DataError(f"{what}: {listed}{more}")
    return list(result["images"])
