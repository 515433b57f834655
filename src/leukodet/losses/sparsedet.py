"""SparseDet (Suri, Rambhatla, Chellappa, Shrivastava, ICCV 2023), a Table 7 comparator, on the one-stage
anchor-based detector (``--sparse-method sparsedet``; docs/comparators.md).

SparseDet sorts the proposals of a two-stage detector into three groups (its Fig. 2 and §3): *labelled*
(matching a ground-truth box: the supervised loss), *unlabelled foreground* (pseudo-positive mining, PPM: high
objectness but no ground-truth box: a self-supervised loss that keeps their features consistent between the
image and an augmented view, and no background label) and *background* (everything else: the usual background
label). Here a "proposal" is a cell-anchor prediction of the original view:

* :func:`labelled_cells` — the cells the ground truth is assigned to (the labelled group);
* :func:`mine_pseudo_positives` — PPM: the other cells with objectness above ``obj_thresh`` whose decoded box
  overlaps no ground-truth box by more than ``gt_iou``; they are left out of the objectness term (not taught as
  background) in both views, and after class-agnostic NMS at ``nms_iou`` they are the pseudo-positives;
* :func:`mined_features` / :func:`loss_consistency` — the self-supervised loss: the mean squared difference
  between the two views' ROIAlign features of each pseudo-positive (on the neck map of its own level);
* :class:`SparseDetObjective` — the step: the supervised loss averaged over the two views, plus
  ``ssl_gain`` × the consistency loss once ``burn_in`` of the run is done.

The published method has no labelled-region masks; neither has this one (the regions are not read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torchvision.ops import batched_nms, box_iou

from ..comparator_config import SparseDetConfig
from ..data.sample import Batch
from ..model.decode import decode_level
from ..model.output import DetectorOutput
from .assign import LevelTargets
from .criterion import DetectionCriterion
from .objective import Terms
from .sparse import roi_vectors
from .two_view import (
    attribute_inputs,
    attribute_term,
    branch_loss,
    forward_views,
    make_view,
    mirror_boxes,
    mirror_cells,
    mirror_rows,
)

__all__ = [
    "NECK_MAPS",
    "Mined",
    "labelled_cells",
    "mine_pseudo_positives",
    "mined_features",
    "loss_consistency",
    "SparseDetObjective",
]

NECK_MAPS: tuple[str, ...] = ("neck_p3", "neck_p4", "neck_p5")
"""The neck map each detection level reads (strides 8, 16, 32): where a pseudo-positive's features come from."""


@dataclass
class Mined:
    """The outcome of pseudo-positive mining on one batch.

    Attributes:
        cells: per level ``[B, A, H, W]`` bool, the unlabelled-foreground cells (no background label).
        rows: ``[K, 7]`` pseudo-positives after NMS: image, level, xyxy (input pixels), objectness.
    """

    cells: list[Tensor]
    rows: Tensor


def labelled_cells(levels: Sequence[Tensor], assigned: Sequence[LevelTargets]) -> list[Tensor]:
    """SparseDet's labelled group: per level ``[B, A, H, W]`` bool, the cells a ground-truth box is assigned
    to (the detector's own assignment, :func:`leukodet.losses.assign.assign_targets`)."""
    masks = []
    for logits, lt in zip(levels, assigned):
        mask = torch.zeros(logits.shape[:4], dtype=torch.bool, device=logits.device)
        mask[lt.batch, lt.anchor, lt.gy, lt.gx] = True
        masks.append(mask)
    return masks


