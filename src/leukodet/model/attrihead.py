"""AttriHead: per-cell morphological attributes from two early backbone maps (paper §3.2, Eqs. 1-2; spec §3).

Each box is scaled to the backbone's stride-4 (``stem``, spec module 1) and stride-8 (``c3_p3``, spec module 4)
maps (Eq. 1, continuous coordinates: decision D18) and ROI-aligned there to ``24 × 30`` cells (Eq. 2,
``aligned=True``); the two ROI maps are concatenated and passed through three ``conv 3×3 → LeakyReLU →
max-pool 2`` blocks (128, 64, 64 channels: 24×30 → 12×15 → 6×7 → 3×3), then ``FC 576 → 1024 → 256 → Σ K_a``
with Leaky ReLU and dropout between the FC layers (dropout is a config value, paper 0.2, the authors' code
0.5: D17). The output is
one logit group per attribute of the dataset's schema, ``K_a`` values each (schema-driven: 7 binary attributes
for LLD, 11 attributes of up to 6 values for WBCAtt).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchvision.ops import roi_align

__all__ = ["AttriHead", "ROI_SIZE", "TAPS", "boxes_on_map", "roi_features", "split_logits"]

ROI_SIZE: tuple[int, int] = (24, 30)
"""ROI output size (height, width), as the authors' code."""

TAPS: tuple[tuple[str, int], ...] = (("stem", 4), ("c3_p3", 8))
"""Feature maps the head reads, with their strides."""


def boxes_on_map(boxes: Tensor, stride: int) -> Tensor:
    """Eq. (1): input-pixel xyxy boxes in the coordinates of a map of the given stride (continuous: D18)."""
    return boxes / float(stride)


def roi_features(feature: Tensor, boxes: Sequence[Tensor]) -> Tensor:
    """Eq. (2): ROIAlign of per-image boxes (map coordinates) on ``feature`` → ``[N, C, 24, 30]``."""
    return roi_align(feature, list(boxes), ROI_SIZE, spatial_scale=1.0, aligned=True)


def split_logits(logits: Tensor, sizes: Sequence[int]) -> list[Tensor]:
    """The per-attribute logit groups ``[N, K_a]`` of the head's ``[N, Σ K_a]`` output."""
    return list(torch.split(logits, list(sizes), dim=1))


class AttriHead(nn.Module):
    """Attribute logits for boxes given in input pixels.

    Args:
        in_channels: channels of the ``stem`` map plus those of the ``c3_p3`` map.
        sizes: number of values ``K_a`` of each attribute, in schema order.
        dropout: dropout probability between the FC layers.
        slope: Leaky ReLU negative slope (0.01, the PyTorch default the authors use).
    """

    def __init__(self, in_channels: int, sizes: Sequence[int], dropout: float = 0.2, slope: float = 0.01):
        super().__init__()
        if not sizes or any(k < 2 for k in sizes):
            raise ValueError(f"every attribute needs at least 2 values, got sizes {list(sizes)}")
        self.sizes = tuple(int(k) for k in sizes)
        act = nn.LeakyReLU(slope)
        blocks: list[nn.Module] = []
        for c_in, c_out in ((in_channels, 128), (128, 64), (64, 64)):
            blocks += [nn.Conv2d(c_in, c_out, 3, padding=1), act, nn.MaxPool2d(2)]
        self.features = nn.Sequential(*blocks)
        h, w = ROI_SIZE
        flat = 64 * (h // 8) * (w // 8)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, 1024),
            act,
            nn.Dropout(dropout),
            nn.Linear(1024, 256),
            act,
            nn.Dropout(dropout),
            nn.Linear(256, sum(self.sizes)),
        )

    def pool(self, features: dict[str, Tensor], boxes: Sequence[Tensor]) -> Tensor:
        """Eqs. (1)-(2) on each tapped map, fused by channel concatenation (``C_F = F_S1 ⊕ F_S2``)."""
        rois = [b.to(features[TAPS[0][0]].dtype).reshape(-1, 4) for b in boxes]
        pooled = [
            roi_features(features[name], [boxes_on_map(b, stride) for b in rois]) for name, stride in TAPS
        ]
        return torch.cat(pooled, 1)

    def forward(self, features: dict[str, Tensor], boxes: Sequence[Tensor]) -> Tensor:
        """Logits ``[N, Σ K_a]`` for the boxes (per image ``[N_i, 4]`` xyxy input pixels), in image order."""
        return self.classifier(self.features(self.pool(features, boxes)))  # N = 0 still builds the graph
