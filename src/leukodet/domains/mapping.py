"""Carry one image's annotation through a homography: boxes, labelled regions, and what had to be dropped.

* A box becomes the axis-aligned box of its four mapped corners, clipped to the target image. It is dropped
  (and listed with the reason and the kept fraction) when less than ``min_kept`` of its mapped area lies
  inside the target, or when the map sends a corner through the horizon (projective degenerate).
* A labelled region ("every cell inside is labelled") becomes an axis-aligned rectangle *inside* its mapped
  quadrilateral, clipped to the target, so the promise still holds; the axis-aligned box around the
  quadrilateral would take in unlabelled corners. A fully labelled source counts as one region, the whole
  source image: target areas the source does not show are not labelled. A single region that covers the
  whole target is written as "fully labelled" (``None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..records.schema import Box, Cell, Domain, ImageRecord

__all__ = [
    "MIN_KEPT_FRACTION",
    "MappedBox",
    "Dropped",
    "MappedRecord",
    "map_points",
    "map_box",
    "inscribed_box",
    "map_region",
    "map_record",
]

MIN_KEPT_FRACTION: float = 0.5
"""A mapped box keeping less than this fraction of its area inside the target is dropped."""


@dataclass(frozen=True)
class MappedBox:
    """A box carried into the target: clipped box (``None`` if degenerate), unclipped box, kept area fraction."""

    box: Box | None
    unclipped: Box | None
    kept_fraction: float


@dataclass(frozen=True)
class Dropped:
    """A box or region that could not be carried into the target."""

    index: int
    class_id: int | None
    source_box: Box
    mapped_box: Box | None
    kept_fraction: float
    reason: str

    def to_dict(self, classes: Sequence[str] = ()) -> dict[str, Any]:
        """JSON form (``class`` added when ``class_id`` names one of ``classes``)."""
        out: dict[str, Any] = {"index": self.index}
        if self.class_id is not None:
            out["class_id"] = self.class_id
            if 0 <= self.class_id < len(classes):
                out["class"] = classes[self.class_id]
        out["source_box"] = [round(v, 3) for v in self.source_box]
        out["mapped_box"] = None if self.mapped_box is None else [round(v, 3) for v in self.mapped_box]
        out["kept_fraction"] = round(self.kept_fraction, 4)
        out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class MappedRecord:
    """The target's record and everything dropped on the way."""

    record: ImageRecord
    dropped_boxes: tuple[Dropped, ...]
    dropped_regions: tuple[Dropped, ...]


def _corners(box: Box) -> np.ndarray:
    x1, y1, x2, y2 = box
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float64)


def map_points(h: np.ndarray, pts: np.ndarray) -> np.ndarray | None:
    """Map N×2 points by ``h``; ``None`` when a point crosses the horizon (w ≤ 0) or lands at infinity."""
    homo = np.hstack([pts, np.ones((len(pts), 1))]) @ h.T
    w = homo[:, 2]
    if np.any(w <= 1e-12):
        return None
    out = homo[:, :2] / w[:, None]
    return out if np.all(np.isfinite(out)) else None


def _area(box: Box) -> float:
    x1, y1, x2, y2 = box
    return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def _clip(box: Box, width: int, height: int) -> Box:
    x1, y1, x2, y2 = box
    return (
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
        min(max(x2, 0.0), width),
        min(max(y2, 0.0), height),
    )


def map_box(box: Box, h: np.ndarray, width: int, height: int) -> MappedBox:
    """Axis-aligned box of the four mapped corners of ``box``, clipped to a ``width`` × ``height`` target."""
    pts = map_points(h, _corners(box))
    if pts is None:
        return MappedBox(None, None, 0.0)
    full: Box = (
        float(pts[:, 0].min()),
        float(pts[:, 1].min()),
        float(pts[:, 0].max()),
        float(pts[:, 1].max()),
    )
    clipped = _clip(full, width, height)
    area = _area(full)
    return MappedBox(clipped, full, _area(clipped) / area if area > 0 else 0.0)


