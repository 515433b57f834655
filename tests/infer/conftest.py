"""Fixtures of the prediction tests: an untrained tiny checkpoint (fast, deterministic, 3 classes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TINY_CLASSES, tiny_checkpoint

__all__ = ["TINY_CLASSES", "weights"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny.pt``: the ``test_tiny`` model with seed-0 random weights, imgsz 64."""
    return tiny_checkpoint(tmp_path_factory.mktemp("w") / "tiny.pt")
