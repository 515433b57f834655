"""CSP backbone of the YOLOv5-style detector (paper §3 "YOLOv5 backbone"; spec §3.1 module numbering).

Layer plan at width/depth multiple 1 (module index as in the YOLOv5 v6 layout, which spec §3.1 refers to):

==  ========================  ======  =========================================
 #  block                     stride  output channels (× width, rounded to 8)
==  ========================  ======  =========================================
 0  Conv 6×6 s2               2       64
 1  Conv 3×3 s2  (``stem``)   4       128
 2  C3 ×3                     4       128
 3  Conv 3×3 s2               8       256
 4  C3 ×6        (``c3_p3``)  8       256
 5  Conv 3×3 s2               16      512
 6  C3 ×9        (``c3_p4``)  16      512
 7  Conv 3×3 s2               32      1024
 8  C3 ×3                     32      1024
 9  SPPF k=5     (``p5``)     32      1024
==  ========================  ======  =========================================
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from leukodet.model.blocks import C3, SPPF, conv_bn_act, scale_channels, scale_depth

__all__ = ["BackboneFeatures", "CSPBackbone"]


class BackboneFeatures(NamedTuple):
    """Backbone maps consumed by the neck and the attribute head.

    Attributes:
        stem: Module 1 output, ``[B, 128·w, H/4, W/4]`` (attribute-head tap, spec module 1).
        c3_p3: Module 4 output, ``[B, 256·w, H/8, W/8]`` (attribute-head tap, spec module 4; neck lateral).
        c3_p4: Module 6 output, ``[B, 512·w, H/16, W/16]`` (neck lateral).
        p5: Module 9 (SPPF) output, ``[B, 1024·w, H/32, W/32]``.
    """

    stem: Tensor
    c3_p3: Tensor
    c3_p4: Tensor
    p5: Tensor


class CSPBackbone(nn.Module):
    """CSP-Darknet backbone with C3 blocks and SPPF, scaled by depth/width multiples."""

    def __init__(
        self,
        *,
        depth_multiple: float = 1.0,
        width_multiple: float = 1.0,
        in_channels: int = 3,
        sppf_kernel: int = 5,
    ) -> None:
        """Build the backbone.

        Args:
            depth_multiple: Scales the bottleneck count of every C3 block.
            width_multiple: Scales every channel count (rounded up to a multiple of 8).
            in_channels: Image channels.
            sppf_kernel: SPPF max-pool kernel size.
        """
        super().__init__()
        c1, c2, c3, c4, c5 = (scale_channels(c, width_multiple) for c in (64, 128, 256, 512, 1024))
        d = depth_multiple
        self.conv0 = conv_bn_act(in_channels, c1, 6, 2)
        self.conv1 = conv_bn_act(c1, c2, 3, 2)
        self.c3_2 = C3(c2, c2, repeats=scale_depth(3, d))
        self.conv3 = conv_bn_act(c2, c3, 3, 2)
        self.c3_4 = C3(c3, c3, repeats=scale_depth(6, d))
        self.conv5 = conv_bn_act(c3, c4, 3, 2)
        self.c3_6 = C3(c4, c4, repeats=scale_depth(9, d))
        self.conv7 = conv_bn_act(c4, c5, 3, 2)
        self.c3_8 = C3(c5, c5, repeats=scale_depth(3, d))
        self.sppf = SPPF(c5, c5, kernel_size=sppf_kernel)
        self.channels: dict[str, int] = {"stem": c2, "c3_p3": c3, "c3_p4": c4, "p5": c5}

    def forward(self, images: Tensor) -> BackboneFeatures:
        """Run the backbone.

        Args:
            images: ``[B, in_channels, H, W]`` with ``H``, ``W`` multiples of 32.

        Returns:
            The four named maps of :class:`BackboneFeatures`.
        """
        stem = self.conv1(self.conv0(images))
        c3_p3 = self.c3_4(self.conv3(self.c3_2(stem)))
        c3_p4 = self.c3_6(self.conv5(c3_p3))
        p5 = self.sppf(self.c3_8(self.conv7(c3_p4)))
        return BackboneFeatures(stem=stem, c3_p3=c3_p3, c3_p4=c3_p4, p5=p5)
