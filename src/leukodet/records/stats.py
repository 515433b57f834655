"""Dataset statistics: images, boxes per class, labelled regions, region coverage and invalid counts per split."""

from __future__ import annotations

from typing import Any

from .diagnostics import Diagnostics
from .schema import Box, Dataset, ImageRecord

__all__ = ["union_area", "region_coverage", "dataset_stats"]


def union_area(boxes: tuple[Box, ...], width: int, height: int) -> float:
    """Area of the union of ``boxes`` clipped to the image (exact, by coordinate compression)."""
    clipped = [
        (max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2))
        for x1, y1, x2, y2 in boxes
    ]
    clipped = [b for b in clipped if b[2] > b[0] and b[3] > b[1]]
    xs = sorted({v for b in clipped for v in (b[0], b[2])})
    area = 0.0
    for xa, xb in zip(xs, xs[1:]):
        spans = sorted((b[1], b[3]) for b in clipped if b[0] <= xa and b[2] >= xb)
        covered, end = 0.0, float("-inf")
        for ya, yb in spans:
            if yb > end:
                covered += yb - max(ya, end)
                end = yb
        area += covered * (xb - xa)
    return area


def region_coverage(records: list[ImageRecord]) -> float:
    """Labelled area over total image area (fully labelled images count whole, ``[]`` counts zero)."""
    total = sum(r.width * r.height for r in records)
    if total == 0:
        return 0.0
    labelled = sum(
        r.width * r.height if r.labeled_regions is None else union_area(r.labeled_regions, r.width, r.height)
        for r in records
    )
    return labelled / total


def _class_key(ds: Dataset, class_id: int) -> str:
    return ds.classes[class_id] if 0 <= class_id < len(ds.classes) else f"<unknown id {class_id}>"


def dataset_stats(ds: Dataset, diag: Diagnostics) -> dict[str, Any]:
    """The ``stats --json`` object: ``{"splits": {...}, "classes": [...], "attributes": {...}}``."""
    splits: dict[str, Any] = {}
    for split in ds.splits or ["all"]:
        recs = ds.split(split)
        boxes = {name: 0 for name in ds.classes}
        for r in recs:
            for c in r.cells:
                key = _class_key(ds, c.class_id)
                boxes[key] = boxes.get(key, 0) + 1
        splits[split] = {
            "images": len(recs),
            "boxes": boxes,
            "labeled_regions": sum(len(r.labeled_regions or ()) for r in recs),
            "region_coverage": round(region_coverage(recs), 6),
            "invalid": diag.counts(split),
        }
    return {"splits": splits, "classes": list(ds.classes), "attributes": ds.attributes.to_mapping()}
