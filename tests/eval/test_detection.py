"""End-to-end `evaluate`: both evaluators, class mapping by name, region restriction, bookkeeping."""

from __future__ import annotations

import json

import pytest

from leukodet.eval import evaluate
from leukodet.records.schema import Box
from tests.eval.builders import box_at, make_pred, make_record

YOLO_PERFECT = 0.995  # protocol ceiling: precision sentinel 0 at recall 1 (see leukodet.eval.yolo_ap)


def _two_class_scene() -> tuple[list, list[list[tuple[Box, float, int]]]]:
    """Three images with cells of classes a (0) and b (1); returns records' cells and exact detections."""
    cells = [
        [(box_at(10, 10), 0), (box_at(100, 100), 1), (box_at(300, 300), 0)],
        [(box_at(50, 400), 1)],
        [(box_at(500, 20), 0), (box_at(200, 200), 1)],
    ]
    dets = [[(b, 0.9 - 0.1 * j, c) for j, (b, c) in enumerate(im)] for im in cells]
    return cells, dets


def test_perfect_predictions_score_one() -> None:
    cells, dets = _two_class_scene()
    records = [make_record(i, c) for i, c in enumerate(cells)]
    res = evaluate(records, ["a", "b"], [make_pred(i, d) for i, d in enumerate(dets)])
    assert res["map50"] == pytest.approx(1.0) and res["map50_95"] == pytest.approx(1.0)
    assert res["yolov5"]["map50"] == pytest.approx(YOLO_PERFECT)
    assert res["yolov5"]["map50_95"] == pytest.approx(YOLO_PERFECT)
    assert res["yolov5"]["precision"] == pytest.approx(1.0) and res["yolov5"]["recall"] == pytest.approx(1.0)
    perfect = {"ap50": 1.0, "ap50_95": 1.0, "n_gt": 3}
    assert res["per_class"] == {"a": perfect, "b": perfect}
    op = res["operating_point"]
    assert (op["precision"], op["recall"], op["f1"], op["count_abs_err_per_image"]) == (1.0, 1.0, 1.0, 0.0)
    assert res["evaluator"]["coco"].startswith(("faster-coco-eval ", "pycocotools "))
    assert res["evaluator"]["yolov5"] == "leukodet 101-point (YOLOv5 protocol)"
    json.dumps(res)


def test_one_class_perfect_other_all_missed() -> None:
    cells, dets = _two_class_scene()
    records = [make_record(i, c) for i, c in enumerate(cells)]
    preds = [make_pred(i, [d for d in im if d[2] == 0]) for i, im in enumerate(dets)]
    res = evaluate(records, ["a", "b"], preds)
    assert res["map50"] == pytest.approx(0.5) and res["map50_95"] == pytest.approx(0.5)
    assert res["per_class"]["b"] == {"ap50": 0.0, "ap50_95": 0.0, "n_gt": 3}
    assert res["yolov5"]["map50"] == pytest.approx(YOLO_PERFECT / 2)
    assert res["operating_point"]["per_class"]["b"]["recall"] == 0.0


def _region_case(regions: tuple[Box, ...] | None) -> dict:
    """Left half labelled: 3 GT inside; inside dets TP .9, FP .8, TP .7, TP .6; outside a FP .95, a missed GT.

    A second image has ``labeled_regions=()``: its GT and its detection are not scored at all.
    """
    gt_in = [box_at(20, 20), box_at(20, 200), box_at(200, 400)]
    far_in = box_at(100, 560)
    cells0 = [(b, 0) for b in gt_in] + [(box_at(500, 100), 0)]
    dets0 = [(gt_in[0], 0.9, 0), (far_in, 0.8, 0), (gt_in[1], 0.7, 0), (gt_in[2], 0.6, 0)]
    dets0.append((box_at(450, 450), 0.95, 0))
    records = [make_record(0, cells0, regions), make_record(1, [(box_at(10, 10), 0)], ())]
    preds = [make_pred(0, dets0), make_pred(1, [(box_at(300, 300), 0.99, 0)])]
    return evaluate(records, ["a", "b"], preds)


def test_region_restricted_scoring_known_map() -> None:
    res = _region_case(((0.0, 0.0, 320.0, 640.0),))
    # COCO 101 recall points: r <= 1/3 (34 points) precision 1, the other 67 points envelope 3/4.
    coco = (34 * 1.0 + 67 * 0.75) / 101
    # YOLOv5: 101-point envelope 1 on [0, .33], 3/4 on [.34, .99], 0 at 1, trapezoid rule.
    yolo = 0.33 * 1.0 + 0.01 * (1.0 + 0.75) / 2 + 0.65 * 0.75 + 0.01 * (0.75 + 0.0) / 2
    assert res["map50"] == pytest.approx(coco) and res["map50_95"] == pytest.approx(coco)
    assert res["yolov5"]["map50"] == pytest.approx(yolo) and res["yolov5"]["map50_95"] == pytest.approx(yolo)
    assert res["per_class"] == {"a": {"ap50": pytest.approx(coco), "ap50_95": pytest.approx(coco), "n_gt": 3}}
    assert res["region_restricted_images"] == 2 and res["images"] == 2
    op = res["operating_point"]  # 4 kept in region, 3 TP, 3 GT; the "()" image is not averaged
    assert op["precision"] == pytest.approx(0.75) and op["recall"] == pytest.approx(1.0)
    assert op["count_abs_err_per_image"] == pytest.approx(1.0)


