"""Attribute loss ``L_mor`` of Rehman et al. 2025, Eq. (3): asymmetric loss (Ridnik et al. 2021, the paper's
ref. [43]) over each attribute's one-hot values (spec §3.4).

Every attribute of the schema is a group of ``K_a`` sigmoid logits with a one-hot target. Cells whose value is
"not applicable" (``-1``; LLD's value 2 and the class "None", decision D24) are masked out per attribute. The
element-wise losses are summed over values and attributes and divided by the number of boxes with at least one
valid attribute (the authors' "sum, then divide by the kept boxes"). The term is added into the one detection
loss (decision D8: a single, AMP-scaled backward).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .detection import Across

__all__ = ["asymmetric_loss", "loss_attr"]


def asymmetric_loss(
    logits: Tensor,
    targets: Tensor,
    gamma_neg: float = 4.0,
    gamma_pos: float = 1.0,
    clip: float = 0.08,
    eps: float = 1e-8,
) -> Tensor:
    """Element-wise asymmetric loss (Ridnik et al. 2021, Eqs. 1-4 there) for sigmoid ``logits``.

    ``p = σ(x)``; negatives use the shifted probability ``p_m = max(p − clip, 0)``;
    ``L = −y (1 − p)^γ+ log p − (1 − y) p_m^γ− log(1 − p_m)``. The focusing weights carry no gradient (as the
    authors' ``disable_torch_grad_focal_loss``).

    Args:
        logits: raw logits, any shape.
        targets: 0/1 targets, same shape.
        gamma_neg, gamma_pos: focusing exponents (paper/code 4 and 1).
        clip: probability margin of negatives (0.08).
        eps: floor inside the logarithms.

    Returns:
        The loss per element (same shape).
    """
    p = torch.sigmoid(logits)
    p_neg = (p - clip).clamp(min=0) if clip > 0 else p
    log_pos = torch.log(p.clamp(min=eps))
    log_neg = torch.log((1 - p_neg).clamp(min=eps))
    with torch.no_grad():
        w_pos = (1 - p) ** gamma_pos
        w_neg = p_neg**gamma_neg
    return -(targets * w_pos * log_pos + (1 - targets) * w_neg * log_neg)


def loss_attr(
    logits: Tensor,
    targets: Tensor,
    sizes: Sequence[int],
    gamma_neg: float = 4.0,
    gamma_pos: float = 1.0,
    clip: float = 0.08,
    across: Across | None = None,
) -> dict[str, Tensor]:
    """``L_mor`` (Eq. 3): ASL over one-hot attribute values, summed, per box with any valid attribute.

    Args:
        logits: ``[N, Σ K_a]`` AttriHead output, attribute groups in schema order.
        targets: ``[N, A]`` value indices, ``-1`` = not applicable.
        sizes: ``K_a`` per attribute.
        gamma_neg, gamma_pos, clip: :func:`asymmetric_loss` parameters.
        across: multi-process denominator (see :mod:`leukodet.losses.detection`).

    Returns:
        ``{"loss_attr": Tensor}``; 0 (with a graph) when no box has a valid attribute.
    """
    if targets.shape[1] != len(sizes):
        raise ValueError(f"targets have {targets.shape[1]} attributes, the head predicts {len(sizes)}")
    total = logits.sum() * 0.0
    start = 0
    for a, k in enumerate(sizes):
        group, t = logits[:, start : start + k], targets[:, a]
        start += k
        valid = t >= 0
        onehot = F.one_hot(t.clamp(min=0), k).to(group.dtype)
        per_box = asymmetric_loss(group, onehot, gamma_neg, gamma_pos, clip).sum(1)
        total = total + (per_box * valid.to(group.dtype)).sum()
    boxes = (targets >= 0).any(1).sum().to(logits.dtype).detach()
    if across is not None:
        boxes = across(boxes)
    return {"loss_attr": total / boxes.clamp(min=1e-12)}
