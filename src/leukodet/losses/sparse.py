"""SLA-Det sparse-annotation terms (Rehman et al. 2025, §4.3, Eqs. 4-12; reference spec §4, D1-D7, D15, D19).

* Eq. (4) ``L_LR``: the detection terms with objectness supervised only inside each image's labelled regions
  (:func:`region_masks`, one mask per detection level; the cell centre decides, D15), negatives there included.
* Eqs. (5)-(7) ``L_PL``: confident predictions of the live model (detached, D23) whose centre lies outside every
  region become pseudo-labels (:func:`select_pseudo_labels`: class-agnostic NMS at ``t0``, area above the
  smallest training box, confidence above ``t1``, class entropy in bits below ``t2``, no large overlap with a
  ground-truth box); :func:`loss_pl` supervises objectness only at their own cells, averaged over all cells
  (no negatives outside the regions: D5), with box and class terms, gain 0.1 (D6).
* Eqs. (8)-(11) ``L_Tri``: predictions with ``t0 ≤ conf < t1`` outside the regions are compared, on the P3 neck
  map, with the batch's ground-truth cells (:func:`min_same_sim`, :func:`max_other_sim`, :func:`triplet_margin`,
  :func:`loss_tri`); the paper's hinge and the corrected one are both available (D1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import box_iou, nms, roi_align

from .assign import LevelTargets
from .detection import loss_box, loss_cls, objectness_targets

__all__ = [
    "region_masks",
    "centred_in",
    "prediction_entropy",
    "PseudoLabels",
    "select_pseudo_labels",
    "loss_pl",
    "gained_pl_terms",
    "roi_vectors",
    "min_same_sim",
    "max_other_sim",
    "triplet_margin",
    "loss_tri",
    "loss_sla",
]


def region_masks(
    regions: Sequence[Tensor | None], sizes: Sequence[tuple[int, int]], strides: Sequence[int], anchors: int
) -> list[Tensor]:
    """Eq. (4) support: per level a ``[B, A, H, W]`` 0/1 mask of the cells whose centre lies in a region.

    ``regions[b]`` is ``[R, 4]`` xyxy input pixels, or ``None`` for a fully labelled image (all ones); an
    empty ``[0, 4]`` array means nothing of the image is labelled (all zeros).
    """
    masks = []
    for (h, w), s in zip(sizes, strides):
        ys = (torch.arange(h, dtype=torch.float32) + 0.5) * s
        xs = (torch.arange(w, dtype=torch.float32) + 0.5) * s
        per_image = []
        for r in regions:
            if r is None:
                per_image.append(torch.ones(h, w))
                continue
            r = r.detach().float().cpu().reshape(-1, 4)
            inside_x = (xs[None, :] >= r[:, 0:1]) & (xs[None, :] < r[:, 2:3])  # [R, W]
            inside_y = (ys[None, :] >= r[:, 1:2]) & (ys[None, :] < r[:, 3:4])  # [R, H]
            per_image.append((inside_y[:, :, None] & inside_x[:, None, :]).any(0).float())
        masks.append(torch.stack(per_image)[:, None].expand(-1, anchors, -1, -1).contiguous())
    return masks


def prediction_entropy(class_probs: Tensor) -> Tensor:
    """Eq. (5): entropy in **bits** of the per-class sigmoid probabilities normalised to sum 1 (D2)."""
    p = class_probs.clamp(min=1e-12)
    p = p / p.sum(-1, keepdim=True)
    return -(p * torch.log2(p)).sum(-1)


@dataclass
class PseudoLabels:
    """Predictions kept from the unlabelled area: ``targets [K, 6]`` (image, class, xyxy input pixels) and
    their confidences; ``counts`` says how many candidates each filter let through (for the log)."""

    targets: Tensor
    scores: Tensor
    candidates: Tensor
    counts: dict[str, int]


def centred_in(boxes: Tensor, regions: Tensor | None) -> Tensor:
    """Boxes (xyxy) whose centre lies inside some region; every box when ``regions`` is ``None`` (a fully
    labelled image is one region covering it)."""
    if regions is None:
        return torch.ones(len(boxes), dtype=torch.bool, device=boxes.device)
    r = regions.to(boxes.device).reshape(-1, 4)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    inside = (cx[:, None] >= r[None, :, 0]) & (cx[:, None] < r[None, :, 2])
    inside &= (cy[:, None] >= r[None, :, 1]) & (cy[:, None] < r[None, :, 3])
    return inside.any(1)


def _outside(boxes: Tensor, regions: Tensor | None) -> Tensor:
    """Boxes whose centre lies outside every region (an image without regions has no outside)."""
    if regions is None:
        return torch.zeros(len(boxes), dtype=torch.bool, device=boxes.device)
    return ~centred_in(boxes, regions)


def _overlaps_gt(boxes: Tensor, gt: Tensor, max_px: float) -> Tensor:
    """Boxes whose intersection with some ground-truth box exceeds ``max_px`` square pixels (D4)."""
    if len(gt) == 0 or len(boxes) == 0:
        return torch.zeros(len(boxes), dtype=torch.bool, device=boxes.device)
    lt = torch.maximum(boxes[:, None, :2], gt[None, :, :2])
    rb = torch.minimum(boxes[:, None, 2:], gt[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    return (inter > max_px).any(1)


def _unlabelled_filters(
    boxes: Tensor,
    idx: Tensor,
    region: Tensor | None,
    gt: Tensor,
    area_min: float,
    gt_overlap_px: float,
    counts: dict[str, int],
) -> tuple[Tensor, Tensor]:
    """Keep, in this order, boxes centred outside the regions (D4), larger than ``area_min`` and not
    overlapping ground truth by more than ``gt_overlap_px``; ``counts`` gets how many pass each filter."""
    for name in ("outside", "area", "gt_overlap"):
        if name == "outside":
            ok = _outside(boxes, region)
        elif name == "area":
            ok = (boxes[:, 2:] - boxes[:, :2]).prod(1) > area_min
        else:
            ok = ~_overlaps_gt(boxes, gt, gt_overlap_px)
        boxes, idx = boxes[ok], idx[ok]
        counts[name] += len(idx)
    return boxes, idx


def select_pseudo_labels(
    decoded: Tensor,
    regions: Sequence[Tensor | None],
    targets: Tensor,
    area_min: float,
    t0: float = 0.70,
    t1: float = 0.95,
    t2: float = 0.26,
    nms_iou: float = 0.2,
    gt_overlap_px: float = 100.0,
    calibrate: Callable[[Tensor, Tensor], Tensor] | None = None,
) -> PseudoLabels:
    """Eq. (6): pseudo-labels (conf > t1, entropy < t2) and similarity candidates (t0 ≤ conf < t1).

    Args:
        decoded: ``[B, N, 5 + nc]`` decoded predictions (xywh input pixels, sigmoid objectness and classes),
            detached.
        regions: per image labelled rectangles (``None`` = fully labelled: nothing is pseudo-labelled).
        targets: ``[M, 6]`` ground truth (image, class, xyxy).
        area_min: smallest ground-truth box area of the training set (input pixels²).
        calibrate: maps objectness × class (and the predicted class) to the confidence the thresholds compare (``sparse.confidence:
            calibrated``, :class:`leukodet.losses.pl_confidence.PrecisionCalibrator`); ``None``: Eq. (6) as
            printed, where the objectness must also reach ``t0``.
    """
    rows, cand_rows = [], []
    counts = dict.fromkeys(("t0_nms", "outside", "area", "gt_overlap", "pseudo", "candidates"), 0)
    for b, pred in enumerate(decoded):
        probs = pred[:, 5:] * pred[:, 4:5]
        raw, cls = probs.max(1)
        if calibrate is None:
            conf = raw
            keep = (conf >= t0) & (pred[:, 4] >= t0)
        else:
            conf = calibrate(raw, cls)
            keep = conf >= t0
        xy, wh = pred[keep, :2], pred[keep, 2:4]
        boxes = torch.cat([xy - wh / 2, xy + wh / 2], 1)
        idx = keep.nonzero().squeeze(1)
        kept = nms(boxes, raw[keep], nms_iou)  # class-agnostic (spec §4.2), ranked by the raw score
        boxes, idx = boxes[kept], idx[kept]
        counts["t0_nms"] += len(idx)
        gt = targets[targets[:, 0] == b, 2:6].to(boxes)
        boxes, idx = _unlabelled_filters(boxes, idx, regions[b], gt, area_min, gt_overlap_px, counts)
        sure = (conf[idx] > t1) & (prediction_entropy(pred[idx, 5:]) < t2)
        band = conf[idx] < t1
        for out, sel in ((rows, sure), (cand_rows, band)):
            image = torch.full((int(sel.sum()), 1), float(b), device=pred.device)
            out.append(torch.cat([image, cls[idx][sel, None].float(), boxes[sel], conf[idx][sel, None]], 1))
    pseudo, cand = torch.cat(rows), torch.cat(cand_rows)
    counts["pseudo"], counts["candidates"] = len(pseudo), len(cand)
    return PseudoLabels(pseudo[:, :6], pseudo[:, 6], cand, counts)


def _positive_only_obj(
    levels: list[Tensor],
    assigned: Sequence[LevelTargets],
    ious: list[Tensor],
    balance: Sequence[float],
    norm: str = "all_cells",
) -> Tensor:
    """Objectness BCE at the pseudo-labels' own cells only (target = IoU): no negatives outside the labelled
    regions. ``all_cells``: summed and divided by *all* cells of the level (D5, the authors' normalisation: a
    weight of about 1e-5 per cell); ``per_label``: the mean over the level's pseudo-label cells."""
    total = levels[0].new_zeros(())
    for level, (logits, lt) in enumerate(zip(levels, assigned)):
        obj = logits[lt.batch, lt.anchor, lt.gy, lt.gx, 4]
        loss = F.binary_cross_entropy_with_logits(obj, ious[level].to(obj.dtype), reduction="sum")
        cells = logits[..., 4].numel() if norm == "all_cells" else max(len(obj), 1)
        total = total + balance[level] * loss / cells
    return total


