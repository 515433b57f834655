"""Region-restricted evaluation on sparsely labelled fields (Rehman et al. 2025, §3 sparse annotation).

On an image whose ``labeled_regions`` is not ``None`` only objects whose box centre lies inside a labelled
rectangle (borders included) are scored; ground truth and detections alike, before COCO, YOLOv5 or
operating-point scoring. ``()`` means nothing on the image is labelled, so nothing there is scored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from leukodet.records.boxes import box_centers
from leukodet.records.schema import Box

__all__ = ["in_regions"]


def in_regions(boxes: np.ndarray, regions: Sequence[Box] | None) -> np.ndarray:
    """Which boxes have their centre inside any labelled region.

    Args:
        boxes: ``[N, 4]`` absolute-pixel xyxy boxes.
        regions: labelled rectangles (absolute-pixel xyxy); ``None`` = fully labelled image,
            empty = nothing labelled.

    Returns:
        ``[N]`` bool mask (all ``True`` when ``regions`` is ``None``).
    """
    if regions is None:
        return np.ones(len(boxes), dtype=bool)
    keep = np.zeros(len(boxes), dtype=bool)
    if len(boxes) == 0 or len(regions) == 0:
        return keep
    centers = box_centers(boxes)
    for x1, y1, x2, y2 in regions:
        keep |= (centers[:, 0] >= x1) & (centers[:, 0] <= x2) & (centers[:, 1] >= y1) & (centers[:, 1] <= y2)
    return keep