def _inside(quad: np.ndarray, rect: Box) -> bool:
    contour = quad.astype(np.float32).reshape(-1, 1, 2)
    return all(cv2.pointPolygonTest(contour, (float(x), float(y)), True) >= -1e-3 for x, y in _corners(rect))


def inscribed_box(quad: np.ndarray) -> Box:
    """An axis-aligned rectangle inside the quadrilateral ``quad`` (4×2, in order).

    For the usual near-rigid maps the rectangle spanned by the second-smallest and second-largest x and y
    of the corners is inside (and the largest such rectangle for a rotated rectangle); otherwise that
    rectangle is shrunk about the quadrilateral's centroid until it is.
    """
    xs, ys = np.sort(quad[:, 0]), np.sort(quad[:, 1])
    rect: Box = (float(xs[1]), float(ys[1]), float(xs[2]), float(ys[2]))
    if _inside(quad, rect):
        return rect
    cx, cy = (float(v) for v in quad.mean(axis=0))
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        x1, y1, x2, y2 = rect
        trial = (cx + mid * (x1 - cx), cy + mid * (y1 - cy), cx + mid * (x2 - cx), cy + mid * (y2 - cy))
        lo, hi = (mid, hi) if _inside(quad, trial) else (lo, mid)
    x1, y1, x2, y2 = rect
    return (cx + lo * (x1 - cx), cy + lo * (y1 - cy), cx + lo * (x2 - cx), cy + lo * (y2 - cy))


def map_region(region: Box, h: np.ndarray, width: int, height: int) -> Box | None:
    """A labelled region carried into the target (see the module docstring); ``None`` when nothing is left."""
    pts = map_points(h, _corners(region))
    if pts is None:
        return None
    clipped = _clip(inscribed_box(pts), width, height)
    return clipped if _area(clipped) > 0 else None


def _covers(region: Box, width: int, height: int) -> bool:
    x1, y1, x2, y2 = region
    return x1 <= 1 and y1 <= 1 and x2 >= width - 1 and y2 >= height - 1


def _map_cells(
    rec: ImageRecord, h: np.ndarray, width: int, height: int, min_kept: float
) -> tuple[list[Cell], list[Dropped]]:
    cells: list[Cell] = []
    dropped: list[Dropped] = []
    for i, cell in enumerate(rec.cells):
        m = map_box(cell.box, h, width, height)
        if m.box is None:
            why = "degenerate mapping (a corner crosses the homography's horizon)"
            dropped.append(Dropped(i, cell.class_id, cell.box, None, 0.0, why))
        elif m.kept_fraction < min_kept:
            why = f"only {m.kept_fraction:.0%} of the mapped box lies inside the target (< {min_kept:.0%})"
            dropped.append(Dropped(i, cell.class_id, cell.box, m.unclipped, m.kept_fraction, why))
        else:
            cells.append(Cell(m.box, cell.class_id, cell.attributes))
    return cells, dropped


def map_record(
    rec: ImageRecord,
    h: np.ndarray,
    target: Path,
    width: int,
    height: int,
    *,
    domain: Domain | None = None,
    min_kept: float = MIN_KEPT_FRACTION,
) -> MappedRecord:
    """Carry ``rec`` (boxes in source pixels) into the ``width`` × ``height`` image ``target`` with ``h``.

    The new record keeps the split and each kept cell's class and attributes; its domain is ``domain`` (or
    the source's when ``None``).
    """
    cells, dropped = _map_cells(rec, h, width, height, min_kept)
    sources = rec.labeled_regions if rec.labeled_regions is not None else ((0.0, 0.0, rec.width, rec.height),)
    regions: list[Box] = []
    lost: list[Dropped] = []
    for i, region in enumerate(sources):
        mapped = map_region(region, h, width, height)
        if mapped is None:
            lost.append(
                Dropped(i, None, region, None, 0.0, "no part of the mapped region lies inside the target")
            )
        else:
            regions.append(mapped)
    labeled: tuple[Box, ...] | None = tuple(regions)
    if len(regions) == 1 and _covers(regions[0], width, height):
        labeled = None
    out = ImageRecord(target, width, height, rec.split, tuple(cells), labeled, domain or rec.domain)
    return MappedRecord(out, tuple(dropped), tuple(lost))
