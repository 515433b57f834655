"""Building blocks of the CSP backbone and PAN neck: Conv-BN-SiLU, Bottleneck, C3, SPPF (YOLOv5 v6 design).

Written from the architecture description: every convolution is ``Conv2d(bias=False) → BatchNorm2d → SiLU``
(``torchvision.ops.Conv2dNormActivation``) with "same" padding; BatchNorm uses ``eps=1e-3, momentum=0.03`` as
in YOLOv5 training. Channel and depth scaling helpers for the n/s/m/l/x presets live here too.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import Tensor, nn
from torchvision.ops import Conv2dNormActivation

__all__ = [
    "BN_EPS",
    "BN_MOMENTUM",
    "Bottleneck",
    "C3",
    "SPPF",
    "conv_bn_act",
    "scale_channels",
    "scale_depth",
]

BN_EPS = 1e-3
"""BatchNorm epsilon used throughout (YOLOv5 convention)."""
BN_MOMENTUM = 0.03
"""BatchNorm running-statistics momentum used throughout (YOLOv5 convention)."""


def scale_channels(channels: int, width_multiple: float, divisor: int = 8) -> int:
    """Scale a base channel count by ``width_multiple``, rounding up to a multiple of ``divisor``.

    Example: ``scale_channels(1024, 0.25) == 256``; ``scale_channels(64, 0.0625) == 8``.
    """
    return max(divisor, int(math.ceil(channels * width_multiple / divisor) * divisor))


def scale_depth(repeats: int, depth_multiple: float) -> int:
    """Scale a base bottleneck count by ``depth_multiple`` (rounded, at least 1).

    Example: ``scale_depth(9, 0.33) == 3``; ``scale_depth(3, 1.33) == 4``.
    """
    return max(1, round(repeats * depth_multiple)) if repeats > 1 else repeats


def conv_bn_act(in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1) -> nn.Sequential:
    """``Conv2d(k, s, padding=(k-1)//2, bias=False) → BatchNorm2d(eps 1e-3, momentum 0.03) → SiLU``.

    Shapes: ``[B, in_channels, H, W] → [B, out_channels, H/stride, W/stride]`` (for even ``H``, ``W``; the
    6×6 stride-2 stem conv uses padding 2 and halves the size too).
    """
    return Conv2dNormActivation(
        in_channels,
        out_channels,
        kernel_size=kernel_size,
        stride=stride,
        norm_layer=partial(nn.BatchNorm2d, eps=BN_EPS, momentum=BN_MOMENTUM),
        activation_layer=nn.SiLU,
        bias=False,
    )


class Bottleneck(nn.Module):
    """1×1 conv → 3×3 conv, with an identity shortcut when enabled and shapes match.

    Shapes: ``[B, C_in, H, W] → [B, C_out, H, W]``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, shortcut: bool = True, expansion: float = 1.0
    ) -> None:
        """Build the block.

        Args:
            in_channels: Input channels.
            out_channels: Output channels.
            shortcut: Add the input to the output (only when ``in_channels == out_channels``).
            expansion: Hidden width as a fraction of ``out_channels``.
        """
        super().__init__()
        hidden = int(out_channels * expansion)
        self.cv1 = conv_bn_act(in_channels, hidden, 1)
        self.cv2 = conv_bn_act(hidden, out_channels, 3)
        self.add = shortcut and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        """Apply the bottleneck to ``x`` of shape ``[B, C_in, H, W]``."""
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """CSP block with three convs: two 1×1 branches, one through ``n`` bottlenecks, fused by a 1×1 conv.

    Shapes: ``[B, C_in, H, W] → [B, C_out, H, W]``; each branch has ``C_out / 2`` channels.
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, repeats: int = 1, shortcut: bool = True
    ) -> None:
        """Build the block.

        Args:
            in_channels: Input channels.
            out_channels: Output channels.
            repeats: Number of bottlenecks in the main branch (already depth-scaled).
            shortcut: Residual bottlenecks (backbone) or plain ones (neck).
        """
        super().__init__()
        hidden = out_channels // 2
        self.cv1 = conv_bn_act(in_channels, hidden, 1)
        self.cv2 = conv_bn_act(in_channels, hidden, 1)
        self.cv3 = conv_bn_act(2 * hidden, out_channels, 1)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut=shortcut) for _ in range(repeats)))

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block to ``x`` of shape ``[B, C_in, H, W]``."""
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), dim=1))


class SPPF(nn.Module):
    """Spatial pyramid pooling (fast): three chained ``k×k`` stride-1 max-pools, concatenated with the input.

    Equivalent to parallel pools of size ``k``, ``2k-1``, ``3k-2``.
    Shapes: ``[B, C_in, H, W] → [B, C_out, H, W]``.
    """

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int = 5) -> None:
        """Build the block.

        Args:
            in_channels: Input channels.
            out_channels: Output channels.
            kernel_size: Max-pool kernel (odd).
        """
        super().__init__()
        hidden = in_channels // 2
        self.cv1 = conv_bn_act(in_channels, hidden, 1)
        self.cv2 = conv_bn_act(4 * hidden, out_channels, 1)
        self.pool = nn.MaxPool2d(kernel_size=kernel_size, stride=1, padding=kernel_size // 2)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block to ``x`` of shape ``[B, C_in, H, W]``."""
        x = self.cv1(x)
        p1 = self.pool(x)
        p2 = self.pool(p1)
        return self.cv2(torch.cat((x, p1, p2, self.pool(p2)), dim=1))
