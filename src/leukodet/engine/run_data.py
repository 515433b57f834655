"""The records a training run reads: its training and validation splits, classes and attributes."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..model.anchors import box_sizes_for_input
from ..records.diagnostics import DataError
from ..records.images import decodable_records
from ..records.roles import WBC, known_roles
from ..records.schema import AttributeSchema, ImageRecord
from ..records.sources import load_source

__all__ = [
    "DataBundle",
    "load_data",
    "box_sizes",
    "box_size_groups",
    "white_cell_boxes",
    "white_cell_sides",
    "white_cell_median_px",
]

log = logging.getLogger(__name__)


@dataclass
class DataBundle:
    """The training and validation records of a dataset and its vocabulary."""

    source: str
    classes: list[str]
    schema: AttributeSchema
    train: list[ImageRecord]
    val: list[ImageRecord]
    roles: dict[str, str] = field(default_factory=dict)
    """Roles the dataset declares (``{class: role}``); the checkpoint stores them with the defaults."""


def load_data(source: str) -> DataBundle:
    """Read a dataset and decode every training and validation image once; an image that does not decode is
    reported (file and reason) and left out. Clear errors for a missing train split or one without boxes."""
    ds, diag = load_source(source)
    if "train" not in ds.splits:
        raise DataError(f"{source}: no 'train' split (found: {', '.join(ds.splits) or 'none'})")
    kept = decodable_records([r for r in ds.records if r.split in ("train", "val")], diag)
    skipped = sorted({str(p.file) for p in diag.problems if p.reason == "unreadable_image"})
    if skipped:
        shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        log.warning("%s: %d unreadable images left out of training: %s", source, len(skipped), shown)
    train, val = [r for r in kept if r.split == "train"], [r for r in kept if r.split == "val"]
    if not any(c for r in train for c in r.cells):
        raise DataError(f"{source}: the training split has no boxes")
    if not ds.classes:
        raise DataError(f"{source}: the dataset names no classes")
    return DataBundle(str(source), list(ds.classes), ds.attributes, train, val, dict(ds.roles))


def box_size_groups(records: list[ImageRecord], imgsz: int) -> list[np.ndarray]:
    """:func:`box_sizes` per data source (acquisition domain; records without one form one group), so the
    anchor check sees a minority source whose cells have other sizes."""
    groups: dict[str, list[ImageRecord]] = {}
    for r in records:
        groups.setdefault(r.domain.name if not r.domain.is_empty() else "", []).append(r)
    return [box_sizes(g, imgsz) for _, g in sorted(groups.items())]


def box_sizes(records: list[ImageRecord], imgsz: int) -> np.ndarray:
    wh = [(c.box[2] - c.box[0], c.box[3] - c.box[1]) for r in records for c in r.cells]
    sizes = [(r.width, r.height) for r in records for _ in r.cells]
    out = box_sizes_for_input(
        np.array(wh).reshape(-1, 2), np.array(sizes).reshape(-1, 2), imgsz, letterbox=True
    )
    return out[(out > 1).all(1)]


def white_cell_boxes(
    records: list[ImageRecord], classes: Sequence[str], imgsz: int, roles: Mapping[str, str] | None = None
) -> np.ndarray:
    """``[N, 2]`` (w, h) (px at the ``imgsz`` input, letterboxed) of every white cell (each class of the ``wbc``
    role) in ``records``; empty when the classes have no white cell."""
    white = {k for k, role in enumerate(known_roles(classes, roles)) if role == WBC}
    if not white:
        return np.zeros((0, 2))
    picked = [r.with_(cells=tuple(c for c in r.cells if c.class_id in white)) for r in records]
    return box_sizes(picked, imgsz)


def white_cell_sides(
    records: list[ImageRecord], classes: Sequence[str], imgsz: int, roles: Mapping[str, str] | None = None
) -> np.ndarray:
    """Longest side of every box of :func:`white_cell_boxes`."""
    return white_cell_boxes(records, classes, imgsz, roles).max(1, initial=0.0)


def white_cell_median_px(data: DataBundle, imgsz: int) -> float:
    """Median longest side (px at the ``imgsz`` input, letterboxed) of the training split's white cells (every class
    of the ``wbc`` role), or of all its boxes when it has none: what ``augment.cell_px`` derives the zoom from."""
    sides = white_cell_sides(data.train, data.classes, imgsz, data.roles)
    if not len(sides):
        sides = box_sizes(data.train, imgsz).max(1)
    return float(np.median(sides))
