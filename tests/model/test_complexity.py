"""Parameter and FLOP counts match the published YOLOv5 sizes."""

from __future__ import annotations

import math

import pytest
import torch

from leukodet.model import create_model, model_info

torch.set_num_threads(1)


def test_yolo_n_matches_published_size() -> None:
    info = model_info(create_model("yolo_n", 80), imgsz=640)
    assert info["params"] == pytest.approx(1.87e6, rel=0.02)  # YOLOv5n: 1.9 M parameters
    assert math.isfinite(info["gflops"]) and info["gflops"] == pytest.approx(4.5, rel=0.05)  # 4.5 GFLOPs


def test_tiny_counts_scale_with_image_size() -> None:
    model = create_model("test_tiny", 14)
    small, large = model_info(model, 320), model_info(model, 640)
    assert small["params"] == large["params"] > 0
    assert large["gflops"] == pytest.approx(4 * small["gflops"], rel=0.01)
    assert next(model.parameters()).device.type == "cpu"  # counting used a meta copy
