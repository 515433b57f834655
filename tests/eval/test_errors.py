"""False detections at the operating point, named by kind (TIDE's duplicate, class, localisation, background)."""

from __future__ import annotations

from leukodet.eval import evaluate
from leukodet.eval.errors import FP_KINDS
from tests.eval.builders import box_at, make_pred, make_record


def test_each_false_detection_gets_its_kind() -> None:
    a1, a2, b1 = box_at(10, 10), box_at(200, 10), box_at(400, 400)
    records = [make_record(0, [(a1, 0), (a2, 0), (b1, 1)])]
    dets = [
        (a1, 0.9, 0),  # TP a
        (box_at(12, 12), 0.8, 0),  # matches a1, already taken: duplicate
        (b1, 0.7, 0),  # an a on the b cell: class
        (box_at(225, 25), 0.6, 0),  # overlaps a2 by IoU 0.14: localisation
        (box_at(500, 100), 0.5, 0),  # nothing near: background
        (box_at(600, 600), 0.1, 0),  # under conf 0.25: not kept, not counted
        (b1, 0.95, 1),  # TP b
    ]
    op = evaluate(records, ["a", "b"], [make_pred(0, dets)], conf_op=0.25)["operating_point"]
    assert op["false_positives"]["a"] == {"duplicate": 1, "class": 1, "localisation": 1, "background": 1}
    assert op["false_positives"]["b"] == dict.fromkeys(FP_KINDS, 0)
    a = op["per_class"]["a"]
    false = sum(op["false_positives"]["a"].values())
    assert a["precision"] == 1 / (1 + false)  # the kinds add up to the operating point's false detections


def test_no_detections_no_entry() -> None:
    records = [make_record(0, [(box_at(10, 10), 0)])]
    op = evaluate(records, ["a", "b"], [make_pred(0, [])])["operating_point"]
    assert op["false_positives"] == {}


def test_localisation_errors_say_how_the_boxes_miss() -> None:
    cell, far = box_at(100, 100, size=100), box_at(400, 400, size=40)
    records = [make_record(0, [(cell, 0), (far, 0)])]
    dets = [
        (box_at(130, 130, size=40), 0.9, 0),  # inside the cell, 0.4 of its side, centred: IoU 0.16
        (box_at(90, 90, size=160), 0.8, 0),  # around it, 1.6 of its side, centre 20 px off in x and y
        (far, 0.7, 0),  # TP: not a localisation error
    ]
    op = evaluate(records, ["a"], [make_pred(0, dets)], conf_op=0.25)["operating_point"]
    fit = op["localisation"]["a"]
    assert op["false_positives"]["a"]["localisation"] == fit["n"] == 2
    assert fit["median_size_ratio"] == 1.0  # the median of 0.4 and 1.6
    assert fit["too_small"] == fit["too_large"] == 0.5
    assert fit["median_iou"] == round((0.16 + 1e4 / 160**2) / 2, 3)
    assert fit["median_centre_offset"] == round((0 + (20 * 2**0.5) / 100) / 2, 3)


def test_no_localisation_error_no_fit() -> None:
    records = [make_record(0, [(box_at(10, 10), 0)])]
    op = evaluate(records, ["a"], [make_pred(0, [(box_at(10, 10), 0.9, 0)])])["operating_point"]
    assert op["localisation"] == {}
