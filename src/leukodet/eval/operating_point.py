"""Operating point: precision, recall, F1 and count error of the detections kept at one confidence.

A white-cell differential counts the cells kept at a threshold, so these figures (not mAP) are what a count
depends on. Detections with ``score >= conf`` are matched greedily by descending score to the unmatched
same-class ground-truth box of highest IoU ≥ ``iou`` (one-to-one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from leukodet.eval.errors import FP_KINDS, LocalisationFit, count_false_kinds, false_positive_kinds
from leukodet.eval.scored_image import ScoredImage
from leukodet.records.boxes import box_iou

from ..config import PREDICT_CONF

__all__ = ["match_by_score", "operating_point"]


def match_by_score(iou: np.ndarray, same_class: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    """True-positive flags, greedy by descending score, each detection taking its best free ground truth.

    Args:
        iou: ``[G, D]`` IoU of ground truth with detections.
        same_class: ``[G, D]`` bool, same class.
        scores: ``[D]`` detection scores.
        iou_thr: minimum IoU of a match.

    Returns:
        ``[D]`` bool.
    """
    tp = np.zeros(len(scores), dtype=bool)
    if iou.shape[0] == 0:
        return tp
    free = np.ones(iou.shape[0], dtype=bool)
    for d in np.argsort(-scores, kind="stable"):
        cand = np.where(free & same_class[:, d] & (iou[:, d] >= iou_thr), iou[:, d], -1.0)
        g = int(cand.argmax())
        if cand[g] >= 0:
            free[g] = False
            tp[d] = True
    return tp


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else 0.0


def _figures(
    tp: float, n_det: float, n_gt: float, abs_err: float, conf: float, iou: float
) -> dict[str, float]:
    precision, recall = _ratio(tp, n_det), _ratio(tp, n_gt)
    return {
        "conf": float(conf),
        "iou": float(iou),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "count_abs_err_per_image": float(abs_err),
    }


def operating_point(
    images: Sequence[ScoredImage], class_names: Sequence[str], conf: float = PREDICT_CONF, iou: float = 0.5
) -> dict[str, Any]:
    """Micro-averaged and per-class figures of the detections kept at ``conf``.

    Args:
        images: scored images (dataset class ids).
        class_names: dataset class names.
        conf: confidence threshold (kept: ``score >= conf``).
        iou: IoU threshold of a match.

    Returns:
        ``{"conf", "iou", "precision", "recall", "f1", "count_abs_err_per_image", "per_class": {name: same},
        "false_positives": {name: {kind: n}}, "localisation": {name: fit}}`` (:mod:`leukodet.eval.errors`)
        as fractions, the count error in cells per image, averaged over images with a labelled area
        (``labeled_regions != ()``). ``per_class`` lists classes with ground truth or kept detections.
        A ratio with a zero denominator is 0.
    """
    k = len(class_names)
    tp, n_det, n_gt, err = (np.zeros(k) for _ in range(4))
    n_images, total_err = 0, 0.0
    false, seen = np.zeros((k, len(FP_KINDS)), dtype=np.int64), np.zeros(k, dtype=bool)
    fit = LocalisationFit(k)
    for im in images:
        keep = im.det_scores >= conf
        boxes, scores, classes = im.det_boxes[keep], im.det_scores[keep], im.det_classes[keep]
        same = im.gt_classes[:, None] == classes[None, :]
        ious = box_iou(im.gt_boxes, boxes)
        hits = match_by_score(ious, same, scores, iou)
        fit.add(im.gt_boxes, boxes, ious, classes, count_false_kinds(false, ious, same, classes, hits, iou))
        seen[classes] = True
        tp += np.bincount(classes[hits], minlength=k)
        dets_k = np.bincount(classes, minlength=k)
        gts_k = np.bincount(im.gt_classes, minlength=k)
        n_det += dets_k
        n_gt += gts_k
        if im.labeled:
            n_images += 1
            err += np.abs(dets_k - gts_k)
            total_err += abs(len(classes) - len(im.gt_classes))
    out = _figures(tp.sum(), n_det.sum(), n_gt.sum(), _ratio(total_err, n_images), conf, iou)
    out["per_class"] = {
        class_names[c]: _figures(tp[c], n_det[c], n_gt[c], _ratio(err[c], n_images), conf, iou)
        for c in range(k)
        if n_gt[c] > 0 or n_det[c] > 0
    }
    out["false_positives"] = false_positive_kinds(false, seen, class_names)
    out["localisation"] = fit.summary(class_names)
    return out