def _unlabelled_foreground(
    logits: Tensor, anchors: Tensor, stride: int, labelled: Tensor, targets: Tensor, thr: float, gt_iou: float
) -> tuple[Tensor, Tensor, Tensor]:
    """One level's PPM: the ``[K, 4]`` (b, a, gy, gx) indices, xyxy boxes and objectness of the cells that are
    not labelled, score above ``thr`` and overlap no ground-truth box of their image by more than ``gt_iou``."""
    b, a, h, w, _ = logits.shape
    obj = logits[..., 4].float().sigmoid()
    cand = (obj > thr) & ~labelled
    idx = cand.nonzero()
    pred = decode_level(logits, anchors, stride).view(b, a, h, w, -1)[cand]
    boxes = torch.cat([pred[:, :2] - pred[:, 2:4] / 2, pred[:, :2] + pred[:, 2:4] / 2], 1)
    if len(idx) and len(targets):
        iou = box_iou(boxes, targets[:, 2:6].to(boxes))
        same = idx[:, :1] == targets[None, :, 0].long()
        clear = ~((iou > gt_iou) & same).any(1)
        idx, boxes = idx[clear], boxes[clear]
    return idx, boxes, obj[tuple(idx.T)]


def mine_pseudo_positives(
    levels: Sequence[Tensor],
    anchors: Tensor,
    strides: Sequence[int],
    targets: Tensor,
    labelled: Sequence[Tensor],
    obj_thresh: float = 0.8,
    gt_iou: float = 0.2,
    nms_iou: float = 0.3,
) -> Mined:
    """SparseDet §3, pseudo-positive mining (PPM): separate unlabelled foreground from background by
    objectness. A cell is unlabelled foreground when it is not ``labelled``, its objectness exceeds
    ``obj_thresh`` and its decoded box overlaps no ground-truth box of its image by more than ``gt_iou`` (IoU);
    these cells get no background label. Class-agnostic NMS at ``nms_iou`` per image (ranked by objectness)
    makes the pseudo-positives whose features the consistency loss compares. Detached: mining is a selection.

    Args:
        levels: raw ``[B, A, H, W, 5 + nc]`` logits of the original view.
        anchors: ``[L, A, 2]`` anchors in input pixels; ``strides``: per level.
        targets: ``[M, 6]`` ground truth (image, class, xyxy input pixels).
        labelled: per level the cells assigned to the ground truth (:func:`labelled_cells`).
    """
    cells, rows = [], []
    for level, (logits, lab) in enumerate(zip(levels, labelled)):
        logits = logits.detach()
        idx, boxes, score = _unlabelled_foreground(
            logits, anchors[level], int(strides[level]), lab, targets, obj_thresh, gt_iou
        )
        mask = torch.zeros(logits.shape[:4], dtype=torch.bool, device=logits.device)
        mask[tuple(idx.T)] = True
        cells.append(mask)
        lvl = torch.full((len(idx), 1), float(level), device=boxes.device)
        rows.append(torch.cat([idx[:, :1].to(boxes.dtype), lvl, boxes, score[:, None].to(boxes.dtype)], 1))
    found = torch.cat(rows)
    keep = batched_nms(found[:, 2:6], found[:, 6], found[:, 0].long(), nms_iou)
    return Mined(cells, found[keep])


def mined_features(out: DetectorOutput, rows: Tensor, width: float | None = None) -> list[Tensor]:
    """Per level ``[K_l, C_l]``: one vector per pseudo-positive of that level (``rows``: image, level, xyxy),
    ROIAlign 4 × 4 on the level's neck map, spatially averaged (:func:`leukodet.losses.sparse.roi_vectors`;
    the stand-in for the two-stage box head's ROI feature). ``width``: the view is the horizontal mirror of an
    image that wide, so the boxes are mirrored first."""
    feats = []
    for level, key in enumerate(NECK_MAPS[: len(out.levels)]):
        sel = rows[rows[:, 1] == level]
        boxes = sel[:, 2:6] if width is None else mirror_boxes(sel[:, 2:6], width)
        rois = torch.cat([sel[:, :1], boxes], 1)
        feats.append(roi_vectors(out.features[key], rois, int(out.strides[level])))
    return feats


def loss_consistency(original: Sequence[Tensor], view: Sequence[Tensor]) -> Tensor:
    """SparseDet §3, the self-supervised loss on the unlabelled foreground: the mean squared difference between
    the two views' features of each pseudo-positive (per level ``[K_l, C_l]``; the mean over every box and
    channel of all levels). Both views receive the gradient, which pulls each towards the other; 0 when
    nothing was mined."""
    device = original[0].device if len(original) else None
    total = torch.zeros((), device=device)
    for o, v in zip(original, view):
        total = total + ((v.float() - o.float()) ** 2).sum()
    return total / max(sum(o.numel() for o in original), 1)


