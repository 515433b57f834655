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

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import complete_box_iou_loss, sigmoid_focal_loss

from .assign import LevelTargets

__all__ = [
    "Across",
    "predicted_boxes",
    "loss_box",
    "loss_obj",
    "objectness_targets",
    "loss_cls",
    "class_target",
    "class_balance",
    "bce_or_focal",
]

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


def objectness_targets(ious: list[Tensor], iou_ratio: float = 1.0) -> list[Tensor]:
    """Objectness target of each assigned cell, ``(1 - r) + r · IoU`` (spec Sec. 7: the authors' YOLOv5 trains
    towards the detached IoU, r = 1). Objectness then levels off near the IoUs it reaches (about 0.9), so the
    SLA-Det confidence objectness × class (Eq. 6) cannot reach t1 = 0.95; r = 0 trains it towards 1 (issue #22,
    ``loss.obj_iou_ratio``). r = 1 returns ``ious`` itself."""
    if iou_ratio == 1.0:
        return ious
    return [(1.0 - iou_ratio) + iou_ratio * iou for iou in ious]


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
    class_parents: Sequence[int] = (),
    balance: float = 0.0,
) -> dict[str, Tensor]:
    """Class term: BCE of the class logits against (smoothed) one-hot targets at assigned cells.

    With a class hierarchy (``class_parents``, :mod:`leukodet.model.hierarchy`) the targets are multi-hot (a
    child-labelled box is also a positive of its parent), a child logit is trained only on boxes labelled with
    one of its parent's children (:func:`class_target`), and each box's loss is the mean over the root logits
    plus the mean over the child logits it informs (:func:`_group_means`).
    """
    total = levels[0].new_zeros(())
    if num_classes <= 1:
        return {"loss_cls": total}
    pos, neg = 1.0 - 0.5 * label_smoothing, 0.5 * label_smoothing
    parents = torch.tensor(class_parents, dtype=torch.long) if class_parents else None
    for level, (logits, lt) in enumerate(zip(levels, assigned)):
        p = logits[lt.batch, lt.anchor, lt.gy, lt.gx, 5:]
        target, informed = class_target(lt.cls, p, pos, neg, parents)
        loss = bce_or_focal(p, target, gamma, alpha)
        loss = loss.mean(1) if informed is None else _group_means(loss, informed, parents)
        w = _cell_weight(weights[level] if weights else None, lt)
        if balance > 0 and len(lt):
            b = class_balance(lt.cls, parents, balance, w)
            w = b if w is None else w * b
        total = total + _weighted_mean(loss, w, across)
    return {"loss_cls": total}


def class_balance(cls: Tensor, parents: Tensor | None, power: float, weight: Tensor | None = None) -> Tensor:
    """Per-cell weights ``n_g^-power`` over the cells' class groups (a child's group is its parent), with
    mean 1 over the cells (weighted by ``weight`` where given): ``power=1`` makes every group weigh the same.

    Without it, a film's ~100 red cells per white cell make the class term a red-cell term: the pretraining
    runs localised every synthetic WBC and called it ``RBC`` (docs/models.md).
    """
    if parents is None:
        group = cls
    else:
        own = parents.to(cls.device)[cls]
        group = torch.where(own >= 0, own, cls)
    w = torch.ones_like(cls, dtype=torch.float32) if weight is None else weight.float()
    counts = torch.zeros(int(group.max()) + 1, device=cls.device).index_add_(0, group, w)
    out = counts[group].clamp(min=1e-12) ** -power
    return out * w.sum().clamp(min=1e-12) / (out * w).sum().clamp(min=1e-12)


def _group_means(loss: Tensor, informed: Tensor, parents: Tensor) -> Tensor:
    """Per box: the mean over the root-class logits plus the mean over the child logits it informs, so the
    parent logit weighs the same in a typed box as in any other (not 1 / (roots + 13 types) of it)."""
    child = (parents >= 0).to(loss.device, loss.dtype).unsqueeze(0)
    roots = (loss * (1 - child)).sum(1) / (1 - child).sum(1)
    kids = informed * child
    return roots + (loss * kids).sum(1) / kids.sum(1).clamp(min=1)


def class_target(
    cls: Tensor, logits: Tensor, pos: float, neg: float, parents: Tensor | None = None
) -> tuple[Tensor, Tensor | None]:
    """Targets ``[K, C]`` of the class logits of ``K`` boxes with classes ``cls``, and which logits each box
    informs (``None``: all of them).

    Flat: one-hot ``pos`` at the box's class, ``neg`` elsewhere. With ``parents`` (``[C]``, ``-1`` = root):
    the parent of a child-labelled box is ``pos`` too, and a child column counts only for boxes whose class is
    a child of the same parent, so the child logits learn ``P(child | parent)``.
    """
    k = torch.arange(len(cls), device=logits.device)
    target = torch.full_like(logits, neg)
    target[k, cls] = pos
    if parents is None:
        return target, None
    parents = parents.to(logits.device)
    own = parents[cls]
    child = own >= 0
    target[k[child], own[child]] = pos
    is_child_col = (parents >= 0).unsqueeze(0)
    informed = ~is_child_col | (parents.unsqueeze(0) == own.unsqueeze(1))
    return target, informed.to(logits.dtype)
