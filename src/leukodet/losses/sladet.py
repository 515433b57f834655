"""SLA-Det's training objective: the labelled-region loss, then pseudo-labels and the triplet term (paper §4.3).

:class:`SLADetObjective` is an :class:`leukodet.losses.objective.Objective`. The run's ``progress`` drives the
schedule: before ``sparse.burn_in`` only Eq. (4) trains (with ``L_mor`` when the model has an AttriHead, on the
cells whose attributes are labelled); afterwards the pseudo-label term (Eq. 7) joins, and for ``sladet`` the
triplet term (Eq. 11) until ``sparse.triplet_end``: Eq. (13) in all. Methods: ``naive`` (regions ignored:
everything unlabelled is background, what a standard detector does), ``region`` (Eq. 4 only), ``region+pl``,
``sladet``. (``crop``, the plain loss on the labelled patches alone, is :mod:`leukodet.data.patches` with the
plain objective.) Strides, anchors and the triplet term's feature map all come from the model's output.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from ..config import SparseConfig
from ..data.sample import Batch
from ..model.decode import decode_boxes
from ..model.output import DetectorOutput
from .criterion import DetectionCriterion
from .objective import Terms, forward_with_loss
from .pl_confidence import PrecisionCalibrator
from .sparse import (
    gained_pl_terms,
    loss_pl,
    loss_sla,
    loss_tri,
    region_masks,
    roi_vectors,
    select_pseudo_labels,
)

__all__ = ["SLADetObjective", "loss_lr", "area_min_of"]


def loss_lr(
    model: nn.Module, batch: Batch, criterion: DetectionCriterion, masked: bool = True
) -> tuple[DetectorOutput, Tensor, Terms]:
    """Eq. (4) ``L_LR``: the objectness, class and box terms of every level with the cells outside each
    image's labelled regions left out (:func:`leukodet.losses.sparse.region_masks` on the output's own level
    sizes, strides and anchor count; an image without regions counts as labelled everywhere). ``L_mor`` joins
    through the criterion (Eq. 13). ``masked=False`` is the ``naive`` baseline: the same terms, unlabelled
    cells taught as background."""

    def weigh(out: DetectorOutput) -> list[Tensor]:
        sizes = [(int(level.shape[2]), int(level.shape[3])) for level in out.levels]
        masks = region_masks(batch.regions, sizes, out.strides, int(out.anchors.shape[1]))
        return [m.to(batch.images.device) for m in masks]

    return forward_with_loss(model, batch, criterion, weigh if masked else None)


class SLADetObjective:
    """Loss of one sparse-annotation training step (see the module docstring).

    Args:
        criterion: the detection (+ attribute) criterion.
        cfg: the ``sparse`` config section.
        method: a resolved method (not ``auto``).
        area_min: smallest training box area in input pixels² (pseudo-label area filter, Eq. 6).
        teacher: the model that proposes pseudo-labels (the EMA weights with ``sparse.teacher: ema``); ``None``
            = the live model's own output of this step.
    """

    def __init__(
        self,
        criterion: DetectionCriterion,
        cfg: SparseConfig,
        method: str,
        area_min: float,
        teacher: nn.Module | None = None,
    ) -> None:
        self.criterion, self.cfg, self.method, self.area_min = criterion, cfg, method, area_min
        self.teacher = teacher
        uses_pl = method in ("region+pl", "sladet") and cfg.confidence == "calibrated"
        self.calibrator = PrecisionCalibrator(cfg.calib_window) if uses_pl else None

    def __call__(self, model: nn.Module, batch: Batch, progress: float) -> tuple[Tensor, Terms]:
        """Eqs. (4)-(13) for one batch at ``progress`` (share of the run done): Eq. (4) alone during the
        burn-in and for ``naive``/``region``; then Eq. (7) on the pseudo-labels of Eq. (6) and, for ``sladet``
        until ``triplet_end``, Eq. (11); summed by Eq. (13). Returns the total and the logged terms (with the
        pseudo-label filter's counts ``n_*``)."""
        crit, cfg = self.criterion, self.cfg
        out, lr_total, terms = loss_lr(model, batch, crit, masked=self.method != "naive")
        burn_in = progress < cfg.burn_in
        if self.method in ("naive", "region") or (burn_in and self.calibrator is None):
            return lr_total, terms
        with torch.no_grad():
            source = out if self.teacher is None else _teacher_output(self.teacher, batch.images)
            decoded = decode_boxes(source).detach()
            if self.calibrator is not None:  # measured during the burn-in too, ready when it ends
                self.calibrator.update(decoded, batch.regions, batch.targets)
        if burn_in:
            return lr_total, terms
        strides = torch.tensor(out.strides, device=batch.images.device)
        bs = crit.batch_size(batch.images.shape[0], out.levels[0])
        with torch.no_grad():
            found = select_pseudo_labels(
                decoded,
                batch.regions,
                batch.targets,
                self.area_min,
                cfg.t0,
                cfg.t1,
                cfg.t2,
                cfg.nms_iou,
                cfg.gt_overlap_px,
                self.calibrator,
            )
        pl_terms: dict[str, Tensor] = {}
        if len(found.targets):
            assigned = crit.assign(out.levels, out.anchors, strides, found.targets)
            pl_terms = loss_pl(
                out.levels, assigned, crit.num_classes, crit.cfg.obj_balance, cfg.pl_obj_norm,
                crit.cfg.obj_iou_ratio,
            )  # fmt: skip
        tri = None
        if self.method == "sladet" and progress < cfg.triplet_end:
            tri = self._triplet(out, found.candidates, batch.targets)
        weighted = gained_pl_terms(pl_terms, crit.gains) if cfg.pl_weighting == "gained" else pl_terms
        total = loss_sla(lr_total, weighted, tri, bs, cfg.pl_gain, cfg.tri_gain)
        logged = {**terms, **{k: v.detach() for k, v in pl_terms.items()}}
        if tri is not None:
            logged["loss_tri"] = tri.detach()
        logged.update({f"n_{k}": torch.tensor(float(v)) for k, v in found.counts.items()})
        return total, logged

    def _triplet(self, out: DetectorOutput, candidates: Tensor, targets: Tensor) -> Tensor:
        """Eq. (11) on the finest neck map (P3): candidates (image, class, xyxy, conf) against the batch's ground
        truth."""
        cfg = self.cfg
        cand = candidates[:, :6]
        gt_rows = torch.cat([targets[:, :1], targets[:, 2:6]], 1)
        cand_rows = torch.cat([cand[:, :1], cand[:, 2:6]], 1)
        p3, stride = out.features["neck_p3"], int(out.strides[0])
        gt_feats, cand_feats = roi_vectors(p3, gt_rows, stride), roi_vectors(p3, cand_rows, stride)
        return loss_tri(
            cand_feats, cand, gt_feats, targets, cfg.tri_margin, cfg.triplet_sign, cfg.tri_iou_skip
        )["loss_tri"]


def _teacher_output(teacher: nn.Module, images: Tensor) -> DetectorOutput:
    """The EMA teacher's predictions for the batch (eval mode: running batch-norm statistics, no dropout)."""
    mode = teacher.training
    teacher.eval()
    try:
        return teacher(images)
    finally:
        teacher.train(mode)


def area_min_of(sizes: np.ndarray) -> float:
    """Smallest box area (input pixels²) among ``[N, 2]`` letterboxed training box sizes; 0 without boxes."""
    return float((sizes[:, 0] * sizes[:, 1]).min()) if len(sizes) else 0.0
