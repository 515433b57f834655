"""Anchor-based detection head: one 1×1 convolution per level predicting box, objectness and class logits.

Each level ``l`` maps ``[B, C_l, H_l, W_l]`` to ``[B, A, H_l, W_l, 5 + num_classes]`` raw logits, last dim
ordered ``(tx, ty, tw, th, objectness, class_0 … class_{nc-1})``; decoding lives in
:mod:`leukodet.model.decode`.

Bias priors (the standard YOLO initialisation, so training starts from sensible probabilities):

* objectness bias ``log(8 / (640 / s)²)``: about 8 objects per 640×640 image spread over the
  ``(640/s)²`` cells of the level with stride ``s``;
* class bias ``log(0.6 / (nc - 0.99))``: a class prior of roughly ``0.6 / nc``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["DetectionHead", "class_bias_prior", "objectness_bias_prior"]


def objectness_bias_prior(stride: int, image_size: int = 640, objects_per_image: float = 8.0) -> float:
    """Initial objectness logit for a level: ``log(objects_per_image / (image_size / stride)²)``."""
    return math.log(objects_per_image / (image_size / stride) ** 2)


def class_bias_prior(num_classes: int) -> float:
    """Initial class logit: ``log(0.6 / (num_classes - 0.99))``."""
    return math.log(0.6 / (num_classes - 0.99))


class DetectionHead(nn.Module):
    """Per-level 1×1 prediction convolutions for ``num_anchors`` anchors per cell."""

    def __init__(
        self,
        *,
        in_channels: Sequence[int],
        num_classes: int,
        num_anchors: int = 3,
        strides: Sequence[int] = (8, 16, 32),
    ) -> None:
        """Build the head and initialise its biases with the priors above.

        Args:
            in_channels: Channels of each level's input map (P3, P4, P5).
            num_classes: Number of classes.
            num_anchors: Anchors per cell.
            strides: Stride of each level, used only for the objectness prior.
        """
        super().__init__()
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        self.num_outputs = 5 + num_classes
        self.convs = nn.ModuleList(nn.Conv2d(c, num_anchors * self.num_outputs, 1) for c in in_channels)
        self._init_biases(strides)

    @torch.no_grad()
    def _init_biases(self, strides: Sequence[int]) -> None:
        """Set objectness and class bias priors on every level."""
        for conv, stride in zip(self.convs, strides):
            assert conv.bias is not None
            bias = conv.bias.view(self.num_anchors, self.num_outputs)
            bias[:, 4] += objectness_bias_prior(stride)
            bias[:, 5:] += class_bias_prior(self.num_classes)

    def forward(self, maps: Sequence[Tensor]) -> list[Tensor]:
        """Predict raw logits on every level.

        Args:
            maps: Level inputs ``[B, C_l, H_l, W_l]`` in stride order.

        Returns:
            One tensor per level, ``[B, A, H_l, W_l, 5 + num_classes]`` (contiguous).
        """
        out = []
        for conv, x in zip(self.convs, maps):
            b, _, h, w = x.shape
            y = conv(x).view(b, self.num_anchors, self.num_outputs, h, w)
            out.append(y.permute(0, 1, 3, 4, 2).contiguous())
        return out
