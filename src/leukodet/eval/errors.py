"""Why a detection kept at the operating point is false: the kinds of error of Bolya et al., *TIDE: A General
Toolbox for Identifying Object Detection Errors*, ECCV 2020, counted at one confidence.

A precision gap at the same recall (a model finding as many cells as another, with more false detections) can
come from duplicates the NMS left, from cells of another class taken for this one, from boxes too poorly placed
to match, or from detections on background. Each calls for a different fix (NMS, class balance, box loss or
scale, objectness calibration), so :func:`false_positive_kinds` names them per class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from leukodet.eval.operating_point import match_by_score
from leukodet.eval.scored_image import ScoredImage
from leukodet.records.boxes import box_iou

from ..config import PREDICT_CONF

__all__ = ["FP_KINDS", "BACKGROUND_IOU", "false_positive_kinds"]

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


def false_positive_kinds(
    images: Sequence[ScoredImage], class_names: Sequence[str], conf: float = PREDICT_CONF, iou: float = 0.5
) -> dict[str, dict[str, int]]:
    """Per class with kept detections: its false detections at ``conf`` by kind (:data:`FP_KINDS`), matched as
    :func:`leukodet.eval.operating_point.operating_point` matches them (greedy by score, one-to-one).

    Returns:
        ``{class name: {"duplicate": n, "class": n, "localisation": n, "background": n}}``.
    """
    counts = np.zeros((len(class_names), len(FP_KINDS)), dtype=np.int64)
    seen = np.zeros(len(class_names), dtype=bool)
    for im in images:
        keep = im.det_scores >= conf
        boxes, scores, classes = im.det_boxes[keep], im.det_scores[keep], im.det_classes[keep]
        seen[classes] = True
        same = im.gt_classes[:, None] == classes[None, :]
        ious = box_iou(im.gt_boxes, boxes)
        hits = match_by_score(ious, same, scores, iou)
        for d in np.flatnonzero(~hits):
            counts[classes[d], FP_KINDS.index(_kind(ious[:, d], same[:, d], iou))] += 1
    return {
        class_names[c]: dict(zip(FP_KINDS, map(int, counts[c]), strict=True))
        for c in range(len(class_names))
        if seen[c]
    }
