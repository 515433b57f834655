"""Fixtures of the patch-proposal tests: an untrained tiny checkpoint (fast, deterministic, 3 classes), tiny
field images, and hand-made predictions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from leukodet.records.prediction import Prediction
from tests.conftest import TINY_CLASSES, tiny_checkpoint, write_image

FIELD_SIZES = [(128, 96), (96, 96), (160, 90)]


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny.pt``: the ``test_tiny`` model with seed-0 random weights, imgsz 64."""
    return tiny_checkpoint(tmp_path_factory.mktemp("w") / "tiny.pt")


@pytest.fixture()
def fields(tmp_path: Path) -> list[Path]:
    """Three small random field images of different aspect ratios in ``tmp_path/fields``."""
    return [write_image(tmp_path / "fields" / f"f{i}.png", w, h, i) for i, (w, h) in enumerate(FIELD_SIZES)]


def cells_at(
    centres: Sequence[tuple[float, float]],
    scores: Sequence[float],
    width: int = 640,
    height: int = 480,
    size: float = 20.0,
    classes: Sequence[int] | None = None,
) -> Prediction:
    """A prediction with one ``size``-pixel square box per centre."""
    c = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    boxes = np.concatenate([c - size / 2, c + size / 2], axis=1)
    ids = np.zeros(len(c), np.int64) if classes is None else np.asarray(classes, np.int64)
    return Prediction(boxes, np.asarray(scores, np.float64), ids, tuple(TINY_CLASSES), "", width, height)
