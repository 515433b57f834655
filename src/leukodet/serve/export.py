"""Downloads of an analysis: its cells as CSV, and its reviewed cells as labelled training data (COCO zip).

The COCO export is leukodet's own dataset layout (:func:`leukodet.records.io.write_dataset`, format ``coco``)
zipped: ``data.yaml``, ``annotations/train.json`` (COCO with leukodet's ``attributes`` and ``labeled_regions``
extensions) and ``images/train/<analysis id>_<field>.png|jpg``, plus the review's ``audit.jsonl``. Only fields
with a complete patch or at least one reviewed cell are exported. A **complete patch** (:mod:`.patch`) is its
field's labelled region, with every box whose centre lies inside it (confirmed, reclassified, added, resized;
rejected ones left out); a patch not complete exports no region. Every reviewed cell outside a complete patch
adds **one labelled region, exactly its box**: a reviewed cell is a human-checked label, every other cell of the
field is unchecked and lies outside the regions, so sparse training (``leukodet train`` with regions) learns only
from what a person saw. A cell reviewed as not-a-WBC outside a patch is exported with the model's ``None`` class
(LLD's artefact class, no attributes); a model without that class gets no box for it, so its region is labelled
background. Cells of the ``None`` class and added boxes carry no attribute values (LLD's "not applicable").
"""

from __future__ import annotations

import csv
import io
import shlex
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..records.files import place_image
from ..records.io import write_dataset
from ..records.roles import WBC, default_role
from ..records.schema import AttributeSchema, Cell, Dataset, ImageRecord
from .audit import AUDIT_FILE
from .patch_state import FieldLabels, inside
from .rebuild import field_image

__all__ = ["NothingReviewed", "cells_csv", "coco_zip", "export_summary", "reviewed_dataset", "union_area"]

SPLIT = "train"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class NothingReviewed(LookupError):
    """An export of labelled data from an analysis none of whose cells was reviewed."""


