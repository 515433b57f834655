"""Attribute metrics: matching by name (not index), max-IoU matching per image, F1 on a hand-built case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from leukodet.eval import Prediction
from leukodet.eval.attributes import evaluate_attributes
from leukodet.eval.detection import evaluate
from leukodet.records.schema import AttributeSchema, Cell, ImageRecord

SCHEMA = AttributeSchema.from_mapping(
    {"nuclear_shape": ["regular", "irregular"], "colour": ["blue", "purple", "pink"]}
)


def _records() -> list[ImageRecord]:
    a = (
        Cell((10, 10, 50, 50), 0, {"nuclear_shape": 1, "colour": 0}),
        Cell((100, 100, 150, 150), 0, {"nuclear_shape": 0, "colour": 2}),
        Cell((200, 10, 240, 60), 1, {"nuclear_shape": 1, "colour": None}),  # colour not applicable
    )
    b = (Cell((10, 10, 60, 60), 1, {"nuclear_shape": 0, "colour": 1}),)
    return [
        ImageRecord(Path("a.png"), 320, 320, "val", a),
        ImageRecord(Path("b.png"), 320, 320, "val", b),
    ]


def _predictions() -> list[Prediction]:
    # the model lists values in another order: only the names matter
    a = Prediction(
        np.array([[12, 12, 50, 52], [100, 100, 140, 150], [205, 10, 240, 55], [20, 20, 40, 40.0]]),
        np.array([0.9, 0.8, 0.7, 0.2]),
        np.array([1, 0, 0, 0]),
        ("blast", "lymph"),
        "a.png",
        320,
        320,
        [
            {"nuclear_shape": "irregular", "colour": "purple"},
            {"nuclear_shape": "irregular", "colour": "pink"},
            {"nuclear_shape": "regular", "colour": "blue"},
            {"nuclear_shape": "regular", "colour": "blue"},  # lower IoU with cell 1: not its match
        ],
    )
    b = Prediction(  # no detection overlaps b's only cell: unmatched, counted wrong
        np.array([[200, 200, 260, 260.0]]), np.array([0.5]), np.array([0]), ("blast", "lymph"), "b.png",
        320, 320, [{"nuclear_shape": "regular", "colour": "violet"}],
    )  # fmt: skip
    return [a, b]


def test_hand_built_case_accuracy_f1_and_unmatched() -> None:
    out = evaluate_attributes(_records(), SCHEMA, _predictions())
    shape = out["attributes"]["nuclear_shape"]
    # truth: irregular, regular, irregular, regular. Predicted: irregular, irregular, regular, nothing.
    assert shape["n"] == 4 and shape["n_unmatched"] == 1
    assert shape["accuracy"] == pytest.approx(0.25)
    assert shape["balanced_accuracy"] == pytest.approx(0.25)  # recalls: regular 0/2, irregular 1/2
    assert shape["f1"] == pytest.approx(0.5)  # positive = "irregular", the 2nd value: tp 1, fp 1, fn 1
    assert shape["macro_f1"] == pytest.approx(0.25)  # regular: tp 0 → F1 0
    colour = out["attributes"]["colour"]
    # truth: blue, pink, purple. Predicted: purple, pink, nothing. The n/a cell is not a row.
    assert colour["n"] == 3 and colour["accuracy"] == pytest.approx(1 / 3) and colour["f1"] is None
    assert colour["macro_f1"] == pytest.approx((0 + 1 + 0) / 3)
    assert out["attributes_mean"]["accuracy"] == pytest.approx((0.25 + 1 / 3) / 2)
    assert out["unknown_values"] == {}  # b's "violet" belongs to an unmatched detection: never compared


def test_iou50_block_and_unknown_values() -> None:
    preds = _predictions()
    a = preds[0]
    calls = [dict(c) for c in a.attributes]
    calls[1] = {"nuclear_shape": "irregular", "colour": "violet"}  # a value the dataset does not know
    a = Prediction(a.boxes, a.scores, a.class_ids, a.class_names, "a.png", 320, 320, calls)
    out = evaluate_attributes(_records(), SCHEMA, [a, preds[1]])
    assert out["unknown_values"] == {"colour": ["violet"]}
    assert out["attributes"]["colour"]["accuracy"] == 0.0
    # IoU of cell 2 with its match is 0.8; all three matches in image a have IoU ≥ 0.5, b's cell none
    assert out["attributes_iou50"]["nuclear_shape"]["n"] == 3
    assert out["attributes_iou50"]["nuclear_shape"]["n_unmatched"] == 1


def test_evaluate_adds_attribute_blocks_only_with_a_schema() -> None:
    recs, preds = _records(), _predictions()
    names = ("blast", "lymph")
    assert "attributes" not in evaluate(recs, names, preds)
    out = evaluate(recs, names, preds, attribute_schema=SCHEMA)
    assert set(out["attributes"]) == {"nuclear_shape", "colour"} and "attributes_iou50" in out


def test_wbcatt_calls_translate_to_lld_words() -> None:
    from leukodet.eval.attribute_map import ATTRIBUTE_MAPS, translate_attributes
    from leukodet.records.vocab import LLD_ATTRIBUTES, WBCATT_TO_LLD

    calls = [
        {"chromatin_density": ("densely", 0.9), "nucleus_shape": "segmented-bilobed", "granularity": "yes"}
    ]
    p = Prediction(np.array([[0, 0, 9, 9.0]]), [0.8], [0], ("Neutrophil",), "x.png", 10, 10, calls)
    got = translate_attributes(p, ATTRIBUTE_MAPS["wbcatt-to-lld"]).attributes[0]
    assert got == {"nuclear_chromatin": ("coarse", 0.9), "nuclear_shape": ("irregular", None)}
    for source, (target, values) in WBCATT_TO_LLD.items():
        assert set(values.values()) <= set(LLD_ATTRIBUTES[target]), source
    bad = Prediction(p.boxes, [0.8], [0], ("Neutrophil",), "x.png", 10, 10, [{"cell_size": "huge"}])
    with pytest.raises(ValueError, match="'huge' has no entry"):
        translate_attributes(bad, WBCATT_TO_LLD)


def test_the_map_covers_every_wbcatt_value_in_the_shared_data() -> None:
    from leukodet.records import load_source
    from leukodet.records.vocab import WBCATT_TO_LLD

    from ..conftest import shared_data

    root = shared_data("wbcatt")
    ds, _ = load_source(root)
    for attr in ds.attributes:
        if attr.name in WBCATT_TO_LLD:
            assert set(attr.values) == set(WBCATT_TO_LLD[attr.name][1]), attr.name
