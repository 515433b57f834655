"""YOLO-family label files: plain (5 columns), LeukemiaAttri (12) and Sparse-LeukemiaAttri (16).

Line layouts (reference spec Sec. 1.2-1.4):

* ``yolo``:  ``cls cx cy w h`` (box normalised by image W, H)
* ``lld12``: ``cls cx cy w h a0..a6`` (7 attribute value indices; ``len(values)`` = not applicable, 2 for LLD)
* ``lld16``: ``cls cx cy w h p1 p2 p3 p4 a0..a6``; the labelled patch in pixels of the image resized to
  640x640, repeated on every line. Its column order is decided per split (decision D14): the order
  ``x1 y1 x2 y2`` (the authors' code) or ``x1 x2 y1 y2`` (their README) under which every box centre lies in
  the patch. An empty label file means "nothing labelled" unless ``regions.json`` beside the labels names
  the image's regions (``{image file name: [[x, y, w, h], ...] | null}`` in image pixels).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .diagnostics import Diagnostics
from .schema import AttributeSchema, Box, Cell
from .validate import all_inside, as_int, parse_number

__all__ = [
    "FORMAT_COLUMNS",
    "PATCH_SIZE",
    "REGIONS_SIDECAR",
    "label_path",
    "ParsedLine",
    "read_lines",
    "detect_columns",
    "choose_patch_order",
    "lines_to_cells",
    "cells_to_lines",
    "read_sidecar",
]

FORMAT_COLUMNS: dict[str, int] = {"yolo": 5, "lld12": 12, "lld16": 16}
PATCH_SIZE: float = 640.0
"""Side of the square network input in which lld16 patch columns are expressed (reference spec Sec. 1.2)."""
REGIONS_SIDECAR: str = "regions.json"
NUM_LLD_ATTRIBUTES: int = 7


def label_path(image: Path) -> Path:
    """Label file of ``image``: the last ``images`` folder component replaced by ``labels``, suffix ``.txt``."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


@dataclass(frozen=True)
class ParsedLine:
    """One numeric label line and its 1-based line number."""

    number: int
    values: tuple[float, ...]


def read_lines(path: Path, diag: Diagnostics) -> list[ParsedLine]:
    """Parse every non-blank line of a label file into numbers; report lines that are not numbers."""
    out: list[ParsedLine] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        diag.report(path, None, "bad_encoding", "label file is not UTF-8 text")
        return out
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split()
        if not tokens:
            continue
        try:
            out.append(ParsedLine(number, tuple(parse_number(t) for t in tokens)))
        except ValueError as exc:
            diag.report(path, number, "not_a_number", str(exc))
    return out


def detect_columns(files: dict[Path, list[ParsedLine]]) -> str | None:
    """Most common known column count over all lines of a split, as a format name (None if no lines)."""
    counts: Counter[int] = Counter(len(line.values) for lines in files.values() for line in lines)
    known = [(n, c) for c, n in counts.items() if c in FORMAT_COLUMNS.values()]
    if not known:
        return None
    columns = max(known)[1]
    return next(name for name, c in FORMAT_COLUMNS.items() if c == columns)


def _patch(values: tuple[float, ...], order: str, sx: float, sy: float) -> Box:
    p = values[5:9]
    x1, y1, x2, y2 = (p[0], p[1], p[2], p[3]) if order == "xyxy" else (p[0], p[2], p[1], p[3])
    return (x1 * sx, y1 * sy, x2 * sx, y2 * sy)


def _centres(lines: list[ParsedLine]) -> list[tuple[float, float]]:
    """Box centres in 640-px patch space."""
    return [(ln.values[1] * PATCH_SIZE, ln.values[2] * PATCH_SIZE) for ln in lines]


def choose_patch_order(files: dict[Path, list[ParsedLine]]) -> str:
    """Decision D14: ``xyxy`` or ``xxyy``, whichever puts more files' box centres inside their patch.

    Ties (including all-ambiguous splits) go to ``xyxy``, the order the authors' loss code reads.
    """
    fits = {"xyxy": 0, "xxyy": 0}
    for lines in files.values():
        good = [ln for ln in lines if len(ln.values) == FORMAT_COLUMNS["lld16"]]
        if not good:
            continue
        for order in fits:
            region = _patch(good[0].values, order, 1.0, 1.0)
            if region[2] > region[0] and region[3] > region[1] and all_inside(_centres(good), region, 0.5):
                fits[order] += 1
    return "xxyy" if fits["xxyy"] > fits["xyxy"] else "xyxy"