def _text(value: Any) -> str:
    """A CSV text cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _role(cell: Mapping[str, Any]) -> str:
    """A report cell's role (reports older than class roles carry none: the class name's default)."""
    return str(cell.get("role") or default_role(cell["class"]) or "")


def cells_csv(doc: Mapping[str, Any]) -> str:
    """Every cell of report ``doc``: id, field, image, box, class, its role (wbc, rbc, platelet, artefact,
    other), score, review state, then one attribute value per column (the model's schema)."""
    names = list(doc["model"]["attributes"])
    for cell in doc["cells"]:
        names += [a for a in cell["attributes"] if a not in names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    head = [
        "id",
        "field",
        "image",
        "x1",
        "y1",
        "x2",
        "y2",
        "class",
        "role",
        "score",
        "reviewed",
        "model_class",
    ]
    writer.writerow(head + names)
    for c in doc["cells"]:
        model_class = (c.get("model_output") or {}).get("class", c["class"])
        row = [c["id"], c["field"], _text(c["image"]), *(round(v, 2) for v in c["box"]), _text(c["class"])]
        row.append(_text(_role(c)))
        row += [round(c["score"], 4), int(bool(c.get("reviewed"))), _text(model_class)]
        writer.writerow(row + [_text((c["attributes"].get(a) or {}).get("value")) for a in names])
    return out.getvalue()


def _cell(c: Mapping[str, Any], classes: Sequence[str], schema: AttributeSchema) -> Cell | None:
    """The dataset cell of a reviewed report cell, ``None`` for a class the model does not have."""
    if c["class"] not in classes:
        return None
    attrs: dict[str, int | None] = {}
    for attr in schema:
        value = (c["attributes"].get(attr.name) or {}).get("value")
        ok = _role(c) == WBC and value in attr.values
        attrs[attr.name] = attr.values.index(value) if ok else None
    return Cell(tuple(float(v) for v in c["box"]), classes.index(c["class"]), attrs)  # type: ignore[arg-type]


def _patch_cells(
    state: FieldLabels,
    by_id: Mapping[int, Mapping[str, Any]],
    classes: Sequence[str],
    schema: AttributeSchema,
) -> list[Cell]:
    """The boxes of a complete patch: every box whose centre lies inside it, rejected ones left out (a model
    cell with its reviewed class and attributes, an added box with its class and no attribute value)."""
    out = []
    for b in state.live():
        if b.rejected or not inside(b.box, state.region):
            continue
        if b.source == "model":
            cell = _cell({**by_id[b.id], "box": b.box}, classes, schema)
        else:
            cell = Cell(tuple(b.box), classes.index(b.class_), {a.name: None for a in schema})  # type: ignore[arg-type]
        if cell is not None:
            out.append(cell)
    return out


def _field_labels(
    doc: Mapping[str, Any], info: Mapping[str, Any], state: FieldLabels | None, schema: AttributeSchema
) -> tuple[list[Cell], list[tuple[float, ...]]]:
    """The exported boxes and labelled regions of one field: its complete patch, and one region per reviewed
    cell outside it."""
    classes = list(doc["model"]["classes"])
    reviewed = set((doc.get("review") or {}).get("reviewed_cells", []))
    cells = {c["id"]: c for c in doc["cells"] if c["field"] == info["index"]}
    boxes = {b.id: b.box for b in state.live()} if state is not None else {}
    kept: list[Cell] = []
    regions: list[tuple[float, ...]] = []
    complete = state is not None and state.complete
    if state is not None and complete:
        kept += _patch_cells(state, cells, classes, schema)
        regions.append(tuple(float(v) for v in state.region))
    for n, c in cells.items():
        box = boxes.get(n, c["box"])
        if n not in reviewed or (complete and state is not None and inside(box, state.region)):
            continue
        cell = _cell({**c, "box": box}, classes, schema)
        kept += [cell] if cell is not None else []
        regions.append(tuple(float(v) for v in box))
    return kept, regions


def reviewed_dataset(
    doc: Mapping[str, Any],
    folder: Path,
    analysis_id: str,
    images: Path | None,
    labels: Mapping[int, FieldLabels] | None = None,
) -> Dataset:
    """The reviewed cells and complete patches of ``doc`` as a dataset, their field images copied into
    ``images`` (``None``: not copied, the records name where they would go)."""
    classes = list(doc["model"]["classes"])
    schema = AttributeSchema.from_mapping(doc["model"]["attributes"])
    records = []
    for info in doc["fields"]:
        kept, regions = _field_labels(doc, info, (labels or {}).get(info["index"]), schema)
        source = field_image(folder, info["index"])
        if not regions or source is None:
            continue
        target = (images or folder) / f"{analysis_id}_{info['index']:03d}{source.suffix}"
        if images is not None:
            place_image(source, target)
        records.append(
            ImageRecord(target, info["width"], info["height"], SPLIT, tuple(kept), tuple(regions))  # type: ignore[arg-type]
        )
    if not records:
        raise NothingReviewed(analysis_id)
    stored = doc["model"].get("roles") or []
    roles = dict(zip(classes, stored)) if len(stored) == len(classes) else {}
    return Dataset(records, classes, schema, roles)


def union_area(rects: Sequence[Sequence[float]]) -> float:
    """The area covered by the union of ``rects`` (``[x1, y1, x2, y2]`` each), exactly (a grid of their edges)."""
    if not len(rects):
        return 0.0
    r = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
    xs, ys = np.unique(r[:, [0, 2]]), np.unique(r[:, [1, 3]])
    cx, cy = (xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2
    covered = np.zeros((len(cy), len(cx)), dtype=bool)
    for x1, y1, x2, y2 in r:
        covered |= ((y1 <= cy) & (cy <= y2))[:, None] & ((x1 <= cx) & (cx <= x2))[None, :]
    return float((np.diff(ys)[:, None] * np.diff(xs)[None, :])[covered].sum())


def export_summary(
    ds: Dataset | None, labels: Mapping[int, FieldLabels], weights: str, export: str
) -> dict[str, Any]:
    """What the export ``ds`` holds (``None``: nothing to export) and the command that retrains ``weights`` on it
    (``export``: the folder the zip is unpacked into)."""
    records = ds.records if ds is not None else []
    per_class: dict[str, int] = {}
    for rec in records:
        for cell in rec.cells:
            name = ds.classes[cell.class_id] if ds is not None else str(cell.class_id)
            per_class[name] = per_class.get(name, 0) + 1
    area = sum(r.width * r.height for r in records)
    labelled = sum(union_area(r.labeled_regions or ()) for r in records)
    return {
        "fields": len(labels),
        "fields_complete": sum(1 for s in labels.values() if s.complete),
        "images": len(records),
        "regions": sum(len(r.labeled_regions or ()) for r in records),
        "boxes": sum(per_class.values()),
        "boxes_per_class": per_class,
        "labelled_area_share": round(labelled / area, 4) if area else 0.0,
        "command": f"leukodet train --model {shlex.quote(weights)} --data {export}/data.yaml --out runs/retrain",
    }


def coco_zip(
    doc: Mapping[str, Any],
    folder: Path,
    analysis_id: str,
    out: Path,
    labels: Mapping[int, FieldLabels] | None = None,
) -> Path:
    """Write the COCO export of the reviewed cells and complete patches (``labels``) of ``doc`` to the zip file
    ``out``; returns ``out``.

    Raises :class:`NothingReviewed` when no cell was reviewed and no patch completed.
    """
    with tempfile.TemporaryDirectory(prefix="leukodet-export-") as tmp:
        root = Path(tmp)
        ds = reviewed_dataset(doc, folder, analysis_id, root / "sources", labels)
        write_dataset(ds, root / "coco", "coco")
        if (folder / AUDIT_FILE).is_file():
            place_image(folder / AUDIT_FILE, root / "coco" / AUDIT_FILE)
        with zipfile.ZipFile(out, "w") as zf:
            for path in sorted(p for p in (root / "coco").rglob("*") if p.is_file()):
                packed = path.suffix.lower() in (".json", ".yaml", ".jsonl")
                kind = zipfile.ZIP_DEFLATED if packed else zipfile.ZIP_STORED
                zf.write(path, path.relative_to(root / "coco").as_posix(), compress_type=kind)
    return out
