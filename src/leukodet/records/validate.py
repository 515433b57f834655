"""Box and attribute validation shared by every reader: clip tiny overshoots, report real problems.

A box overshooting the image by at most ``CLIP_TOLERANCE_PX`` is clipped (annotation tools round outward);
anything else wrong is reported to :class:`~leukodet.records.diagnostics.Diagnostics` with a reason key and
the cell is kept, so counts always include every parsed box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from .diagnostics import Diagnostics
from .schema import AttributeSchema, Box, Cell

__all__ = [
    "CLIP_TOLERANCE_PX",
    "clip_box",
    "check_cell",
    "box_problem",
    "parse_number",
    "as_int",
    "all_inside",
]

CLIP_TOLERANCE_PX: float = 1.0
"""Boxes overshooting the image by at most this many pixels are clipped, not invalid."""


def clip_box(box: Box, width: int, height: int, tol: float = CLIP_TOLERANCE_PX) -> Box:
    """Clip coordinates that overshoot the image by ``<= tol`` pixels; larger overshoots are left as they are."""
    lo_x, lo_y, hi_x, hi_y = -tol, -tol, width + tol, height + tol
    x1, y1, x2, y2 = box

    def c(v: float, lo: float, hi: float, top: float) -> float:
        if lo <= v < 0.0:
            return 0.0
        if top < v <= hi:
            return float(top)
        return v

    return (
        c(x1, lo_x, hi_x, width),
        c(y1, lo_y, hi_y, height),
        c(x2, lo_x, hi_x, width),
        c(y2, lo_y, hi_y, height),
    )


def box_problem(box: Box, width: int, height: int) -> tuple[str, str] | None:
    """Return ``(reason, message)`` for an invalid (already clipped) box, else ``None``."""
    x1, y1, x2, y2 = box
    if not all(math.isfinite(v) for v in box):
        return "not_finite", f"box {box} has a non-finite coordinate"
    if x2 <= x1 or y2 <= y1:
        return "zero_size", f"box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) has zero or negative size"
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        return (
            "outside_image",
            f"box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside the {width}x{height} image",
        )
    return None


def check_cell(
    cell: Cell,
    width: int,
    height: int,
    num_classes: int,
    schema: AttributeSchema,
    diag: Diagnostics,
    file: str | Path,
    line: int | None = None,
    class_name: str | None = None,
) -> Cell:
    """Clip ``cell``'s box, report every problem it has, and return the (clipped) cell, never dropping it."""
    box = clip_box(cell.box, width, height)
    problem = box_problem(box, width, height)
    if problem is not None:
        diag.report(file, line, *problem)
    if not 0 <= cell.class_id < num_classes:
        what = f"class {class_name}" if class_name is not None else f"class id {cell.class_id}"
        diag.report(file, line, "unknown_class", f"{what} is not one of the dataset's {num_classes} classes")
    for attr in schema:
        value = cell.attributes.get(attr.name)
        if value is not None and not 0 <= value < len(attr.values):
            diag.report(
                file,
                line,
                "bad_attribute",
                f"attribute {attr.name!r} value {value} is outside 0..{len(attr.values) - 1} "
                f"({', '.join(attr.values)})",
            )
    extra = set(cell.attributes) - set(schema.names)
    if extra:
        diag.report(file, line, "bad_attribute", f"attributes not in the schema: {', '.join(sorted(extra))}")
    return Cell(box, cell.class_id, cell.attributes) if box != cell.box else cell


def parse_number(token: str) -> float:
    """Parse one label token as a finite float; ``ValueError`` with a readable message otherwise."""
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"{token!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{token!r} is not a finite number")
    return value


def as_int(value: float, what: str) -> int:
    """Return ``value`` as an int if it is integral, else raise ``ValueError`` naming ``what``."""
    if not float(value).is_integer():
        raise ValueError(f"{what} {value:g} is not an integer")
    return int(value)


def all_inside(points: Sequence[tuple[float, float]], region: Box, tol: float = 0.0) -> bool:
    """True if every ``(x, y)`` point lies inside ``region`` (xyxy) widened by ``tol``."""
    x1, y1, x2, y2 = region
    return all(x1 - tol <= x <= x2 + tol and y1 - tol <= y <= y2 + tol for x, y in points)
