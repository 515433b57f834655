"""WBCAtt (read only): PBC single-cell crops with 11 morphological attributes and one YOLO box each.

Root layout: ``pbc_attr_v1_<split>.csv`` and ``<split>/images``, ``<split>/labels``. Classes are PBC-YOLO's
(:data:`~leukodet.records.vocab.WBCATT_CLASSES`), checked against the CSV ``label`` column. Attribute values are
kept verbatim, ordered alphabetically over all CSVs of the root; ``nil`` is an ordinary value.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .diagnostics import DataError, Diagnostics
from .images import image_size
from .schema import AttributeSchema, Cell, ImageRecord
from .validate import check_cell
from .vocab import WBCATT_CLASSES
from .yolo_io import label_path, lines_to_cells, read_lines

__all__ = ["is_wbcatt_root", "wbcatt_splits", "wbcatt_schema", "read_wbcatt_split"]

_NOT_ATTRIBUTES = ("img_name", "label", "path")


def is_wbcatt_root(path: Path) -> bool:
    return path.is_dir() and any(path.glob("pbc_attr_v1_*.csv"))


def wbcatt_splits(root: Path) -> list[str]:
    """Split names from the CSV file names, canonical order first."""
    names = [p.stem.removeprefix("pbc_attr_v1_") for p in sorted(root.glob("pbc_attr_v1_*.csv"))]
    order = {"train": 0, "val": 1, "test": 2}
    return sorted(names, key=lambda s: (order.get(s, 3), s))


def _rows(root: Path, split: str) -> list[dict[str, str]]:
    path = root / f"pbc_attr_v1_{split}.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"img_name", "label"} - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"{path}:1: missing columns {', '.join(sorted(missing))}")
        return list(reader)


def wbcatt_schema(root: Path) -> AttributeSchema:
    """The 11 attributes with their value names, sorted, over every CSV of the root."""
    values: dict[str, set[str]] = {}
    for split in wbcatt_splits(root):
        for row in _rows(root, split):
            for key, value in row.items():
                if key not in _NOT_ATTRIBUTES and value:
                    values.setdefault(key, set()).add(value)
    return AttributeSchema.from_mapping({k: sorted(v) for k, v in values.items()})


def read_wbcatt_split(
    root: Path, split: str, schema: AttributeSchema, diag: Diagnostics
) -> list[ImageRecord]:
    """Read one split: one record per CSV row, with its single box and 11 attributes."""
    csv_path = root / f"pbc_attr_v1_{split}.csv"
    classes = list(WBCATT_CLASSES)
    records: list[ImageRecord] = []
    for number, row in diag.track(enumerate(_rows(root, split), start=2), f"{split} crops"):
        image = root / split / "images" / row["img_name"]
        try:
            width, height = image_size(image)
        except DataError as exc:
            diag.report(csv_path, number, "missing_image", str(exc))
            continue
        attrs = {
            a.name: (a.values.index(row[a.name]) if row.get(a.name) in a.values else None) for a in schema
        }
        lp = label_path(image)
        lines = read_lines(lp, diag) if lp.is_file() else []
        numbered, _ = lines_to_cells(lines, "yolo", width, height, AttributeSchema(), diag, lp)
        if len(numbered) != 1:
            diag.report(lp, None, "box_count", f"expected exactly one box, found {len(numbered)}")
        cells = []
        for cell, line, _ in numbered:
            cell = check_cell(
                Cell(cell.box, cell.class_id, attrs), width, height, len(classes), schema, diag, lp, line
            )
            if 0 <= cell.class_id < len(classes) and classes[cell.class_id] != row["label"]:
                diag.report(
                    lp,
                    line,
                    "class_mismatch",
                    f"box class {classes[cell.class_id]} but CSV says {row['label']}",
                )
            cells.append(cell)
        records.append(ImageRecord(image, width, height, split, tuple(cells)))
    return records