def loss_pl(
    levels: list[Tensor],
    assigned: Sequence[LevelTargets],
    num_classes: int,
    balance: Sequence[float],
    obj_norm: str = "all_cells",
    iou_ratio: float = 1.0,
) -> dict[str, Tensor]:
    """Eq. (7) ``L_PL``: box (1 − CIoU), class and positive-only objectness terms of the pseudo-labels
    (``obj_norm``: see :func:`_positive_only_obj`; ``iou_ratio``: :func:`objectness_targets`)."""
    box, ious = loss_box(levels, list(assigned))
    ious = objectness_targets(ious, iou_ratio)
    return {
        "loss_pl_box": box["loss_box"],
        "loss_pl_obj": _positive_only_obj(levels, assigned, ious, balance, obj_norm),
        "loss_pl_cls": loss_cls(levels, list(assigned), num_classes)["loss_cls"],
    }


def gained_pl_terms(pl_terms: dict[str, Tensor], gains: dict[str, float]) -> dict[str, Tensor]:
    """The Eq. (7) terms each times the detection gain of the same term (``loss_pl_box`` × ``loss_box``'s, and so
    on: ``sparse.pl_weighting=gained``), so that a pseudo-labelled cell's class and box terms weigh ``pl_gain`` ×
    a labelled cell's. The authors skip the gains (D6): with 4 classes at 256 px a pseudo-label's class term then
    weighs 6.7× a labelled cell's and its box term 2×, and with ``pl_obj_norm=per_label`` (a mean over the
    pseudo-label cells, not over every cell) its objectness outweighs a labelled cell's by orders of magnitude."""
    return {name: value * gains[name.replace("_pl", "")] for name, value in pl_terms.items()}


