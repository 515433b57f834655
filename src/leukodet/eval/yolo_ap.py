"""YOLOv5-protocol AP (the paper's reported figures): 101-point interpolated AP, trapezoid rule (spec §6).

Own implementation of the protocol as the spec describes it. Per IoU threshold t ∈ {0.50, 0.55, …, 0.95} a
detection is a true positive if it has the class of a ground-truth box and IoU ≥ t, with a greedy one-to-one
assignment by descending IoU. Per class, detections sorted by confidence give cumulative precision/recall;
the precision envelope over recall sentinels ``0 → 1`` and precision sentinels ``1 → 0`` is sampled at 101
recall points and integrated with the trapezoid rule. Because the sentinel puts precision 0 at recall 1,
a perfect detector scores 0.995, the protocol's ceiling (as in the paper's tables).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from leukodet.eval.coco import ClassAP
from leukodet.eval.scored_image import ScoredImage
from leukodet.records.boxes import box_iou

__all__ = ["IOU_THRESHOLDS", "YoloResult", "match_by_iou", "ap_101", "yolo_ap"]

IOU_THRESHOLDS: np.ndarray = np.linspace(0.5, 0.95, 10)
"""IoU thresholds 0.50:0.05:0.95."""

_CONF_GRID = np.linspace(0.0, 1.0, 1000)
_F1_SMOOTH_FRACTION = 0.1


@dataclass(frozen=True)
class YoloResult:
    """Per-class YOLOv5-protocol figures.

    Attributes:
        ap: per-class AP at 0.50 and 0.50:0.95, with ``n_gt``.
        precision: ``[K]`` precision at the confidence maximising the class-mean F1 (IoU 0.50).
        recall: ``[K]`` recall at that confidence.
        pr_curves: per class with ground truth, ``(recall, precision)`` at IoU 0.50 (at most 200 points).
    """

    ap: ClassAP
    precision: np.ndarray
    recall: np.ndarray
    pr_curves: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def match_by_iou(
    iou: np.ndarray, same_class: np.ndarray, thresholds: np.ndarray = IOU_THRESHOLDS
) -> np.ndarray:
    """True-positive flags of detections, greedy one-to-one by descending IoU, per threshold.

    Args:
        iou: ``[G, D]`` IoU of ground truth with detections.
        same_class: ``[G, D]`` bool, ground truth and detection have the same class.
        thresholds: ``[T]`` IoU thresholds.

    Returns:
        ``[D, T]`` bool; ``[d, t]`` is true if detection ``d`` is matched at threshold ``t``.
    """
    tp = np.zeros((iou.shape[1], len(thresholds)), dtype=bool)
    gi, di = np.nonzero(same_class & (iou >= thresholds.min()))
    if len(gi) == 0:
        return tp
    order = np.argsort(-iou[gi, di], kind="stable")
    gi, di, vals = gi[order], di[order], iou[gi, di][order]
    for t, thr in enumerate(thresholds):
        used_g: set[int] = set()
        used_d: set[int] = set()
        for g, d in zip(gi[vals >= thr].tolist(), di[vals >= thr].tolist()):
            if g not in used_g and d not in used_d:
                used_g.add(g)
                used_d.add(d)
                tp[d, t] = True
    return tp


def ap_101(recall: np.ndarray, precision: np.ndarray) -> float:
    """101-point interpolated AP of one precision/recall curve, integrated with the trapezoid rule.

    Args:
        recall: ``[N]`` cumulative recall, detections in descending confidence.
        precision: ``[N]`` cumulative precision, same order.

    Returns:
        AP in [0, 0.995] (precision sentinel 0 at recall 1, see module docstring).
    """
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0]))
    envelope = np.flip(np.maximum.accumulate(np.flip(mpre)))
    x = np.linspace(0.0, 1.0, 101)
    return float(np.trapezoid(np.interp(x, mrec, envelope), x))


def _smooth(y: np.ndarray, fraction: float) -> np.ndarray:
    """Box-filter ``y`` over ``fraction`` of its length (odd width), edges padded with the end values."""
    half = round(len(y) * fraction * 2) // 2 // 2
    padded = np.concatenate((np.full(half, y[0]), y, np.full(half, y[-1])))
    return np.convolve(padded, np.ones(2 * half + 1) / (2 * half + 1), mode="valid")


def _collect(images: Sequence[ScoredImage]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tps, scores, classes = [np.zeros((0, len(IOU_THRESHOLDS)), dtype=bool)], [np.zeros(0)], [np.zeros(0, int)]
    for im in images:
        same = im.gt_classes[:, None] == im.det_classes[None, :]
        tps.append(match_by_iou(box_iou(im.gt_boxes, im.det_boxes), same))
        scores.append(im.det_scores)
        classes.append(im.det_classes)
    return np.concatenate(tps), np.concatenate(scores), np.concatenate(classes)


def yolo_ap(images: Sequence[ScoredImage], num_classes: int) -> YoloResult:
    """Per-class YOLOv5-protocol AP and max-F1 precision/recall of the scored sets.

    Args:
        images: scored images (dataset class ids).
        num_classes: number of dataset classes.

    Returns:
        :class:`YoloResult`; classes without ground truth keep 0 and are excluded from means by ``n_gt``.
    """
    tp, conf, pred_cls = _collect(images)
    n_gt = np.zeros(num_classes, dtype=np.int64)
    for im in images:
        n_gt += np.bincount(im.gt_classes, minlength=num_classes)
    ap = np.zeros((num_classes, len(IOU_THRESHOLDS)))
    p_curve = np.zeros((num_classes, len(_CONF_GRID)))
    r_curve = np.zeros((num_classes, len(_CONF_GRID)))
    curves: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k in np.flatnonzero(n_gt):
        sel = np.flatnonzero(pred_cls == k)
        if len(sel) == 0:
            continue
        sel = sel[np.argsort(-conf[sel], kind="stable")]
        tpc = np.cumsum(tp[sel], axis=0)
        fpc = np.cumsum(~tp[sel], axis=0)
        recall = tpc / n_gt[k]
        precision = tpc / (tpc + fpc)
        ap[k] = [ap_101(recall[:, t], precision[:, t]) for t in range(len(IOU_THRESHOLDS))]
        r_curve[k] = np.interp(-_CONF_GRID, -conf[sel], recall[:, 0], left=0.0)
        p_curve[k] = np.interp(-_CONF_GRID, -conf[sel], precision[:, 0], left=1.0)
        step = max(1, len(sel) // 200)
        curves[int(k)] = (recall[::step, 0], precision[::step, 0])
    f1 = 2 * p_curve * r_curve / np.maximum(p_curve + r_curve, 1e-16)
    has_gt = n_gt > 0
    best = int(_smooth(f1[has_gt].mean(axis=0), _F1_SMOOTH_FRACTION).argmax()) if has_gt.any() else 0
    return YoloResult(
        ap=ClassAP(ap50=ap[:, 0], ap50_95=ap.mean(axis=1), n_gt=n_gt),
        precision=p_curve[:, best],
        recall=r_curve[:, best],
        pr_curves=curves,
    )
