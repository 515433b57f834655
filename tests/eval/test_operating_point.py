"""Operating point on a hand case: exact precision, recall, F1 and count error."""

from __future__ import annotations

import numpy as np
import pytest

from leukodet.eval import evaluate
from leukodet.eval.operating_point import match_by_score
from leukodet.records.boxes import box_iou
from tests.eval.builders import box_at, make_pred, make_record


def test_operating_point_hand_case() -> None:
    g = [box_at(10, 10), box_at(100, 10), box_at(300, 300)]
    records = [make_record(0, [(g[0], 0), (g[1], 0), (g[2], 1)]), make_record(1, [(box_at(50, 50), 0)])]
    dets = [
        (g[0], 0.9, 0),  # TP a
        (box_at(400, 10), 0.8, 0),  # FP a
        (g[2], 0.3, 1),  # TP b
        (g[1], 0.1, 0),  # below conf 0.25: not kept
    ]
    res = evaluate(records, ["a", "b"], [make_pred(0, dets), make_pred(1, [])], conf_op=0.25)
    op = res["operating_point"]
    # kept 3, TP 2, GT 4; counts: image 0 |3 - 3| = 0, image 1 |0 - 1| = 1.
    assert op["conf"] == 0.25 and op["iou"] == 0.5
    assert op["precision"] == pytest.approx(2 / 3) and op["recall"] == pytest.approx(1 / 2)
    assert op["f1"] == pytest.approx(4 / 7) and op["count_abs_err_per_image"] == pytest.approx(0.5)
    a, b = op["per_class"]["a"], op["per_class"]["b"]
    assert (a["precision"], a["recall"], a["f1"]) == pytest.approx((0.5, 1 / 3, 0.4))
    assert a["count_abs_err_per_image"] == pytest.approx(0.5)
    assert (b["precision"], b["recall"], b["f1"], b["count_abs_err_per_image"]) == pytest.approx((1, 1, 1, 0))


def test_match_by_score_takes_higher_score_first() -> None:
    gt = np.array([[0, 0, 10, 10]], dtype=float)
    det = np.array([[0, 0, 10, 16], [0, 0, 10, 11]], dtype=float)  # IoU .625 (score .9) and .909 (score .8)
    tp = match_by_score(box_iou(gt, det), np.ones((1, 2), bool), np.array([0.9, 0.8]), 0.5)
    assert tp.tolist() == [True, False]
