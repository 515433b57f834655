"""The film report of a reviewed analysis, rebuilt from its stored cells by the code that made the original.

The model's report (``model_report.json``) holds every kept cell (field, box, class, score, attribute calls);
:func:`replay` applies the audit log's changes to those cells, and :func:`rebuild_report` turns them back into
per-field :class:`~leukodet.records.prediction.Prediction` objects and runs the report's own pipeline on them:
:func:`~leukodet.report.bank.bank_from_predictions` (crops and thumbnails cut from the stored field images, the
path :func:`~leukodet.report.bank.build_bank` takes after the detector) → :func:`~leukodet.report.document.
build_report` (differential, flags, morphology, text) → :func:`~leukodet.report.writers.write_report`. With no
change the rebuilt document is the original one. Cell ids do not change (no cell is ever removed: a cell that
is not a WBC moves to the class counted apart).

The rebuilt document adds ``review`` (who changed what, and which cells were reviewed) and, per cell,
``reviewed`` and, for reviewed cells, ``model_output`` (the model's own class and attribute calls).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..records.prediction import AttributeCall, Prediction
from ..records.roles import ARTEFACT, default_role
from ..report.bank import MorphologyBank, bank_from_predictions
from ..report.document import build_report
from ..report.flags import RuleSet
from ..report.writers import write_report
from .audit import AUDIT_FILE, AuditEntry
from .labels import report_rows

__all__ = [
    "MODEL_REPORT",
    "NOT_WBC",
    "apart_class",
    "apply_entry",
    "field_image",
    "load_json",
    "rebuild_report",
    "replay",
    "reviewed_bank",
]

MODEL_REPORT = "model_report.json"
"""The report as the model made it, kept unchanged once a review starts."""

NOT_WBC = "not a WBC"
"""Where a cell marked "not a WBC" goes when the model has no artefact class (counted apart, role artefact)."""

_IMAGE_SUFFIXES = (".png", ".jpg")


def apart_class(classes: Sequence[str], roles: Sequence[str] = ()) -> str:
    """The class of a cell marked not-a-WBC: the model's first artefact class (LLD ``None``), else
    :data:`NOT_WBC` (``roles``: the report's ``model.roles``; without them, the names' defaults)."""
    if len(roles) != len(classes):
        roles = [default_role(c) or "" for c in classes]
    return next((c for c, r in zip(classes, roles) if r == ARTEFACT), NOT_WBC)


def field_image(folder: Path, index: int) -> Path | None:
    """The stored image of field ``index`` as the detector read it (a TIFF's PNG copy), ``None`` if absent."""
    for suffix in _IMAGE_SUFFIXES:
        path = folder / "uploads" / f"{index:03d}{suffix}"
        if path.is_file():
            return path
    return None


def apply_entry(cell: dict[str, Any], entry: AuditEntry) -> None:
    """Apply one logged change to a report cell (an edited attribute has no score: a person set it)."""
    if entry.field == "class":
        cell["class"] = entry.after
    elif entry.field.startswith("attributes."):
        cell["attributes"][entry.field.split(".", 1)[1]] = {"value": entry.after, "score": None}


def replay(cells: Sequence[Mapping[str, Any]], entries: Sequence[AuditEntry]) -> list[dict[str, Any]]:
    """Copies of report ``cells`` with the logged changes applied in order."""
    out = [{**c, "attributes": {k: dict(v) for k, v in c["attributes"].items()}} for c in cells]
    for entry in entries:
        apply_entry(out[entry.cell], entry)
    return out


def _prediction(cells: Sequence[Mapping[str, Any]], names: Sequence[str], image: str) -> Prediction:
    calls = [{k: AttributeCall(v["value"], v["score"]) for k, v in c["attributes"].items()} for c in cells]
    return Prediction(
        np.array([c["box"] for c in cells], np.float64).reshape(-1, 4),
        np.array([c["score"] for c in cells], np.float64),
        np.array([names.index(c["class"]) for c in cells], np.int64),
        tuple(names),
        image,
        attributes=calls if any(calls) else None,
    )


def reviewed_bank(
    original: Mapping[str, Any], cells: Sequence[Mapping[str, Any]], folder: Path
) -> MorphologyBank:
    """The morphology bank of the (reviewed) ``cells`` of the analysis in ``folder``."""
    model = original["model"]
    classes = tuple(model["classes"]) or tuple(dict.fromkeys(c["class"] for c in cells))
    names = list(classes) + sorted({c["class"] for c in cells} - set(classes))
    paths, preds = [], []
    for info in original["fields"]:
        path = field_image(folder, info["index"])
        paths.append(str(path) if path is not None else info["image"])
        preds.append(_prediction([c for c in cells if c["field"] == info["index"]], names, paths[-1]))
    stored = model.get("roles") or []  # reports older than class roles have none: the names' defaults
    roles = {c: r for c, r in zip(classes, stored)} if len(stored) == len(classes) else {}
    bank = bank_from_predictions(
        preds, original["threshold"], fields=paths, schema=model["attributes"], roles=roles
    )
    labelled = tuple(replace(f, image=info["image"]) for f, info in zip(bank.fields, original["fields"]))
    return replace(bank, fields=labelled, classes=classes, roles=tuple(bank.role(c) for c in classes))


def _review_section(
    doc: dict[str, Any],
    model_cells: Sequence[Mapping[str, Any]],
    entries: Sequence[AuditEntry],
    kept: Sequence[AuditEntry],
) -> None:
    """Add ``review`` and the per-cell ``reviewed`` / ``model_output`` keys to ``doc`` (``entries``: the log rows
    that concern the report, undo rows included; ``kept``: the report rows in force)."""
    reviewed = sorted({e.cell for e in kept})
    changed = []
    for cell, model in zip(doc["cells"], model_cells):
        cell["reviewed"] = cell["id"] in reviewed
        if cell["reviewed"]:
            cell["model_output"] = {"class": model["class"], "attributes": model["attributes"]}
        values = {k: v["value"] for k, v in cell["attributes"].items()}
        if cell["class"] != model["class"] or values != {
            k: v["value"] for k, v in model["attributes"].items()
        }:
            changed.append(cell["id"])
    doc["review"] = {
        "reviewed_cells": reviewed,
        "changed_cells": changed,
        "changes": len(entries),
        "reviewers": list(dict.fromkeys(e.reviewer for e in entries)),
        "updated": entries[-1].time if entries else None,
        "model_report": MODEL_REPORT,
        "audit": AUDIT_FILE,
    }


def rebuild_report(
    folder: Path, original: Mapping[str, Any], entries: Sequence[AuditEntry], rules: RuleSet | None
) -> dict[str, Any]:
    """Rebuild and write ``report.json/.html/.md`` of the analysis in ``folder`` from the model's report
    ``original`` and the audit ``entries`` (the whole log: labelling rows and rows taken back by an undo are
    left out, :mod:`.labels`); returns the new document (its ``created`` is the original's)."""
    rows, kept = report_rows(entries, len(original["cells"]))
    cells = replay(original["cells"], kept)
    bank = reviewed_bank(original, cells, folder)
    created = _dt.datetime.fromisoformat(original["created"])
    doc = build_report(bank, original["model"], rules, created=created)
    if [c["box"] for c in doc["cells"]] != [list(c["box"]) for c in original["cells"]]:
        raise RuntimeError("the rebuilt report lists the cells in another order")  # ids must not move
    _review_section(doc, original["cells"], rows, kept)
    write_report(doc, bank, folder)
    return doc


def load_json(path: Path) -> dict[str, Any]:
    """A stored JSON document."""
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