def roi_vectors(feature: Tensor, boxes: Tensor, stride: int, size: int = 4) -> Tensor:
    """One feature vector per box (``[K, 5]`` rows: image, xyxy input pixels): ROIAlign ``size × size`` on the
    P3 neck map, then the spatial mean (spec §4.4)."""
    if len(boxes) == 0:
        return feature.new_zeros((0, feature.shape[1]))
    rois = torch.cat([boxes[:, :1], boxes[:, 1:5] / float(stride)], 1).to(feature.dtype)
    return roi_align(feature, rois, (size, size), spatial_scale=1.0, aligned=True).mean((2, 3))


def min_same_sim(sim: Tensor, same: Tensor) -> Tensor:
    """Eq. (8): per candidate the lowest cosine similarity to a ground-truth cell of its class (+inf if none)."""
    return torch.where(same, sim, torch.full_like(sim, float("inf"))).min(1).values


def max_other_sim(sim: Tensor, other: Tensor) -> Tensor:
    """Eq. (9): per candidate the highest cosine similarity to a ground-truth cell of another class (−inf if
    none)."""
    return torch.where(other, sim, torch.full_like(sim, float("-inf"))).max(1).values


def triplet_margin(min_same: Tensor, max_other: Tensor, margin: float = 0.05, sign: str = "paper") -> Tensor:
    """Eq. (10): ``paper`` = ``max(0, Min_Sim − (Max_Sim + m))`` as printed (and coded); ``fixed`` =
    ``max(0, Max_Sim + m − Min_Sim)``, the hinge that enforces the stated goal Min_Sim > Max_Sim (D1)."""
    if sign == "paper":
        return (min_same - (max_other + margin)).clamp(min=0)
    if sign == "fixed":
        return (max_other + margin - min_same).clamp(min=0)
    raise ValueError(f"triplet sign must be 'paper' or 'fixed', got {sign!r}")


