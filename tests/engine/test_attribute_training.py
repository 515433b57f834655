"""AttriHead end to end: trains with the detector, keeps the schema order, predicts calls, val scores them,
and trains alone on a frozen detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from leukodet import api
from leukodet.infer.predictor import Detector
from leukodet.model.checkpoint import load_checkpoint
from leukodet.records.vocab import LLD_ATTRIBUTES

OVERRIDES = ["train.plots=false", "augment.mosaic=0.5"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("attr")
    data = api.synth(root / "data", images=10, seed=5, size=128, progress=False)
    api.train(
        data, model="test_tiny", epochs=1, imgsz=128, batch=4, out=root / "run", overrides=OVERRIDES,
        progress=False,
    )  # fmt: skip
    return data, root / "run"


def test_head_trains_and_predicts_calls_in_schema_order(trained: tuple[Path, Path]) -> None:
    data, run = trained
    header = (run / "results.csv").read_text().splitlines()[0]
    assert "train/loss_attr" in header and "val/attr_accuracy" in header
    det = Detector.load(run / "weights" / "last.pt")
    assert list(det.attributes) == list(LLD_ATTRIBUTES)  # not the sorted order of the JSON metadata
    image = next((data.parent / "images" / "test").iterdir())
    pred = det.predict([image], conf=0.0, max_det=20)[0]
    assert len(pred) and pred.attributes is not None
    for label, calls in zip(pred.class_ids, pred.attributes):
        if pred.class_names[label] == "None":
            assert calls == {}
        else:
            assert set(calls) == set(LLD_ATTRIBUTES)
            assert all(c.value in LLD_ATTRIBUTES[n] and 0.5 <= c.score <= 1.0 for n, c in calls.items())
    field = np.tile(np.asarray(Image.open(image).convert("RGB")), (3, 3, 1))  # tiled: 384 > 2 x 128
    tiled = det.predict([field], conf=0.0, max_det=50)[0]
    assert len(tiled) and len(tiled.attributes) == len(tiled)  # calls follow their boxes through the merge
    assert all(set(c) == set(LLD_ATTRIBUTES) for k, c in zip(tiled.class_ids, tiled.attributes) if k != 0)
    metrics = api.val(run / "weights" / "last.pt", data, split="test")
    assert set(metrics["attributes"]) == set(LLD_ATTRIBUTES)
    assert 0.0 <= metrics["attributes_mean"]["accuracy"] <= 1.0
    no_head = api.train(
        data, model="test_tiny", epochs=1, imgsz=128, batch=4, out=run.parent / "plain", progress=False,
        overrides=[*OVERRIDES, "train.attributes=false"],
    )  # fmt: skip
    assert Detector.load(no_head["last"]).attributes == {}


def test_freeze_detector_trains_the_head_alone(trained: tuple[Path, Path]) -> None:
    data, run = trained
    out = run.parent / "head_only"
    api.train(
        data, model=str(run / "weights" / "last.pt"), epochs=1, imgsz=128, batch=4, out=out, progress=False,
        overrides=[*OVERRIDES, "train.freeze_detector=true", "train.warmup_epochs=0", "train.nominal_batch=4"],
    )  # fmt: skip
    before = load_checkpoint(run / "weights" / "last.pt")
    after = load_checkpoint(out / "weights" / "last.pt")
    base = before["ema"]
    head_moved = False
    for key, value in after["model"].items():
        if key.startswith("attribute_head."):
            head_moved |= not torch.equal(value, before["model"][key])
        else:
            assert torch.equal(value, base[key]), key  # weights, anchors and BN statistics unchanged
    assert head_moved
