"""Why a detection kept at the operating point is false: the kinds of error of Bolya et al., *TIDE: A General
Toolbox for Identifying Object Detection Errors*, ECCV 2020, counted at one confidence.

A precision gap at the same recall (a model finding as many cells as another, with more false detections) can
come from duplicates the NMS left, from cells of another class taken for this one, from boxes too poorly placed
to match, or from detections on background. Each calls for a different fix (NMS, class balance, box loss or
scale, objectness calibration), so the operating point (:mod:`leukodet.eval.operating_point`) names them per class
while it matches. For the localisation errors it also says how the boxes miss (:class:`LocalisationFit`): too
small, too large or off centre, each calling for a different fix (zoom range, anchors, box loss).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["FP_KINDS", "BACKGROUND_IOU", "count_false_kinds", "false_positive_kinds", "LocalisationFit"]

FP_KINDS: tuple[str, ...] = ("duplicate", "class", "localisation", "background")
"""The kinds, in the order they are tested: the first that applies names the error."""

BACKGROUND_IOU = 0.1
"""TIDE's background threshold: a false detection overlapping no ground truth by this much is on background."""


def _kind(gt_iou: np.ndarray, same: np.ndarray, iou: float) -> str:
    """The kind of one unmatched detection from its IoU with every ground-truth box (``[G]``) and which of them
    share its class: a same-class box it matches was taken by a higher-scored detection (duplicate); a box of
    another class it matches (class); some overlap (localisation); none (background)."""
    if gt_iou.size and (gt_iou[same] >= iou).any():
        return "duplicate"
    if gt_iou.size and (gt_iou[~same] >= iou).any():
        return "class"
    if gt_iou.size and gt_iou.max() >= BACKGROUND_IOU:
        return "localisation"
    return "background"


def count_false_kinds(
    counts: np.ndarray, ious: np.ndarray, same: np.ndarray, classes: np.ndarray, hits: np.ndarray, iou: float
) -> np.ndarray:
    """Add one image's false detections to ``counts`` (``[classes, len(FP_KINDS)]``), given the matching the
    operating point made: ``ious`` and ``same`` ``[G, D]``, detection ``classes`` and true-positive ``hits`` ``[D]``.
    Returns the indices of the detections that are localisation errors."""
    local = []
    for d in np.flatnonzero(~hits):
        kind = _kind(ious[:, d], same[:, d], iou)
        counts[classes[d], FP_KINDS.index(kind)] += 1
        if kind == "localisation":
            local.append(d)
    return np.asarray(local, dtype=np.int64)


class LocalisationFit:
    """How the localisation errors miss the cell they overlap most: per class, the IoU, the ratio of the box's
    longest side to that cell's (< 1: too small) and the centre offset in units of the cell's longest side."""

    def __init__(self, num_classes: int) -> None:
        self._rows: list[list[tuple[float, float, float]]] = [[] for _ in range(num_classes)]

    def add(
        self,
        gt_boxes: np.ndarray,
        boxes: np.ndarray,
        ious: np.ndarray,
        classes: np.ndarray,
        local: np.ndarray,
    ) -> None:
        """Add one image's localisation errors (``local``: detection indices into ``boxes`` ``[D, 4]``,
        ``ious`` ``[G, D]``)."""
        for d in local:
            g = gt_boxes[int(np.argmax(ious[:, d]))]
            side_gt = max(g[2] - g[0], g[3] - g[1])
            b = boxes[d]
            offset = np.hypot((b[0] + b[2] - g[0] - g[2]) / 2, (b[1] + b[3] - g[1] - g[3]) / 2)
            ratio = max(b[2] - b[0], b[3] - b[1]) / side_gt
            self._rows[classes[d]].append((float(ious[:, d].max()), float(ratio), float(offset / side_gt)))

    def summary(self, class_names: Sequence[str]) -> dict[str, dict[str, float]]:
        """``{class: {"n", "median_iou", "median_size_ratio", "too_small", "too_large", "median_centre_offset"}}``
        for every class with a localisation error; ``too_small``/``too_large``: the share with a longest side
        under 0.8 / over 1.25 times the cell's."""
        out = {}
        for c, rows in enumerate(self._rows):
            if rows:
                iou, ratio, offset = np.asarray(rows).T
                out[class_names[c]] = {
                    "n": len(rows),
                    "median_iou": round(float(np.median(iou)), 3),
                    "median_size_ratio": round(float(np.median(ratio)), 3),
                    "too_small": round(float((ratio < 0.8).mean()), 3),
                    "too_large": round(float((ratio > 1.25).mean()), 3),
                    "median_centre_offset": round(float(np.median(offset)), 3),
                }
        return out


def false_positive_kinds(
    counts: np.ndarray, seen: np.ndarray, class_names: Sequence[str]
) -> dict[str, dict[str, int]]:
    """``{class name: {kind: n}}`` for every class with kept detections (``seen``)."""
    return {
        class_names[c]: dict(zip(FP_KINDS, map(int, counts[c]), strict=True))
        for c in range(len(class_names))
        if seen[c]
    }
