"""SLA-Det training step: the labelled-region loss, then pseudo-labels and the triplet term (paper §4.3).

:class:`SparseLoss` is the loss function the trainer calls (same signature as
:func:`leukodet.engine.loop.default_loss`). Its ``fraction`` (share of the run done, set by the trainer each
epoch) drives the schedule: before ``sparse.burn_in`` only Eq. (4) trains (with ``L_mor`` when the model has an
AttriHead: Eq. 13, attributes only where ground truth exists); afterwards the pseudo-label term (Eq. 7) joins,
and for ``sladet`` the triplet term (Eq. 11) until ``sparse.triplet_end``. Methods: ``naive`` (regions ignored:
everything unlabelled is background, what a standard detector does), ``region`` (Eq. 4 only), ``region+pl``,
``sladet`` (Eq. 12/13); ``crop`` trains the plain loss on the labelled patches alone
(:mod:`leukodet.data.patches`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from ..config import SparseConfig
from ..data.sample import Batch
from ..losses.criterion import DetectionCriterion
from ..losses.sparse import loss_pl, loss_tri, region_masks, roi_vectors, select_pseudo_labels, sladet_total
from ..model.config import DEFAULT_STRIDES
from ..model.decode import decode_boxes
from ..model.output import DetectorOutput
from .loop import forward_with_loss

__all__ = ["SparseLoss", "resolve_method"]


def resolve_method(method: str, has_regions: bool) -> str:
    """``auto`` → ``sladet`` when the training split has labelled regions, else ``naive`` (a standard run)."""
    if method == "auto":
        return "sladet" if has_regions else "naive"
    return method


class SparseLoss:
    """Loss of one sparse-annotation training step (see the module docstring).

    Args:
        criterion: the detection (+ attribute) criterion.
        cfg: the ``sparse`` config section.
        method: a resolved method (not ``auto``).
        area_min: smallest training box area in input pixels² (pseudo-label area filter, Eq. 6).
    """

    def __init__(
        self, criterion: DetectionCriterion, cfg: SparseConfig, method: str, area_min: float
    ) -> None:
        self.criterion, self.cfg, self.method, self.area_min = criterion, cfg, method, area_min
        self.fraction = 0.0
        # the EMA model when ``sparse.teacher == "ema"`` (set by the trainer)
        self.teacher: nn.Module | None = None

    def __call__(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        crit, cfg = self.criterion, self.cfg
        masks = None
        if self.method != "naive":
            h, w = batch.images.shape[-2:]
            sizes = [(h // s, w // s) for s in DEFAULT_STRIDES]
            masks = [
                m.to(batch.images.device) for m in region_masks(batch.regions, sizes, DEFAULT_STRIDES, 3)
            ]
        out, lr_total, terms = forward_with_loss(model, batch, crit, masks)
        strides = torch.tensor(out.strides, device=batch.images.device)
        if self.method in ("naive", "region") or self.fraction < cfg.burn_in:
            return lr_total, terms
        bs = crit.batch_size(batch.images.shape[0], out.levels[0])
        with torch.no_grad():
            source = out if self.teacher is None else _teacher_output(self.teacher, batch.images)
            found = select_pseudo_labels(
                decode_boxes(source).detach(),
                batch.regions,
                batch.targets,
                self.area_min,
                cfg.t0,
                cfg.t1,
                cfg.t2,
                cfg.nms_iou,
                cfg.gt_overlap_px,
            )
        pl_terms: dict[str, Tensor] = {}
        if len(found.targets):
            assigned = crit.assign(out.levels, out.anchors, strides, found.targets)
            pl_terms = loss_pl(out.levels, assigned, crit.num_classes, crit.cfg.obj_balance)
        tri = None
        if self.method == "sladet" and self.fraction < cfg.triplet_end:
            tri = self._triplet(out.features["neck_p3"], found.candidates, batch.targets)
        total = sladet_total(lr_total, pl_terms, tri, bs, cfg.pl_gain, cfg.tri_gain)
        logged = {**terms, **{k: v.detach() for k, v in pl_terms.items()}}
        if tri is not None:
            logged["loss_tri"] = tri.detach()
        logged.update({f"n_{k}": torch.tensor(float(v)) for k, v in found.counts.items()})
        return total, logged

    def _triplet(self, p3: Tensor, candidates: Tensor, targets: Tensor) -> Tensor:
        """Eq. (11) on the P3 neck map: candidates (image, class, xyxy, conf) against the batch's ground truth."""
        cfg = self.cfg
        cand = candidates[:, :6]
        gt_rows = torch.cat([targets[:, :1], targets[:, 2:6]], 1)
        cand_rows = torch.cat([cand[:, :1], cand[:, 2:6]], 1)
        gt_feats, cand_feats = roi_vectors(p3, gt_rows, 8), roi_vectors(p3, cand_rows, 8)
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
