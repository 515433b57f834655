"""Downloads of an analysis: its cells as CSV, and its reviewed cells as labelled training data (COCO zip).

The COCO export is leukodet's own dataset layout (:func:`leukodet.records.io.write_dataset`, format ``coco``)
zipped: ``data.yaml``, ``annotations/train.json`` (COCO with leukodet's ``attributes`` and ``labeled_regions``
extensions) and ``images/train/<analysis id>_<field>.png|jpg``, plus the review's ``audit.jsonl``. Only fields
with at least one reviewed cell are exported, and in each of them **one labelled region per reviewed cell,
exactly its box**: a reviewed cell is a human-checked label, every other cell of the field is unchecked and
lies outside the regions, so sparse training (``leukodet train`` with regions) learns only from what a person
saw. A cell reviewed as not-a-WBC is exported with the model's ``None`` class (LLD's artefact class, no
attributes); a model without that class gets no box for it, so its region is labelled background. Cells of the
``None`` class carry no attributes (LLD's "not applicable").
"""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..records.files import place_image
from ..records.io import write_dataset
from ..records.roles import WBC, default_role
from ..records.schema import AttributeSchema, Cell, Dataset, ImageRecord
from .audit import AUDIT_FILE
from .rebuild import field_image

__all__ = ["NothingReviewed", "cells_csv", "coco_zip"]

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


def reviewed_dataset(doc: Mapping[str, Any], folder: Path, analysis_id: str, images: Path) -> Dataset:
    """The reviewed cells of ``doc`` as a dataset, their field images copied into ``images``."""
    classes = list(doc["model"]["classes"])
    schema = AttributeSchema.from_mapping(doc["model"]["attributes"])
    reviewed = set((doc.get("review") or {}).get("reviewed_cells", []))
    records = []
    for info in doc["fields"]:
        cells = [c for c in doc["cells"] if c["field"] == info["index"] and c["id"] in reviewed]
        source = field_image(folder, info["index"])
        if not cells or source is None:
            continue
        target = images / f"{analysis_id}_{info['index']:03d}{source.suffix}"
        place_image(source, target)
        kept = tuple(x for x in (_cell(c, classes, schema) for c in cells) if x is not None)
        regions = tuple(tuple(float(v) for v in c["box"]) for c in cells)
        records.append(ImageRecord(target, info["width"], info["height"], SPLIT, kept, regions))  # type: ignore[arg-type]
    if not records:
        raise NothingReviewed(analysis_id)
    stored = doc["model"].get("roles") or []
    roles = dict(zip(classes, stored)) if len(stored) == len(classes) else {}
    return Dataset(records, classes, schema, roles)


def coco_zip(doc: Mapping[str, Any], folder: Path, analysis_id: str, out: Path) -> Path:
    """Write the COCO export of the reviewed cells of ``doc`` to the zip file ``out``; returns ``out``.

    Raises :class:`NothingReviewed` when no cell was reviewed.
    """
    with tempfile.TemporaryDirectory(prefix="leukodet-export-") as tmp:
        root = Path(tmp)
        ds = reviewed_dataset(doc, folder, analysis_id, root / "sources")
        write_dataset(ds, root / "coco", "coco")
        if (folder / AUDIT_FILE).is_file():
            place_image(folder / AUDIT_FILE, root / "coco" / AUDIT_FILE)
        with zipfile.ZipFile(out, "w") as zf:
            for path in sorted(p for p in (root / "coco").rglob("*") if p.is_file()):
                packed = path.suffix.lower() in (".json", ".yaml", ".jsonl")
                kind = zipfile.ZIP_DEFLATED if packed else zipfile.ZIP_STORED
                zf.write(path, path.relative_to(root / "coco").as_posix(), compress_type=kind)
    return out
