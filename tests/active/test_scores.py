"""Acquisition scores on hand-made predictions, and the detector evidence behind entropy and flip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from leukodet.active.evidence import field_evidence, mirror_prediction, predict_with_class_probs
from leukodet.active.scores import (
    SCORES,
    FieldEvidence,
    band_weights,
    cell_weights,
    check_score,
    class_entropy,
    default_band,
    entropy_weights,
    flip_weights,
    unsure_weights,
)
from leukodet.config import SparseConfig
from leukodet.infer.config import InferConfig
from leukodet.infer.predictor import Detector
from leukodet.losses.sparse import prediction_entropy

from .conftest import TINY_CLASSES, cells_at


def test_scores_are_named_and_an_unknown_one_is_refused() -> None:
    assert SCORES == ("random", "entropy", "band", "flip", "unsure")
    with pytest.raises(ValueError, match=r"unknown score 'margin' \(choose from random, entropy, band"):
        check_score("margin")
    with pytest.raises(ValueError, match="random score has no cell weights"):
        cell_weights("random", FieldEvidence(cells_at([], [])))


def test_class_entropy_is_slades_eq5_in_bits() -> None:
    probs = np.array([[0.5, 0.5, 0.5], [0.99, 0.0, 0.0], [0.8, 0.4, 0.1]])
    ent = class_entropy(probs)
    assert ent[0] == pytest.approx(np.log2(3)) and ent[1] == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(ent, prediction_entropy(torch.tensor(probs)).numpy(), atol=1e-9)
    pred = cells_at([(10, 10), (50, 50), (90, 90)], [0.5, 0.9, 0.6])
    centres, weights = entropy_weights(FieldEvidence(pred, probs))
    np.testing.assert_allclose(weights, ent)
    np.testing.assert_allclose(centres, [[10, 10], [50, 50], [90, 90]])
    with pytest.raises(ValueError, match="per-class probabilities"):
        entropy_weights(FieldEvidence(pred))
    with pytest.raises(ValueError, match="2 class-probability rows for 3 detections"):
        entropy_weights(FieldEvidence(pred, probs[:2]))


def test_band_is_sparse_configs_t0_t1() -> None:
    sparse = SparseConfig()
    assert default_band() == (sparse.t0, sparse.t1)
    pred = cells_at([(i * 10.0, 5.0) for i in range(5)], [sparse.t0 - 0.01, sparse.t0, 0.8, sparse.t1, 0.99])
    _, weights = band_weights(FieldEvidence(pred))
    assert weights.tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]
    assert cell_weights("band", FieldEvidence(pred), band=(0.0, 0.75))[1].tolist() == [
        1.0,
        1.0,
        0.0,
        0.0,
        0.0,
    ]


def test_unsure_peaks_at_a_coin_toss() -> None:
    pred = cells_at([(0, 0)] * 5, [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(unsure_weights(FieldEvidence(pred))[1], [0.0, 0.5, 1.0, 0.5, 0.0])


def test_flip_counts_cells_found_in_one_view_only() -> None:
    here = cells_at([(100, 100), (300, 200), (500, 300)], [0.9, 0.9, 0.9], classes=[1, 1, 2])
    there = cells_at([(101, 100), (300, 200)], [0.8, 0.8], classes=[1, 2])  # second: other class
    centres, weights = flip_weights(FieldEvidence(here, flipped=there))
    assert weights.tolist() == [0.0, 1.0, 1.0, 0.0, 1.0] and len(centres) == 5
    with pytest.raises(ValueError, match="mirror image"):
        flip_weights(FieldEvidence(here))


def test_mirror_maps_boxes_back() -> None:
    pred = cells_at([(100, 50), (600, 400)], [0.9, 0.4])
    back = mirror_prediction(mirror_prediction(pred, 640), 640)
    np.testing.assert_allclose(back.boxes, pred.boxes)
    assert mirror_prediction(pred, 640).boxes[0].tolist() == [530.0, 40.0, 550.0, 60.0]


def test_class_probabilities_line_up_with_the_detections(weights: Path) -> None:
    det = Detector.load(weights)
    images = [np.random.default_rng(i).integers(0, 255, (96, 128, 3), dtype=np.uint8) for i in range(3)]
    cfg = InferConfig(conf=0.001, batch=2)
    found = predict_with_class_probs(det, images, cfg)
    plain = det.predict(images, cfg=cfg)
    assert len(found) == 3 and sum(len(p) for p, _ in found) > 0
    for (pred, probs), ref in zip(found, plain):
        assert probs.shape == (len(pred), len(TINY_CLASSES)) and ((0 <= probs) & (probs <= 1)).all()
        np.testing.assert_allclose(pred.boxes, ref.boxes)
        np.testing.assert_allclose(pred.scores, ref.scores)
        rows = np.arange(len(pred))
        assert (probs[rows, pred.class_ids] >= pred.scores - 1e-6).all()  # score = objectness x class prob
    mirrored = field_evidence(det, images, cfg, "flip")
    assert all(ev.flipped is not None and ev.class_probs is None for ev in mirrored)
    assert all(ev.class_probs is not None for ev in field_evidence(det, images, cfg, "entropy"))


def test_entropy_evidence_lines_up_on_a_model_with_a_class_hierarchy(tmp_path) -> None:
    """The bundled synth-n groups its WBC types under a parent class, whose score a detection may carry."""
    from leukodet import api
    from leukodet.data.dataset import load_image
    from leukodet.infer.backends import load_detector
    from leukodet.infer.config import InferConfig

    data = api.synth(tmp_path / "syn", images=3, seed=1, size=256, overwrite=True)
    images = [load_image(str(p)) for p in sorted((data.parent / "images").rglob("*.png"))]
    det = load_detector("synth-n")
    assert any(p >= 0 for p in det.model.config.class_parents)  # the case this test is about
    found = predict_with_class_probs(det, images, InferConfig(conf=0.05, imgsz=256, tile=False))
    assert sum(len(pred) for pred, _ in found) > 0
    for pred, probs in found:
        assert probs.shape == (len(pred), len(det.class_names))
