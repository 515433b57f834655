"""Fixtures of the prediction tests: an untrained tiny checkpoint (fast, deterministic, 3 classes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from leukodet.model.checkpoint import save_checkpoint
from leukodet.model.registry import create_model

TINY_CLASSES = ["None", "Myeloblast", "Lymphoblast"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny.pt``: the ``test_tiny`` model with seed-0 random weights, imgsz 64."""
    torch.manual_seed(0)
    model = create_model("test_tiny", len(TINY_CLASSES))
    meta = {"classes": TINY_CLASSES, "imgsz": 64, "model_config": model.config.to_dict()}
    return save_checkpoint(tmp_path_factory.mktemp("w") / "tiny.pt", model.state_dict(), meta)