def _attributes(
    values: tuple[float, ...], schema: AttributeSchema, diag: Diagnostics, path: Path, number: int
) -> dict[str, int | None]:
    """Map the 7 attribute columns onto the schema; ``len(values)`` (2 for LLD) = not applicable."""
    attrs: dict[str, int | None] = {}
    if len(schema) == 0:
        if any(v != 2 for v in values):
            diag.report(
                path, number, "bad_attribute", "attribute columns given but the dataset has no attributes"
            )
        return attrs
    for attr, raw in zip(schema, values):
        try:
            v = as_int(raw, f"attribute {attr.name!r} value")
        except ValueError as exc:
            diag.report(path, number, "bad_attribute", str(exc))
            attrs[attr.name] = None
            continue
        if v == len(attr.values):
            attrs[attr.name] = None
        elif 0 <= v < len(attr.values):
            attrs[attr.name] = v
        else:
            diag.report(
                path, number, "bad_attribute", f"attribute {attr.name!r} value {v} is outside the schema"
            )
            attrs[attr.name] = None
    return attrs


def lines_to_cells(
    lines: list[ParsedLine],
    fmt: str,
    width: int,
    height: int,
    schema: AttributeSchema,
    diag: Diagnostics,
    path: Path,
    patch_order: str = "xyxy",
) -> tuple[list[tuple[Cell, int, str]], list[Box]]:
    """Convert parsed lines to unvalidated ``(cell, line number, class label)`` and, for ``lld16``, the patches.

    A non-integer class id gives class -1, labelled ``id <value>`` for :func:`~.validate.check_cell`'s message.
    """
    columns = FORMAT_COLUMNS[fmt]
    cells: list[tuple[Cell, int, str]] = []
    patches: list[Box] = []
    for ln in lines:
        v = ln.values
        if len(v) != columns:
            diag.report(path, ln.number, "bad_columns", f"expected {columns} numbers ({fmt}), found {len(v)}")
            continue
        cls = int(v[0]) if float(v[0]).is_integer() else -1
        label = f"id {v[0]:g}"
        cx, cy, w, h = v[1] * width, v[2] * height, v[3] * width, v[4] * height
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        attrs = (
            _attributes(v[columns - NUM_LLD_ATTRIBUTES :], schema, diag, path, ln.number)
            if fmt != "yolo"
            else {}
        )
        cells.append((Cell(box, cls, attrs), ln.number, label))
        if fmt == "lld16":
            p = _patch(v, patch_order, width / PATCH_SIZE, height / PATCH_SIZE)
            if p not in patches:
                patches.append(p)
    return cells, patches


def _num(v: float) -> str:
    """Compact, round-trip-safe number text (1e-9 relative precision)."""
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.10g}"


def cells_to_lines(
    cells: tuple[Cell, ...],
    fmt: str,
    width: int,
    height: int,
    schema: AttributeSchema,
    patch: Box | None = None,
) -> str:
    """Label file text for ``cells`` in ``fmt``; ``patch`` (image pixels) is required for ``lld16``."""
    rows: list[str] = []
    for cell in cells:
        x1, y1, x2, y2 = cell.box
        cols = [
            str(cell.class_id),
            _num((x1 + x2) / 2 / width),
            _num((y1 + y2) / 2 / height),
            _num((x2 - x1) / width),
            _num((y2 - y1) / height),
        ]
        if fmt == "lld16":
            assert patch is not None
            px1, py1, px2, py2 = patch
            sx, sy = PATCH_SIZE / width, PATCH_SIZE / height
            cols += [_num(px1 * sx), _num(py1 * sy), _num(px2 * sx), _num(py2 * sy)]
        if fmt in ("lld12", "lld16"):
            cols += _attribute_columns(cell, schema)
        rows.append(" ".join(cols))
    return "".join(r + "\n" for r in rows)


def _attribute_columns(cell: Cell, schema: AttributeSchema) -> list[str]:
    if len(schema) != NUM_LLD_ATTRIBUTES:
        return ["2"] * NUM_LLD_ATTRIBUTES
    out = []
    for attr in schema:
        v = cell.attributes.get(attr.name)
        out.append(str(len(attr.values) if v is None else v))
    return out


def read_sidecar(labels_dir: Path, diag: Diagnostics) -> dict[str, list[Box] | None]:
    """Read ``regions.json`` (``{image name: [[x, y, w, h], ...] | null}``) if present, as xyxy boxes."""
    path = labels_dir / REGIONS_SIDECAR
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        diag.report(path, exc.lineno, "bad_json", f"invalid JSON: {exc.msg}")
        return {}
    out: dict[str, list[Box] | None] = {}
    if not isinstance(raw, dict):
        diag.report(path, None, "bad_json", "expected an object {image name: [[x, y, w, h], ...]}")
        return out
    for name, rects in raw.items():
        if rects is None:
            out[name] = None
            continue
        try:
            out[name] = [
                (float(x), float(y), float(x) + float(w), float(y) + float(h)) for x, y, w, h in rects
            ]
        except (TypeError, ValueError):
            diag.report(path, None, "bad_region", f"regions of {name!r} are not [[x, y, w, h], ...]")
    return out
