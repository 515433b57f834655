"""Model complexity: parameter count and forward GFLOPs (for the per-preset benchmark table).

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on a copy of the model placed on the
``meta`` device, so nothing is computed and the count is instant even for ``yolo_x`` at 640 px. Convolutions
count 2 FLOPs per multiply-accumulate (the usual "GFLOPs" of YOLO tables); BatchNorm, activations and pooling
are not counted.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_flops", "count_parameters", "model_info"]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (buffers excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, imgsz: int = 640, in_channels: int = 3) -> int:
    """FLOPs of one forward pass on a single ``in_channels × imgsz × imgsz`` image.

    Args:
        model: Any module taking a ``[1, C, H, W]`` tensor (it is copied, not modified).
        imgsz: Square input size (a multiple of the model's largest stride).
        in_channels: Input channels.

    Returns:
        Total FLOPs (multiply and add counted separately).
    """
    meta_model = copy.deepcopy(model).to("meta").eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        meta_model(torch.zeros(1, in_channels, imgsz, imgsz, device="meta"))
    return int(counter.get_total_flops())


def model_info(model: nn.Module, imgsz: int = 640) -> dict[str, Any]:
    """Parameters and GFLOPs of a detector.

    Args:
        model: The detector (a ``config.in_channels`` attribute is honoured when present).
        imgsz: Square input size used for the FLOP count.

    Returns:
        ``{"params": int, "trainable_params": int, "gflops": float, "imgsz": int}``; ``gflops`` is for one
        ``imgsz × imgsz`` image.
    """
    in_channels = int(getattr(getattr(model, "config", None), "in_channels", 3))
    return {
        "params": count_parameters(model),
        "trainable_params": count_parameters(model, trainable_only=True),
        "gflops": count_flops(model, imgsz, in_channels) / 1e9,
        "imgsz": imgsz,
    }
