"""YOLOv5-protocol AP against hand-computed curves, and the IoU-greedy matching."""

from __future__ import annotations

import numpy as np
import pytest

from leukodet.eval.yolo_ap import IOU_THRESHOLDS, ap_101, match_by_iou
from leukodet.records.boxes import box_iou


def _curve(tp: list[bool], n_gt: int) -> tuple[np.ndarray, np.ndarray]:
    flags = np.array(tp, dtype=float)
    tpc, fpc = np.cumsum(flags), np.cumsum(1 - flags)
    return tpc / n_gt, tpc / (tpc + fpc)


def test_ap_101_three_gt_four_detections() -> None:
    # Scores .9 TP, .8 FP, .7 TP, .6 TP on 3 GT: recall 1/3, 1/3, 2/3, 1; precision 1, 1/2, 2/3, 3/4.
    # Envelope: 1 up to recall 1/3, then 3/4; the sentinel makes it 0 at recall 1.
    # 101 points x = i/100: i <= 33 -> 1, 34..99 -> 3/4, 100 -> 0. Trapezoid rule, step 0.01:
    hand = 33 * 0.01 * 1.0 + 0.01 * (1.0 + 0.75) / 2 + 65 * 0.01 * 0.75 + 0.01 * (0.75 + 0.0) / 2
    assert hand == pytest.approx(0.83)
    assert ap_101(*_curve([True, False, True, True], 3)) == pytest.approx(hand)


def test_ap_101_two_gt_three_detections() -> None:
    # .9 TP, .8 FP, .7 TP on 2 GT: recall .5, .5, 1; precision 1, 1/2, 2/3; envelope 1, then 2/3.
    # Points: i <= 49 -> 1, i = 50..99 -> 2/3 (a step on a grid point: right value), 100 -> 0.
    hand = 49 * 0.01 + 0.01 * (1 + 2 / 3) / 2 + 49 * 0.01 * 2 / 3 + 0.01 * (2 / 3) / 2
    assert ap_101(*_curve([True, False, True], 2)) == pytest.approx(hand)


def test_ap_101_ceiling_and_floor() -> None:
    assert ap_101(*_curve([True, True], 2)) == pytest.approx(0.995)
    assert ap_101(*_curve([False, False], 2)) < 0.01


def test_match_by_iou_greedy_one_to_one() -> None:
    gt = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], dtype=float)
    det = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 0, 30, 12], [0, 0, 10, 10]], dtype=float)
    same = np.array([[True, True, True, False], [True, True, True, True]])
    tp = match_by_iou(box_iou(gt, det), same)
    assert tp.shape == (4, len(IOU_THRESHOLDS))
    # gt0 takes det0 (IoU 1); det1 (IoU .82 with gt0) is left over; det3 is another class for gt0.
    assert tp[:, 0].tolist() == [True, False, True, False]
    # det2 has IoU 10/12 = .833 with gt1: a TP up to threshold .80, not at .85.
    assert tp[2].tolist() == [t <= 0.8 + 1e-9 for t in IOU_THRESHOLDS]
