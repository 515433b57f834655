"""YOLO detection loss terms: box (1 - CIoU), objectness (IoU-valued targets, per-level balance), class.

Each term is a named function returning ``{"loss_<term>": Tensor}`` (unweighted); the criterion applies the
gains. Every term takes an optional per-cell weight map per level (``[B, A, H, W]``, 0 = ignore): the
objectness term becomes a weighted mean over the cells with weight > 0, and the box and class terms weight
their assigned cells. That one argument is how sparse (labelled-region) training masks the loss.

Under multi-process training every mean divides by the *process-mean* denominator (the optional ``across``
argument, :meth:`leukodet.engine.distributed.DistContext.mean`), so that averaging the local losses' gradients
gives exactly the one-process gradient of the global batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import complete_box_iou_loss, sigmoid_focal_loss

from .assign import LevelTargets

__all__ = ["Across", "predicted_boxes", "loss_box", "loss_obj", "loss_cls", "bce_or_focal"]

Across = Callable[[Tensor], Tensor]
"""Maps a local loss denominator to its mean over processes (identity when training in one process)."""


MIN_WH = 1e-4
"""Smallest predicted box side in grid cells (far below any real box: 0.0008 px at stride 8)."""


def predicted_boxes(logits: Tensor, lt: LevelTargets) -> Tensor:
    """Decoded ``[K, 4]`` cell-relative xyxy boxes (cells) at the assigned positions.

    Centre ``2σ(t_xy) - 0.5`` (cells, relative to the assigned cell), size ``(2σ(t_wh))² · anchor``, at least
    :data:`MIN_WH` cells: a size that rounds to zero in ``xy ± wh/2`` makes the aspect term of
    ``torchvision.ops.complete_box_iou_loss`` (``atan(w / h)``, no epsilon) back-propagate NaN.
    """
    p = logits[lt.batch, lt.anchor, lt.gy, lt.gx]
    xy = p[:, :2].sigmoid() * 2 - 0.5
    wh = ((p[:, 2:4].sigmoid() * 2) ** 2 * lt.anchor_wh).clamp(min=MIN_WH)
    return torch.cat([xy - wh / 2, xy + wh / 2], 1)


def _target_boxes(lt: LevelTargets) -> Tensor:
    return torch.cat([lt.xy - lt.wh / 2, lt.xy + lt.wh / 2], 1)


def _cell_weight(weights: Tensor | None, lt: LevelTargets) -> Tensor | None:
    return None if weights is None else weights[lt.batch, lt.anchor, lt.gy, lt.gx]


def _weighted_mean(values: Tensor, weight: Tensor | None, across: Across | None = None) -> Tensor:
    """Sum of (weighted) values over the (process-mean) count or weight sum; 0 when that is 0."""
    if weight is None:
        num, den = values.sum(), values.new_tensor(float(values.numel()))
    else:
        num, den = (values * weight).sum(), weight.sum().detach().to(values.dtype)
    if across is not None:
        den = across(den)
    return num / den.clamp(min=1e-12)


def bce_or_focal(logits: Tensor, target: Tensor, gamma: float, alpha: float) -> Tensor:
    """Element-wise BCE with logits, or the sigmoid focal loss when ``gamma > 0`` (torchvision.ops)."""
    if gamma > 0:
        return sigmoid_focal_loss(logits, target, alpha=alpha, gamma=gamma, reduction="none")
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none")


def loss_box(
    levels: list[Tensor],
    assigned: list[LevelTargets],
    weights: list[Tensor] | None = None,
    across: Across | None = None,
) -> tuple[dict[str, Tensor], list[Tensor]]:
    """Box term: mean ``1 - CIoU`` over assigned cells, summed over levels.

    Returns the term and, per level, the detached IoU of each assigned prediction (objectness targets).
    """
    total = levels[0].new_zeros(())
    ious = []
    for level, (logits, lt) in enumerate(zip(levels, assigned)):
        pred, tgt = predicted_boxes(logits, lt), _target_boxes(lt)
        loss = complete_box_iou_loss(pred, tgt, reduction="none") if len(lt) else pred.new_zeros(0)
        total = total + _weighted_mean(loss, _cell_weight(weights[level] if weights else None, lt), across)
        ious.append((1.0 - loss.detach()).clamp(min=0.0))
    return {"loss_box": total}, ious


def loss_obj(
    levels: list[Tensor],
    assigned: list[LevelTargets],
    ious: list[Tensor],
    balance: tuple[float, ...],
    weights: list[Tensor] | None = None,
    gamma: float = 0.0,
    alpha: float = 0.25,
    across: Across | None = None,
) -> dict[str, Tensor]:
    """Objectness term: BCE against the IoU at assigned cells and 0 elsewhere, per-level ``balance`` weights."""
    total = levels[0].new_zeros(())
    for level, (logits, lt) in enumerate(zip(levels, assigned)):
        target = torch.zeros_like(logits[..., 4])
        if len(lt):
            target[lt.batch, lt.anchor, lt.gy, lt.gx] = ious[level].to(target.dtype)
        loss = bce_or_focal(logits[..., 4], target, gamma, alpha)
        w = weights[level] if weights else None
        total = total + balance[level] * _weighted_mean(loss, w, across)
    return {"loss_obj": total}


def loss_cls(
    levels: list[Tensor],
    assigned: list[LevelTargets],
    num_classes: int,
    weights: list[Tensor] | None = None,
    label_smoothing: float = 0.0,
    gamma: float = 0.0,
    alpha: float = 0.25,
    across: Across | None = None,
) -> dict[str, Tensor]:
    """Class term: BCE of the class logits against (smoothed) one-hot targets at assigned cells."""
    total = levels[0].new_zeros(())
    if num_classes <= 1:
        return {"loss_cls": total}
    pos, neg = 1.0 - 0.5 * label_smoothing, 0.5 * label_smoothing
    for level, (logits, lt) in enumerate(zip(levels, assigned)):
        p = logits[lt.batch, lt.anchor, lt.gy, lt.gx, 5:]
        target = torch.full_like(p, neg)
        target[torch.arange(len(lt), device=p.device), lt.cls] = pos
        loss = bce_or_focal(p, target, gamma, alpha).mean(1)
        total = total + _weighted_mean(loss, _cell_weight(weights[level] if weights else None, lt), across)
    return {"loss_cls": total}
