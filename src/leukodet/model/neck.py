"""PAN neck of the YOLOv5-style detector: top-down FPN then bottom-up path (YOLOv5 v6 head, modules 10-23).

Layer plan at width 1 (module index as in spec §3.1; ``C3`` blocks here have no residual shortcut):

===  ==============================================  ======  =========
  #  block                                           stride  channels
===  ==============================================  ======  =========
 10  Conv 1×1 on P5 (``lat5``)                       32      512
 11  upsample ×2, concat with backbone module 6      16      1024
 13  C3 ×3                                           16      512
 14  Conv 1×1 (``lat4``)                             16      256
 15  upsample ×2, concat with backbone module 4      8       512
 17  C3 ×3  → ``neck_p3`` (stride-8 head input)      8       256
 18  Conv 3×3 s2, concat with module 14              16      512
 20  C3 ×3  → ``neck_p4``                            16      512
 21  Conv 3×3 s2, concat with module 10              32      1024
 23  C3 ×3  → ``neck_p5``                            32      1024
===  ==============================================  ======  =========
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from leukodet.model.blocks import C3, conv_bn_act, scale_channels, scale_depth

__all__ = ["NeckFeatures", "PANNeck"]


class NeckFeatures(NamedTuple):
    """Neck outputs, one per detection level.

    Attributes:
        p3: Module 17, ``[B, 256·w, H/8, W/8]`` (the spec's similarity-loss map).
        p4: Module 20, ``[B, 512·w, H/16, W/16]``.
        p5: Module 23, ``[B, 1024·w, H/32, W/32]``.
    """

    p3: Tensor
    p4: Tensor
    p5: Tensor


class PANNeck(nn.Module):
    """Path-aggregation neck fusing backbone maps at strides 8, 16, 32."""

    def __init__(self, *, depth_multiple: float = 1.0, width_multiple: float = 1.0) -> None:
        """Build the neck (input channels follow from the same width multiple as the backbone).

        Args:
            depth_multiple: Scales the bottleneck count of every C3 block.
            width_multiple: Scales every channel count (rounded up to a multiple of 8).
        """
        super().__init__()
        c3, c4, c5 = (scale_channels(c, width_multiple) for c in (256, 512, 1024))
        n = scale_depth(3, depth_multiple)
        self.lat5 = conv_bn_act(c5, c4, 1)
        self.up = nn.Upsample(scale_factor=2.0, mode="nearest")
        self.td4 = C3(2 * c4, c4, repeats=n, shortcut=False)
        self.lat4 = conv_bn_act(c4, c3, 1)
        self.td3 = C3(2 * c3, c3, repeats=n, shortcut=False)
        self.down3 = conv_bn_act(c3, c3, 3, 2)
        self.bu4 = C3(2 * c3, c4, repeats=n, shortcut=False)
        self.down4 = conv_bn_act(c4, c4, 3, 2)
        self.bu5 = C3(2 * c4, c5, repeats=n, shortcut=False)
        self.channels: tuple[int, int, int] = (c3, c4, c5)

    def forward(self, c3_p3: Tensor, c3_p4: Tensor, p5: Tensor) -> NeckFeatures:
        """Fuse the backbone maps.

        Args:
            c3_p3: Backbone stride-8 map ``[B, 256·w, H/8, W/8]``.
            c3_p4: Backbone stride-16 map ``[B, 512·w, H/16, W/16]``.
            p5: Backbone stride-32 map ``[B, 1024·w, H/32, W/32]``.

        Returns:
            The three head inputs of :class:`NeckFeatures`.
        """
        lat5 = self.lat5(p5)
        lat4 = self.lat4(self.td4(torch.cat((self.up(lat5), c3_p4), dim=1)))
        out3 = self.td3(torch.cat((self.up(lat4), c3_p3), dim=1))
        out4 = self.bu4(torch.cat((self.down3(out3), lat4), dim=1))
        out5 = self.bu5(torch.cat((self.down4(out4), lat5), dim=1))
        return NeckFeatures(p3=out3, p4=out4, p5=out5)
