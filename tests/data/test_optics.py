"""Stain/optics augmentation for other labs' fields: each transform does what it says and nothing else."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from leukodet.config import AugmentConfig
from leukodet.data.dataset import DetectionDataset
from leukodet.data.optics import augment_optics, defocus_blur, hed_jitter, jpeg_artefacts
from leukodet.data.sample import Sample
from leukodet.synth.generate import render_dataset_field


@pytest.fixture(scope="module")
def field() -> np.ndarray:
    return render_dataset_field(0, "train", 0, size=160).image


def _sample(image: np.ndarray) -> Sample:
    boxes = np.array([[10, 10, 50, 50]], np.float32)
    return Sample(image, boxes, np.zeros(1, np.int64), np.zeros((1, 0), np.int64), None, "f")


def test_hed_jitter_at_zero_is_the_identity_and_otherwise_moves_colour_only(field: np.ndarray) -> None:
    same = hed_jitter(field, np.random.default_rng(0), 0.0)
    assert np.abs(same.astype(int) - field).max() <= 1  # unmix + mix back, rounding only
    moved = hed_jitter(field, np.random.default_rng(1), 0.2)
    assert moved.shape == field.shape and moved.dtype == np.uint8
    assert np.abs(moved.mean((0, 1)) - field.mean((0, 1))).max() > 2  # the colour changed
    again = hed_jitter(field, np.random.default_rng(1), 0.2)
    assert np.array_equal(moved, again)  # seeded
    # geometry kept: edges stay where they were (correlation of the grey-level gradients)
    g0, g1 = (cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.CV_64F) for x in (field, moved))
    assert np.corrcoef(g0.ravel(), g1.ravel())[0, 1] > 0.8


def test_blur_removes_fine_detail_and_jpeg_keeps_the_picture(field: np.ndarray) -> None:
    sharp = cv2.Laplacian(cv2.cvtColor(field, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
    blurred = defocus_blur(field, np.random.default_rng(0), 2.5)
    assert cv2.Laplacian(cv2.cvtColor(blurred, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() < 0.6 * sharp
    packed = jpeg_artefacts(field, np.random.default_rng(0), 40)
    mse = ((packed.astype(float) - field) ** 2).mean()
    assert packed.shape == field.shape and 0 < mse and 10 * np.log10(255**2 / mse) > 25  # PSNR > 25 dB


def test_optics_off_draws_nothing_and_returns_the_sample(field: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    sample = _sample(field)
    assert augment_optics(sample, rng) is sample
    assert rng.random() == np.random.default_rng(5).random()  # the stream was not advanced
    out = augment_optics(sample, np.random.default_rng(5), hed=0.1, blur=1.0, jpeg=1.0)
    assert not np.array_equal(out.image, field) and np.array_equal(out.boxes, sample.boxes)


def test_the_dataset_applies_the_configured_optics(tmp_path) -> None:  # noqa: ANN001
    from leukodet import api
    from leukodet.records.sources import load_source

    ds, _ = load_source(api.synth(tmp_path / "d", images=4, seed=1, size=160))
    recs = ds.split("train")
    plain = AugmentConfig(mosaic=0.0, mixup=0.0)
    strong = dataclasses.replace(plain, hed=0.2, blur=1.0, jpeg=1.0)
    a = DetectionDataset(recs, len(ds.classes), ds.attributes, 160, plain, seed=0)[0]
    b = DetectionDataset(recs, len(ds.classes), ds.attributes, 160, strong, seed=0)[0]
    assert np.array_equal(a.boxes, b.boxes) and not np.array_equal(a.image, b.image)