def test_region_restriction_changes_the_score() -> None:
    restricted = _region_case(((0.0, 0.0, 320.0, 640.0),))
    whole = _region_case(None)
    assert whole["map50"] < restricted["map50"]
    assert whole["region_restricted_images"] == 1


def test_class_mapping_by_name_not_index() -> None:
    cells, dets = _two_class_scene()
    dets[0] = dets[0][:2]  # imperfect, so the comparison is not trivially 1 vs 1
    records = [make_record(i, c) for i, c in enumerate(cells)]
    aligned = evaluate(records, ["a", "b"], [make_pred(i, d) for i, d in enumerate(dets)])
    swapped_dets = [[(b, s, 1 - c) for b, s, c in im] for im in dets]
    swapped = evaluate(records, ["a", "b"], [make_pred(i, d, ("b", "a")) for i, d in enumerate(swapped_dets)])
    assert swapped == aligned
    assert aligned["per_class"]["a"]["ap50"] < 1.0 and aligned["classes_missing"] == []


def test_classes_missing_score_zero_and_listed() -> None:
    cells, dets = _two_class_scene()
    cells[1] = cells[1] + [(box_at(400, 400), 2)]
    records = [make_record(i, c) for i, c in enumerate(cells)]
    res = evaluate(records, ["a", "b", "c"], [make_pred(i, d) for i, d in enumerate(dets)])
    assert res["classes_missing"] == ["c"]
    assert res["per_class"]["c"] == {"ap50": 0.0, "ap50_95": 0.0, "n_gt": 1}
    assert res["map50"] == pytest.approx(2 / 3)
    assert res["yolov5"]["map50"] == pytest.approx(2 * YOLO_PERFECT / 3)


def test_detections_of_unknown_classes_dropped_and_counted() -> None:
    cells, dets = _two_class_scene()
    records = [make_record(i, c) for i, c in enumerate(cells)]
    names = ("a", "b", "x")
    preds = [make_pred(i, d + [(box_at(600, 600), 0.99, 2)], names) for i, d in enumerate(dets)]
    res = evaluate(records, ["a", "b"], preds)
    assert res["dropped_detections"] == 3 and res["dropped_by_class"] == {"x": 3}
    assert res["map50"] == pytest.approx(1.0)


def test_no_common_class_is_an_error() -> None:
    with pytest.raises(ValueError, match="share no class") as err:
        evaluate([make_record(0, [(box_at(0, 0), 0)])], ["a"], [make_pred(0, [], ("lymph", "mono"))])
    assert "lymph" in str(err.value) and "a" in str(err.value)


def test_empty_predictions_and_invalid_gt() -> None:
    cells = [((10, 10, 10, 50), 0), (box_at(50, 50), 7), (box_at(100, 100), 1), (box_at(200, 200), 0)]
    res = evaluate([make_record(0, cells)], ["a", "b"], [make_pred(0, [])])
    assert res["invalid_gt_skipped"] == 2
    assert res["map50"] == 0.0 and res["yolov5"]["map50_95"] == 0.0
    assert res["operating_point"]["count_abs_err_per_image"] == 2.0
    json.dumps(res)


def test_pairing_errors() -> None:
    rec = make_record(0, [(box_at(0, 0), 0)])
    with pytest.raises(ValueError, match="paired by order"):
        evaluate([rec], ["a"], [])
    with pytest.raises(ValueError, match="paired with record"):
        evaluate([rec], ["a"], [make_pred(5, [])])


def test_nothing_labelled_scores_zero_without_error() -> None:
    rec = make_record(0, [(box_at(0, 0), 0)], ())
    res = evaluate([rec], ["a"], [make_pred(0, [(box_at(0, 0), 0.9, 0)], ("a",))])
    assert res["map50"] == 0.0 and res["per_class"] == {} and res["yolov5"]["recall"] == 0.0
    op = res["operating_point"]
    assert op["count_abs_err_per_image"] == 0.0 and op["per_class"] == {}


def test_a_typed_wbc_is_also_a_wbc_in_a_hierarchical_vocabulary() -> None:
    names = ["WBC", "RBC", "Myeloblast", "Neutrophil"]
    cells = [(box_at(10, 10), 2), (box_at(100, 100), 3), (box_at(300, 300), 1)]
    records = [make_record(0, cells)]
    exact = [(box_at(10, 10), 0.9, 2), (box_at(100, 100), 0.8, 3), (box_at(300, 300), 0.7, 1)]
    untyped = [(box_at(10, 10), 0.9, 0), (box_at(100, 100), 0.8, 0), (box_at(300, 300), 0.7, 1)]
    res = evaluate(records, names, [make_pred(0, untyped, names)])
    assert res["per_class"]["WBC"] == {"ap50": 1.0, "ap50_95": 1.0, "n_gt": 2}  # found as WBCs, types unnamed
    assert res["per_class"]["Myeloblast"]["ap50"] == 0.0 and res["per_class"]["RBC"]["ap50"] == 1.0
    res = evaluate(records, names, [make_pred(0, exact, names)])
    assert res["per_class"]["Myeloblast"]["ap50"] == 1.0 and res["per_class"]["WBC"]["ap50"] == 0.0
    flat = evaluate(records, names[1:] + ["Lymphocyte"], [make_pred(0, [], names[1:] + ["Lymphocyte"])])
    assert "WBC" not in flat["per_class"]  # no WBC class: nothing added
