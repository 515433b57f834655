"""Co-mining (Wang, Yang, Cao, Zhang, AAAI 2021), a Table 7 comparator, on the one-stage anchor-based
detector (``--sparse-method comining``; docs/comparators.md).

Co-mining (its Fig. 2 and §3) trains a Siamese detector: one backbone and head see the image ``x`` and an
augmented copy ``x_a`` and predict ``P_o`` and ``P_a``. A co-generation module turns each branch's confident
predictions into a pseudo-label set (``P_o → P^g_o``, ``P_a → P^g_a``); the set of one branch is merged with the
annotated ground truth ``Y`` into the complementary ground truth of the *other* branch (``C_o = Y ∪ P^g_a``,
``C_a = Y ∪ P^g_o``), which supervises it with the detector's ordinary loss: ``L = L_o(P_o, C_o) + L_a(P_a,
C_a)``. What neither set covers stays background, as in a standard detector.

* :func:`cogenerate` — the co-generation module (score threshold, class-wise NMS, at most ``max_det``);
* :func:`merge_ground_truth` — ``C = Y ∪ P^g`` without the pseudo-labels that duplicate a ground-truth box;
* :class:`CoMiningObjective` — the step.

The published method has no labelled-region masks; neither has this one (the regions are not read).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.ops import batched_nms, box_iou

from ..comparator_config import CoMiningConfig
from ..data.sample import Batch
from ..model.decode import decode_boxes
from .criterion import DetectionCriterion
from .objective import Terms
from .two_view import attribute_inputs, attribute_term, branch_loss, forward_views, make_view, mirror_rows

__all__ = ["cogenerate", "merge_ground_truth", "CoMiningObjective"]


def cogenerate(
    decoded: Tensor,
    score_thresh: float = 0.6,
    nms_iou: float = 0.5,
    max_det: int = 100,
    image_size: tuple[int, int] | None = None,
) -> Tensor:
    """Co-mining §3, the co-generation module: a branch's predictions → its pseudo-label set ``P^g``.

    Every (prediction, class) pair scoring above ``score_thresh`` (score = objectness × class probability, the
    detector's confidence; RetinaNet's per-class sigmoid in the paper) is a candidate; class-wise NMS at
    ``nms_iou`` and the ``max_det`` best per image are kept, boxes clipped to the image (``image_size`` = (H, W)).

    Args:
        decoded: ``[B, N, 5 + nc]`` decoded predictions (xywh input pixels, sigmoid objectness and classes),
            detached.

    Returns:
        ``[K, 7]`` rows: image, class, xyxy (input pixels), score.
    """
    rows = [decoded.new_zeros((0, 7))]
    for b, pred in enumerate(decoded):
        scores = pred[:, 4:5] * pred[:, 5:]
        cell, cls = (scores > score_thresh).nonzero(as_tuple=True)
        score = scores[cell, cls]
        xy, wh = pred[cell, :2], pred[cell, 2:4]
        boxes = torch.cat([xy - wh / 2, xy + wh / 2], 1)
        if image_size is not None:
            h, w = image_size
            boxes = torch.stack([boxes[:, 0].clamp(0, w), boxes[:, 1].clamp(0, h),
                                 boxes[:, 2].clamp(0, w), boxes[:, 3].clamp(0, h)], 1)  # fmt: skip
        keep = batched_nms(boxes, score, cls, nms_iou)[:max_det]
        image = torch.full((len(keep), 1), float(b), device=pred.device, dtype=pred.dtype)
        rows.append(torch.cat([image, cls[keep, None].to(pred.dtype), boxes[keep], score[keep, None]], 1))
    return torch.cat(rows)


def merge_ground_truth(gt: Tensor, pseudo: Tensor, iou_thresh: float = 0.4) -> tuple[Tensor, Tensor]:
    """Co-mining §3, the complementary ground truth ``C = Y ∪ P^g``: the annotated boxes ``gt`` (``[M, 6]``:
    image, class, xyxy) followed by the pseudo-labels (``[K, ≥ 6]``) that do not duplicate one of them, i.e.
    whose IoU with every ground-truth box of the same image and class is at most ``iou_thresh``.

    Returns:
        ``[M + K', 6]`` targets and the ``[K]`` bool mask of the pseudo-labels kept.
    """
    if len(pseudo) == 0:
        return gt, torch.zeros(0, dtype=torch.bool, device=gt.device)
    keep = torch.ones(len(pseudo), dtype=torch.bool, device=pseudo.device)
    if len(gt):
        iou = box_iou(pseudo[:, 2:6], gt[:, 2:6].to(pseudo))
        same = (pseudo[:, None, 0] == gt[None, :, 0]) & (pseudo[:, None, 1] == gt[None, :, 1])
        keep = ~((iou > iou_thresh) & same).any(1)
    return torch.cat([gt, pseudo[keep, :6].to(gt)]), keep


class CoMiningObjective:
    """Loss of one Co-mining step (see the module docstring; the ``comining`` config section).

    Args:
        criterion: the detection (+ attribute) criterion.
        cfg: the ``comining`` config section.
    """

    def __init__(self, criterion: DetectionCriterion, cfg: CoMiningConfig) -> None:
        self.criterion, self.cfg = criterion, cfg

    def __call__(self, model: nn.Module, batch: Batch, progress: float) -> tuple[Tensor, Terms]:
        """Co-mining §3 for one batch: ``L_o(P_o, C_o) + L_a(P_a, C_a)`` (before ``burn_in``: ``C = Y``), plus
        ``L_mor`` on the image. Logs each branch's terms (the view's as ``view_*``) and per batch the
        co-generated labels each branch received (``n_cogen_o`` from the view, ``n_cogen_a`` from the image)
        and their sum ``n_cogen``."""
        crit, cfg = self.criterion, self.cfg
        size = (int(batch.images.shape[-2]), int(batch.images.shape[-1]))
        boxes, attributes = attribute_inputs(batch, crit)
        out, view = forward_views(model, batch.images, make_view(batch.images, cfg), boxes)
        gt, view_gt = batch.targets, mirror_rows(batch.targets, size[1]) if cfg.flip else batch.targets
        logged: Terms = {}
        if progress >= cfg.burn_in:
            with torch.no_grad():
                from_image = cogenerate(
                    decode_boxes(out).detach(), cfg.score_thresh, cfg.nms_iou, cfg.max_det, size
                )
                from_view = cogenerate(
                    decode_boxes(view).detach(), cfg.score_thresh, cfg.nms_iou, cfg.max_det, size
                )
                if cfg.flip:  # each set into the coordinates of the branch it supervises
                    from_image, from_view = mirror_rows(from_image, size[1]), mirror_rows(from_view, size[1])
                gt, kept_o = merge_ground_truth(gt, from_view, cfg.gt_iou)
                view_gt, kept_a = merge_ground_truth(view_gt, from_image, cfg.gt_iou)
            n_o, n_a = float(kept_o.sum()), float(kept_a.sum())
            logged = {
                k: torch.tensor(v)
                for k, v in (("n_cogen_o", n_o), ("n_cogen_a", n_a), ("n_cogen", n_o + n_a))
            }
        loss_o, terms = branch_loss(out, crit, gt)
        loss_a, view_terms = branch_loss(view, crit, view_gt)
        attr, attr_terms = attribute_term(out, crit, attributes)
        logged = {**terms, **attr_terms, **{f"view_{k}": v for k, v in view_terms.items()}, **logged}
        return loss_o + loss_a + attr, logged
