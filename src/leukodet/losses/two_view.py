"""The second view of the Table 7 comparators (SparseDet, Co-mining) and the one forward that sees both.

Both papers feed the detector an image and an augmented copy of it. Here the copy is made on the batch tensor
inside the objective (no second data pipeline): a photometric jitter (brightness, contrast, saturation, hue,
each image with its own factors, jittered with probability ``jitter_p``) and, optionally, a horizontal mirror
of the whole batch. The published views keep the geometry (SparseDet's strong view: photometric jitter and
box erasing; Co-mining's: colour jitter), so the mirror is off by default; with it, boxes and cells are mapped
between the views by :func:`mirror_boxes` / :func:`mirror_cells`.

:func:`forward_views` runs the original and the view through the model as one batch of ``2B`` images (one
graph for DDP and AMP; BatchNorm statistics are taken over both views) and splits the output: every step of
these methods costs about two forward and backward passes of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import torch
import torchvision.transforms.functional as TF
from torch import Tensor, nn

from ..data.sample import Batch
from ..model.output import DetectorOutput
from .attributes import loss_attr
from .criterion import DetectionCriterion
from .objective import Terms, attribute_cells

__all__ = [
    "ViewSettings",
    "photometric_view",
    "make_view",
    "mirror_boxes",
    "mirror_rows",
    "mirror_cells",
    "split_output",
    "forward_views",
    "branch_loss",
    "attribute_inputs",
    "attribute_term",
]

GRAY = (0.299, 0.587, 0.114)
"""ITU-R 601 luma weights (what torchvision's grayscale uses)."""


class ViewSettings(Protocol):
    """The view fields shared by :class:`leukodet.comparator_config.SparseDetConfig` and ``CoMiningConfig``."""

    brightness: float
    contrast: float
    saturation: float
    hue: float
    jitter_p: float
    flip: bool


def _factors(n: int, strength: float, generator: torch.Generator | None) -> Tensor:
    """``n`` factors drawn uniformly from ``[max(0, 1 − strength), 1 + strength]``, shaped ``[n, 1, 1, 1]``."""
    low, high = max(0.0, 1.0 - strength), 1.0 + strength
    return (low + (high - low) * torch.rand(n, generator=generator)).view(n, 1, 1, 1)


def photometric_view(
    images: Tensor,
    brightness: float = 0.0,
    contrast: float = 0.0,
    saturation: float = 0.0,
    hue: float = 0.0,
    p: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A colour-jittered copy of ``[B, 3, H, W]`` images in ``[0, 1]``: brightness (× factor), contrast (blend
    with the image's mean grey), saturation (blend with the pixel's grey), hue (shift, turns), in that order,
    each clamped to ``[0, 1]`` as torchvision's ``ColorJitter``; each image is jittered with probability ``p``
    (else returned as it is). Factors are drawn on the CPU from ``generator`` (default: the global RNG)."""
    n, device = images.shape[0], images.device
    out = images
    if brightness > 0:
        out = (out * _factors(n, brightness, generator).to(device, out.dtype)).clamp(0, 1)
    gray_w = torch.tensor(GRAY, device=device, dtype=out.dtype).view(1, 3, 1, 1)
    if contrast > 0:
        mean = (out * gray_w).sum(1, keepdim=True).mean((2, 3), keepdim=True)
        f = _factors(n, contrast, generator).to(device, out.dtype)
        out = (f * out + (1 - f) * mean).clamp(0, 1)
    if saturation > 0:
        gray = (out * gray_w).sum(1, keepdim=True)
        f = _factors(n, saturation, generator).to(device, out.dtype)
        out = (f * out + (1 - f) * gray).clamp(0, 1)
    if hue > 0:
        shifts = ((torch.rand(n, generator=generator) * 2 - 1) * hue).tolist()
        out = torch.stack([TF.adjust_hue(img, s) for img, s in zip(out, shifts)])
    if p < 1:
        keep = (torch.rand(n, generator=generator) >= p).to(device).view(n, 1, 1, 1)
        out = torch.where(keep, images, out)
    return out


def make_view(images: Tensor, cfg: ViewSettings, generator: torch.Generator | None = None) -> Tensor:
    """The configured view of a batch: :func:`photometric_view`, then the horizontal mirror if ``cfg.flip``."""
    view = photometric_view(
        images, cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue, cfg.jitter_p, generator
    )
    return view.flip(-1) if cfg.flip else view


def mirror_boxes(boxes: Tensor, width: float) -> Tensor:
    """xyxy boxes ``[K, 4]`` of an image ``width`` pixels wide, in its horizontal mirror."""
    return torch.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], 1)


def mirror_rows(rows: Tensor, width: float) -> Tensor:
    """Target rows ``[K, ≥ 6]`` (image, class, xyxy, …) with their boxes mirrored (:func:`mirror_boxes`)."""
    if len(rows) == 0:
        return rows
    return torch.cat([rows[:, :2], mirror_boxes(rows[:, 2:6], width), rows[:, 6:]], 1)


def mirror_cells(maps: Sequence[Tensor]) -> list[Tensor]:
    """Per-level cell maps ``[B, A, H, W]`` in the mirrored image: cell column ``gx`` becomes ``W − 1 − gx``."""
    return [m.flip(-1) for m in maps]


def split_output(out: DetectorOutput, b: int) -> tuple[DetectorOutput, DetectorOutput]:
    """The outputs of images ``[:b]`` and ``[b:]`` of one forward; attribute logits stay with the first part
    (only its boxes went to the AttriHead)."""
    first = replace(
        out, levels=[lv[:b] for lv in out.levels], features={k: v[:b] for k, v in out.features.items()}
    )
    second = replace(
        out,
        levels=[lv[b:] for lv in out.levels],
        features={k: v[b:] for k, v in out.features.items()},
        attribute_logits=None,
    )
    return first, second


def forward_views(
    model: nn.Module, images: Tensor, view: Tensor, attribute_boxes: Sequence[Tensor] | None = None
) -> tuple[DetectorOutput, DetectorOutput]:
    """One forward of the original images and their view stacked (``[2B, 3, H, W]``), split into the two
    outputs; ``attribute_boxes`` (per original image) go to the AttriHead, the view gets none."""
    b = images.shape[0]
    boxes = None
    if attribute_boxes is not None:
        boxes = [*attribute_boxes, *[images.new_zeros((0, 4)) for _ in range(b)]]
    return split_output(model(torch.cat([images, view]), boxes), b)


def branch_loss(
    out: DetectorOutput, criterion: DetectionCriterion, targets: Tensor, weights: list[Tensor] | None = None
) -> tuple[Tensor, Terms]:
    """The detection part of AttriDet's Eq. (3) on one view's output for ``targets``: every cell without a
    target is background, except where ``weights`` is 0 (gained and batch-scaled like the plain loss)."""
    strides = torch.tensor(out.strides, device=out.levels[0].device)
    return criterion(out.levels, out.anchors, strides, targets, weights)


def attribute_inputs(
    batch: Batch, criterion: DetectionCriterion
) -> tuple[list[Tensor] | None, Tensor | None]:
    """The AttriHead's boxes and the attribute rows of ``L_mor`` (:func:`attribute_cells`), or ``None`` twice
    when the model has no AttriHead or the data no attributes."""
    if not criterion.attribute_sizes or batch.attributes.shape[1] == 0:
        return None, None
    return attribute_cells(batch)


def attribute_term(
    out: DetectorOutput, criterion: DetectionCriterion, attributes: Tensor | None
) -> tuple[Tensor, Terms]:
    """``L_mor`` of AttriDet's Eq. (3) on the original view (gain ``loss.attr``, as the criterion adds it), and
    its logged value; 0 and nothing logged without attributes."""
    if attributes is None or out.attribute_logits is None:
        return out.levels[0].new_zeros(()), {}
    c = criterion.cfg
    attr = loss_attr(
        out.attribute_logits,
        attributes,
        criterion.attribute_sizes,
        c.asl_gamma_neg,
        c.asl_gamma_pos,
        c.asl_clip,
        criterion.across,
    )
    return c.attr * attr["loss_attr"], {k: v.detach() for k, v in attr.items()}