class SparseDetObjective:
    """Loss of one SparseDet step (see the module docstring; the ``sparsedet`` config section).

    Args:
        criterion: the detection (+ attribute) criterion.
        cfg: the ``sparsedet`` config section.
    """

    def __init__(self, criterion: DetectionCriterion, cfg: SparseDetConfig) -> None:
        self.criterion, self.cfg = criterion, cfg

    def __call__(self, model: nn.Module, batch: Batch, progress: float) -> tuple[Tensor, Terms]:
        """SparseDet §3 for one batch: the supervised loss (the ground-truth boxes; mined cells not background)
        averaged over the image and its view, ``L_mor`` on the image, and after ``burn_in`` the consistency
        loss × ``ssl_gain`` (× the batch size, as every term here). Logs ``n_mined`` (pseudo-positives after
        NMS) and ``n_mined_cells`` (cells kept from the background label) per batch."""
        crit, cfg = self.criterion, self.cfg
        width = float(batch.images.shape[-1])
        boxes, attributes = attribute_inputs(batch, crit)
        out, view = forward_views(model, batch.images, make_view(batch.images, cfg), boxes)
        view_targets = mirror_rows(batch.targets, width) if cfg.flip else batch.targets
        mined = self.mine(out, batch.targets) if progress >= cfg.burn_in else None
        weights = None if mined is None else [(~m).float() for m in mined.cells]
        view_weights = self._view_weights(view, weights, view_targets) if cfg.flip else weights
        sup, terms = branch_loss(out, crit, batch.targets, weights)
        view_sup, view_terms = branch_loss(view, crit, view_targets, view_weights)
        attr, attr_terms = attribute_term(out, crit, attributes)
        total = 0.5 * (sup + view_sup) + attr
        logged = {**terms, **attr_terms, **{f"view_{k}": v for k, v in view_terms.items()}}
        if mined is not None:
            ssl = loss_consistency(
                mined_features(out, mined.rows), mined_features(view, mined.rows, width if cfg.flip else None)
            )
            total = total + crit.batch_size(len(batch.images), out.levels[0]) * cfg.ssl_gain * ssl
            logged["loss_ssl"] = ssl.detach()
            logged["n_mined"] = torch.tensor(float(len(mined.rows)))
            logged["n_mined_cells"] = torch.tensor(float(sum(int(m.sum()) for m in mined.cells)))
        return total, logged

    def _view_weights(
        self, view: DetectorOutput, weights: list[Tensor] | None, targets: Tensor
    ) -> list[Tensor] | None:
        """The mirrored view's cell weights: the mined cells mirrored, except where the view's own assignment
        puts a ground-truth box (its neighbour-cell rule is not mirror-symmetric)."""
        if weights is None:
            return None
        with torch.no_grad():
            strides = torch.tensor(view.strides, device=view.levels[0].device)
            assigned = self.criterion.assign(view.levels, view.anchors, strides, targets)
            labelled = labelled_cells(view.levels, assigned)
        return [torch.where(lab, torch.ones_like(w), w) for lab, w in zip(labelled, mirror_cells(weights))]

    def mine(self, out: DetectorOutput, targets: Tensor) -> Mined:
        """PPM on the original view's output (:func:`mine_pseudo_positives`), without gradient."""
        cfg, crit = self.cfg, self.criterion
        with torch.no_grad():
            strides = torch.tensor(out.strides, device=out.levels[0].device)
            labelled = labelled_cells(out.levels, crit.assign(out.levels, out.anchors, strides, targets))
            return mine_pseudo_positives(
                out.levels,
                out.anchors,
                out.strides,
                targets,
                labelled,
                cfg.obj_thresh,
                cfg.gt_iou,
                cfg.nms_iou,
            )
