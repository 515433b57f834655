"""Training objectives: what one optimiser step minimises, behind one protocol.

An :class:`Objective` maps ``(model, batch, progress)`` to the total loss and its logged terms; ``progress`` is
the share of the run done (0 at the start, 1 at the end), passed in by the training loop at every step so the
schedules of SLA-Det (burn-in, triplet end) and ConfMix (progressive confidence) never need state set from
outside. :func:`leukodet.losses.build.build_objective` makes the right one once per run:

* :class:`PlainObjective` — Eq. (3), the AttriDet loss of fully labelled images;
* :class:`leukodet.losses.sladet.SLADetObjective` — the sparse-annotation methods (Eqs. 4–13);
* :class:`leukodet.losses.confmix_objective.ConfMixObjective` — unsupervised domain adaptation (ConfMix);
* :class:`leukodet.losses.daca.DACAObjective` — unsupervised domain adaptation (DACA, docs/daca.md);
* :class:`leukodet.losses.sparsedet.SparseDetObjective`, :class:`leukodet.losses.comining.CoMiningObjective` —
  the paper's Table 7 comparators (docs/comparators.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor, nn

from ..data.sample import Batch
from ..model.output import DetectorOutput
from .criterion import DetectionCriterion

__all__ = [
    "Objective",
    "TargetImages",
    "PlainObjective",
    "attribute_cells",
    "forward_with_loss",
]

Terms = dict[str, Tensor]

TargetImages = Callable[[int, torch.device], Tensor]
"""``n, device → [n, 3, H, W]`` letterboxed unlabelled target-domain images (ConfMix's and DACA's second
stream)."""


class Objective(Protocol):
    """One training step's loss: ``(model, batch, progress) → (total, logged terms)``."""

    def __call__(self, model: nn.Module, batch: Batch, progress: float) -> tuple[Tensor, Terms]: ...


def attribute_cells(batch: Batch) -> tuple[list[Tensor], Tensor]:
    """The ground-truth cells ``L_mor`` can learn from: those with at least one labelled attribute.

    Returns their boxes per image (the AttriHead's input, image order) and their attribute rows in the same
    order. Cells without any attribute label (red cells, platelets, ``-1`` everywhere) add nothing to Eq. (3)
    but would cost a ROIAlign and a head pass each (80 red cells a synthetic field), so they are left out.
    """
    keep = (batch.attributes >= 0).any(1)
    targets, attributes = batch.targets[keep], batch.attributes[keep]
    idx = targets[:, 0].long()
    order = torch.argsort(idx, stable=True)
    boxes = [targets[idx == i, 2:6] for i in range(batch.images.shape[0])]
    return boxes, attributes[order]


def forward_with_loss(
    model: nn.Module,
    batch: Batch,
    criterion: DetectionCriterion,
    weigh: Callable[[DetectorOutput], list[Tensor]] | None = None,
) -> tuple[DetectorOutput, Tensor, Terms]:
    """Forward + Eq. (3): detection terms, plus ``L_mor`` on the ground-truth cells with attribute labels
    (:func:`attribute_cells`) when the model has an AttriHead (the head runs inside the one forward, so DDP and
    AMP see a single graph). ``weigh`` maps the output to per-level cell weights (e.g. the labelled regions of
    Eq. 4, built on the output's own levels, strides and anchors). Returns the output, the total and the
    logged terms."""
    with_attrs = bool(criterion.attribute_sizes) and batch.attributes.shape[1] > 0
    boxes, attributes = attribute_cells(batch) if with_attrs else (None, None)
    out = model(batch.images, boxes)
    total, terms = criterion(
        out.levels,
        out.anchors,
        torch.tensor(out.strides, device=batch.images.device),
        batch.targets,
        None if weigh is None else weigh(out),
        out.attribute_logits,
        attributes,
    )
    return out, total, terms


class PlainObjective:
    """Eq. (3) on fully labelled images (every unlabelled pixel is background)."""

    def __init__(self, criterion: DetectionCriterion) -> None:
        self.criterion = criterion

    def __call__(self, model: nn.Module, batch: Batch, progress: float = 0.0) -> tuple[Tensor, Terms]:
        _, total, terms = forward_with_loss(model, batch, self.criterion)
        return total, terms