def loss_tri(
    cand_feats: Tensor,
    cand: Tensor,
    gt_feats: Tensor,
    gt: Tensor,
    margin: float = 0.05,
    sign: str = "paper",
    iou_skip: float = 0.3,
) -> dict[str, Tensor]:
    """Eq. (11) ``L_Tri``: mean of Eq. (10) over the candidates with at least one same-class and one
    other-class ground-truth cell in the batch. ``cand``/``gt`` rows are (image, class, xyxy); a pair from the
    same image whose boxes overlap with IoU ≥ ``iou_skip`` is not compared (D19: within one image only)."""
    zero = gt_feats.sum() * 0.0 + cand_feats.sum() * 0.0
    if len(cand) == 0 or len(gt) == 0:
        return {"loss_tri": zero}
    sim = F.normalize(cand_feats, dim=1) @ F.normalize(gt_feats, dim=1).T
    same_image = cand[:, None, 0] == gt[None, :, 0]
    usable = ~(same_image & (box_iou(cand[:, 2:6], gt[:, 2:6]) >= iou_skip))
    same = (cand[:, None, 1] == gt[None, :, 1]) & usable
    other = (cand[:, None, 1] != gt[None, :, 1]) & usable
    valid = same.any(1) & other.any(1)
    if not valid.any():
        return {"loss_tri": zero}
    tri = triplet_margin(min_same_sim(sim, same)[valid], max_other_sim(sim, other)[valid], margin, sign)
    return {"loss_tri": tri.mean()}


def loss_sla(
    lr_total: Tensor,
    pl_terms: dict[str, Tensor],
    tri: Tensor | None,
    batch: float,
    pl_gain: float,
    tri_gain: float,
) -> Tensor:
    """Eq. (13) ``L_SLA = L_LR + L_PL + L_Tri + L_mor`` — Eq. (12) ``L_SL`` when the model has no AttriHead —
    with the authors' scaling (spec §4.5). ``lr_total`` is the gained, batch-scaled Eq. (4) sum with ``L_mor``
    already added (:func:`leukodet.losses.sladet.loss_lr`: the criterion's Eq. 3 adds it to the region-masked
    detection terms); the pseudo-label terms enter with gain ``pl_gain`` and the triplet term with
    ``tri_gain`` (both 0.1), times the batch size."""
    total = lr_total
    if pl_terms:
        total = total + batch * pl_gain * sum(pl_terms.values())
    if tri is not None:
        total = total + batch * tri_gain * tri
    return total
