"""BCDD (read only): ``annotations.csv`` (``image_id,image,xmin,ymin,xmax,ymax,label``, normalised xyxy) and
``images/``. Labels are upper-cased (``wbc`` -> ``WBC``); classes are sorted; one split, ``all``."""

from __future__ import annotations

import csv
from pathlib import Path

from .diagnostics import DataError, Diagnostics
from .images import image_size, list_images
from .schema import AttributeSchema, Cell, ImageRecord
from .validate import check_cell, parse_number

__all__ = ["is_bcdd_root", "bcdd_classes", "read_bcdd"]

_COLUMNS = ("image", "xmin", "ymin", "xmax", "ymax", "label")


def is_bcdd_root(path: Path) -> bool:
    return (path / "annotations.csv").is_file() and (path / "images").is_dir()


def _rows(root: Path) -> list[dict[str, str]]:
    path = root / "annotations.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = set(_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"{path}:1: missing columns {', '.join(sorted(missing))}")
        return list(reader)


def bcdd_classes(root: Path) -> list[str]:
    return sorted({row["label"].strip().upper() for row in _rows(root)})


def read_bcdd(root: Path, classes: list[str], diag: Diagnostics) -> list[ImageRecord]:
    """Every image in ``images/`` (with or without rows) and every CSV row as a box."""
    csv_path = root / "annotations.csv"
    by_image: dict[str, list[Cell]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for number, row in diag.track(enumerate(_rows(root), start=2), "rows"):
        name = row["image"]
        if name not in sizes:
            try:
                sizes[name] = image_size(root / "images" / name)
            except DataError as exc:
                diag.report(csv_path, number, "missing_image", str(exc))
                sizes[name] = (0, 0)
        width, height = sizes[name]
        if width == 0:
            continue
        try:
            x1, y1, x2, y2 = (parse_number(row[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
        except ValueError as exc:
            diag.report(csv_path, number, "not_a_number", str(exc))
            continue
        label = row["label"].strip().upper()
        cls = classes.index(label) if label in classes else -1
        cell = Cell((x1 * width, y1 * height, x2 * width, y2 * height), cls, {})
        cell = check_cell(
            cell, width, height, len(classes), AttributeSchema(), diag, csv_path, number, repr(label)
        )
        by_image.setdefault(name, []).append(cell)
    records = []
    for image in list_images(root / "images"):
        width, height = sizes.get(image.name) or image_size(image)
        records.append(ImageRecord(image, width, height, "all", tuple(by_image.get(image.name, ()))))
    return records
