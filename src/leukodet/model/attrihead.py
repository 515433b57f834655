"""AttriHead: per-cell morphological attributes from two early backbone maps (paper §3.2, Eqs. 1-2; spec §3).

Each box is scaled to the backbone's stride-4 (``stem``, spec module 1) and stride-8 (``c3_p3``, spec module 4)
maps (Eq. 1, continuous coordinates: decision D18) and ROI-aligned there to ``24 × 30`` cells (Eq. 2,
``aligned=True``); the two ROI maps are concatenated and passed through three ``conv 3×3 → LeakyReLU →
max-pool 2`` blocks (128, 64, 64 channels: 24×30 → 12×15 → 6×7 → 3×3), then ``FC 576 → 1024 → 256 → Σ K_a``
with Leaky ReLU and dropout between the FC layers (dropout is a config value, paper 0.2, the authors' code
0.5: D17). The output is
one logit group per attribute of the dataset's schema, ``K_a`` values each (schema-driven: 7 binary attributes
for LLD, 11 attributes of up to 6 values for WBCAtt).

What the head pools is configurable (issue #23, :class:`leukodet.attrihead_config.AttriHeadConfig`): the ROI
size (``roi``; the FC input follows it), the maps (``taps``, adding the stride-16 ``c3_p4``) and a context
margin around each box (``context``, :func:`widen_boxes`). The defaults are the paper's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchvision.ops import roi_align

from ..attrihead_config import TAP_STRIDES

__all__ = [
    "AttriHead",
    "ROI_SIZE",
    "TAPS",
    "boxes_on_map",
    "mean_probability_logits",
    "mirror_boxes",
    "roi_features",
    "split_logits",
    "widen_boxes",
]

ROI_SIZE: tuple[int, int] = (24, 30)
"""The paper's ROI output size (height, width), as the authors' code."""

TAPS: tuple[str, ...] = ("stem", "c3_p3")
"""The paper's feature maps (strides 4 and 8: :data:`~leukodet.attrihead_config.TAP_STRIDES`)."""


def boxes_on_map(boxes: Tensor, stride: int) -> Tensor:
    """Eq. (1): input-pixel xyxy boxes in the coordinates of a map of the given stride (continuous: D18)."""
    return boxes / float(stride)


def widen_boxes(boxes: Tensor, context: float) -> Tensor:
    """xyxy boxes grown on every side by ``context`` × their width and height (0: unchanged, the paper)."""
    if context == 0:
        return boxes
    margin = (boxes[..., 2:] - boxes[..., :2]) * context
    return torch.cat((boxes[..., :2] - margin, boxes[..., 2:] + margin), dim=-1)


def roi_features(feature: Tensor, boxes: Sequence[Tensor] | Tensor, size: Sequence[int] = ROI_SIZE) -> Tensor:
    """Eq. (2): ROIAlign of boxes in map coordinates (per-image tensors, or ``[K, 5]`` rows led by the image
    index) on ``feature`` → ``[N, C, h, w]`` (the paper's ``24 × 30``)."""
    rois = boxes if isinstance(boxes, Tensor) else list(boxes)
    return roi_align(feature, rois, tuple(size), spatial_scale=1.0, aligned=True)


def split_logits(logits: Tensor, sizes: Sequence[int]) -> list[Tensor]:
    """The per-attribute logit groups ``[N, K_a]`` of the head's ``[N, Σ K_a]`` output."""
    return list(torch.split(logits, list(sizes), dim=1))


def mean_probability_logits(logits: Sequence[Tensor], sizes: Sequence[int]) -> Tensor:
    """Per softmax group, the log of the mean probability over several views' logits: logits whose softmax is
    that mean, so test-time averaged calls decode as a single view's."""
    groups = zip(*(split_logits(x, sizes) for x in logits))
    mean = [torch.stack([g.softmax(1) for g in views]).mean(0) for views in groups]
    return torch.cat([m.clamp_min(1e-12).log() for m in mean], dim=1)


def mirror_boxes(boxes: Tensor, width: int | Tensor) -> Tensor:
    """xyxy boxes of an image ``width`` pixels wide, in its left-right mirror."""
    return torch.stack((width - boxes[..., 2], boxes[..., 1], width - boxes[..., 0], boxes[..., 3]), dim=-1)


class AttriHead(nn.Module):
    """Attribute logits for boxes given in input pixels.

    Args:
        in_channels: channels of the ``stem`` map plus those of the ``c3_p3`` map.
        sizes: number of values ``K_a`` of each attribute, in schema order.
        dropout: dropout probability between the FC layers.
        slope: Leaky ReLU negative slope (0.01, the PyTorch default the authors use).
        roi: ROIAlign output (height, width), each at least 8 (three 2× poolings).
        taps: backbone maps pooled, names of :data:`~leukodet.attrihead_config.TAP_STRIDES`.
        context: margin added around each box before pooling (:func:`widen_boxes`).
    """

    def __init__(
        self,
        in_channels: int,
        sizes: Sequence[int],
        dropout: float = 0.2,
        slope: float = 0.01,
        *,
        roi: Sequence[int] = ROI_SIZE,
        taps: Sequence[str] = TAPS,
        context: float = 0.0,
    ) -> None:
        super().__init__()
        if not sizes or any(k < 2 for k in sizes):
            raise ValueError(f"every attribute needs at least 2 values, got sizes {list(sizes)}")
        if len(roi) != 2 or min(roi) < 8 or not taps or any(t not in TAP_STRIDES for t in taps):
            raise ValueError(f"AttriHead: roi needs two sizes >= 8 and taps among {list(TAP_STRIDES)}")
        self.sizes = tuple(int(k) for k in sizes)
        self.roi, self.taps, self.context = (int(roi[0]), int(roi[1])), tuple(taps), float(context)
        act = nn.LeakyReLU(slope)
        blocks: list[nn.Module] = []
        for c_in, c_out in ((in_channels, 128), (128, 64), (64, 64)):
            blocks += [nn.Conv2d(c_in, c_out, 3, padding=1), act, nn.MaxPool2d(2)]
        self.features = nn.Sequential(*blocks)
        h, w = self.roi
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
        dtype = features[self.taps[0]].dtype
        rois = [widen_boxes(b.to(dtype).reshape(-1, 4), self.context) for b in boxes]
        pooled = [
            roi_features(features[name], [boxes_on_map(b, TAP_STRIDES[name]) for b in rois], self.roi)
            for name in self.taps
        ]
        return torch.cat(pooled, 1)

    def forward(self, features: dict[str, Tensor], boxes: Sequence[Tensor]) -> Tensor:
        """Logits ``[N, Σ K_a]`` for the boxes (per image ``[N_i, 4]`` xyxy input pixels), in image order."""
        return self.classifier(self.features(self.pool(features, boxes)))  # N = 0 still builds the graph
