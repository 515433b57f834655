"""Why a detection kept at the operating point is false: the kinds of error of Bolya et al., *TIDE: A General
Toolbox for Identifying Object Detection Errors*, ECCV 2020, counted at one confidence.

A precision gap at the same recall (a model finding as many cells as another, with more false detections) can
come from duplicates the NMS left, from cells of another class taken for this one, from boxes too poorly placed
to match, or from detections on background. Each calls for a different fix (NMS, class balance, box loss or
scale, objectness calibration), so the operating point (:mod:`leukodet.eval.operating_point`) names them per class\nwhile it matches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["FP_KINDS", "BACKGROUND_IOU", "count_false_kinds", "false_positive_kinds"]

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
) -> None:
    """Add one image's false detections to ``counts`` (``[classes, len(FP_KINDS)]``), given the matching the
    operating point made: ``ious`` and ``same`` ``[G, D]``, detection ``classes`` and true-positive ``hits`` ``[D]``."""
    for d in np.flatnonzero(~hits):
        counts[classes[d], FP_KINDS.index(_kind(ious[:, d], same[:, d], iou))] += 1


def false_positive_kinds(
    counts: np.ndarray, seen: np.ndarray, class_names: Sequence[str]
) -> dict[str, dict[str, int]]:
    """``{class name: {kind: n}}`` for every class with kept detections (``seen``)."""
    return {
        class_names[c]: dict(zip(FP_KINDS, map(int, counts[c]), strict=True))
        for c in range(len(class_names))
        if seen[c]
    }
