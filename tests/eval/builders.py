"""Builders of hand-made ground truth and predictions for the evaluation tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from leukodet.eval import Prediction
from leukodet.records.schema import Box, Cell, ImageRecord


def box_at(x: float, y: float, size: float = 40.0) -> Box:
    """Square box of side ``size`` with top-left corner ``(x, y)``."""
    return (x, y, x + size, y + size)


def make_record(
    index: int, cells: Sequence[tuple[Box, int]], regions: tuple[Box, ...] | None = None
) -> ImageRecord:
    """640×640 record ``/data/img{index}.png`` with ``(box, class_id)`` cells."""
    return ImageRecord(
        path=Path(f"/data/img{index}.png"),
        width=640,
        height=640,
        cells=tuple(Cell(box=b, class_id=c) for b, c in cells),
        labeled_regions=regions,
    )


def make_pred(
    index: int, dets: Sequence[tuple[Box, float, int]], class_names: Sequence[str] = ("a", "b")
) -> Prediction:
    """Prediction for record ``index`` from ``(box, score, model class id)`` triples."""
    return Prediction(
        boxes=np.array([d[0] for d in dets], dtype=float).reshape(-1, 4),
        scores=np.array([d[1] for d in dets], dtype=float),
        class_ids=np.array([d[2] for d in dets], dtype=int),
        class_names=tuple(class_names),
        image=f"img{index}.png",
        width=640,
        height=640,
    )
