"""`Prediction`: JSON round trip, filtering, validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from leukodet.eval import Prediction
from leukodet.records.prediction import AttributeCall


def _pred(attributes: list[dict[str, str]] | None = None) -> Prediction:
    return Prediction(
        boxes=np.array([[1.5, 2, 30, 40], [100, 100, 150, 160.25]]),
        scores=np.array([0.9, 0.2]),
        class_ids=np.array([1, 0]),
        class_names=("lymphocyte", "monocyte"),
        image="/data/a.png",
        width=640,
        height=480,
        attributes=attributes,
    )


@pytest.mark.parametrize(
    "attributes",
    [None, [{"nucleus_shape": ("round", 0.75)}, {"cytoplasm": {"value": "light blue", "score": None}}]],
)
def test_json_round_trip(attributes: list[dict] | None) -> None:
    p = _pred(attributes)
    data = json.loads(json.dumps(p.to_json()))
    first = {"nucleus_shape": {"value": "round", "score": 0.75}} if attributes else {}
    assert data["cells"][0] == {
        "box": [1.5, 2.0, 30.0, 40.0],
        "class": "monocyte",
        "score": 0.9,
        "attributes": first,
    }
    if attributes:
        assert p.attributes[1]["cytoplasm"] == AttributeCall("light blue", None)
    q = Prediction.from_json(data, p.class_names)
    np.testing.assert_array_equal(q.boxes, p.boxes)
    np.testing.assert_array_equal(q.scores, p.scores)
    np.testing.assert_array_equal(q.class_ids, p.class_ids)
    assert (q.class_names, q.image, q.width, q.height, q.attributes) == (
        p.class_names,
        p.image,
        p.width,
        p.height,
        p.attributes,
    )


def test_from_json_without_vocabulary_and_unknown_class() -> None:
    data = _pred().to_json()
    assert Prediction.from_json(data).class_names == ("monocyte", "lymphocyte")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        Prediction.from_json(data, ("lymphocyte",))


def test_filter_len_and_readonly() -> None:
    p = _pred([{"k": "1"}, {"k": "2"}])
    kept = p.filter(0.5)
    assert len(p) == 2 and len(kept) == 1 and kept.attributes == [{"k": AttributeCall("1")}]
    with pytest.raises(ValueError):
        p.boxes[0, 0] = 0.0
    empty = Prediction(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), ("a",))
    assert len(empty) == 0 and empty.to_json()["cells"] == []


def test_validation() -> None:
    with pytest.raises(ValueError, match="differ"):
        Prediction(np.zeros((2, 4)), np.zeros(1), np.zeros(2, int), ("a",))
    with pytest.raises(ValueError, match="class id"):
        Prediction(np.zeros((1, 4)), np.zeros(1), np.array([3]), ("a",))
    with pytest.raises(ValueError, match="shape"):
        Prediction(np.zeros((1, 3)), np.zeros(1), np.zeros(1, int), ("a",))
