"""ConfMix (Mattolin et al., WACV 2023): confidence-based mixing for unsupervised domain adaptation.

The pieces of one adaptation step, each a named function:

* :func:`progressive_delta` — the progressive pseudo-labelling schedule: ``δ(r) = 2 / (1 + exp(-γ r)) - 1``
  rises from 0 to ~1 over the run (``r`` = share of the run done), moving the confidence metric from loose
  to strict.
* :func:`box_uncertainty` — how unsure a detection's box is. ConfMix reads it off a Gaussian-YOLO head;
  leukodet's head is plain YOLOv5-style, so the spread of the pre-NMS candidates that NMS folded into the
  kept box stands in for it (score-weighted standard deviation of the four sides over the box size; 0 when
  the candidates agree, towards 1 when they scatter). A documented substitute, not the original σ.
* :func:`pseudo_confidence` — ``c = (1 - δ) c_det + δ c_comb`` with ``c_comb = c_det (1 - u)``.
* :func:`region_confidence` — the mean pseudo-detection confidence in each cell of a ``grid × grid`` split of
  the image (ConfMix: 2 × 2); a cell without detections has confidence 0.
* :func:`mix_images` / :func:`mix_targets` — the source image with the chosen target cell pasted in, and its
  labels: the source ground truth whose centre lies outside the cell plus the target pseudo-labels inside it
  (clipped to the cell). :func:`outside_cell` gives the labelled region of a mixed image for the variant
  ``adapt.target_negatives=false`` (the pasted cell unlabelled apart from its pseudo-labels).

:class:`leukodet.losses.confmix_objective.ConfMixObjective` strings them into the training step; its loss is the source
detection loss plus ``gain`` × the detection loss on the mixed images (ConfMix's consistency term).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchvision.ops import box_iou

__all__ = [
    "box_uncertainty",
    "mix_images",
    "mix_targets",
    "outside_cell",
    "progressive_delta",
    "pseudo_confidence",
    "region_boxes",
    "region_confidence",
]


def progressive_delta(r: float, gamma: float) -> float:
    """ConfMix's progressive weight ``δ(r) = 2 / (1 + exp(-γ r)) - 1`` for ``r`` in [0, 1] (0 at the start)."""
    r = min(max(r, 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-gamma * r)) - 1.0


def box_uncertainty(
    kept: Tensor, cand_boxes: Tensor, cand_scores: Tensor, iou: float = 0.5, eps: float = 1e-6
) -> Tensor:
    """Box uncertainty in [0, 1] of each kept ``[K, 4]`` xyxy box from the ``[N, 4]`` pre-NMS candidates
    (with scores ``[N]``) that overlap it by IoU > ``iou``: the score-weighted standard deviation of each
    side, divided by the box width (x sides) or height (y sides), averaged over the four sides."""
    if len(kept) == 0:
        return kept.new_zeros(0)
    if len(cand_boxes) == 0:
        return kept.new_zeros(len(kept))
    w = (box_iou(kept, cand_boxes) > iou).float() * cand_scores[None, :]  # [K, N]
    w = w / w.sum(1, keepdim=True).clamp_min(eps)
    mean = w @ cand_boxes  # [K, 4]
    var = w @ cand_boxes.pow(2) - mean.pow(2)
    std = var.clamp_min(0.0).sqrt()
    side = torch.stack([kept[:, 2] - kept[:, 0], kept[:, 3] - kept[:, 1]], 1).clamp_min(1.0)
    rel = std / side.repeat(1, 2)[:, [0, 1, 0, 1]]
    return rel.mean(1).clamp(0.0, 1.0)


def pseudo_confidence(c_det: Tensor, uncertainty: Tensor, delta: float) -> Tensor:
    """ConfMix's progressive confidence ``(1 - δ) c_det + δ c_det (1 - u)`` (loose → strict over the run)."""
    return (1.0 - delta) * c_det + delta * c_det * (1.0 - uncertainty)


def region_boxes(size: tuple[int, int], grid: int = 2) -> Tensor:
    """The ``grid × grid`` cells of an ``(H, W)`` image as ``[grid², 4]`` xyxy boxes, row by row."""
    h, w = size
    ys = [round(h * i / grid) for i in range(grid + 1)]
    xs = [round(w * j / grid) for j in range(grid + 1)]
    cells = [(xs[j], ys[i], xs[j + 1], ys[i + 1]) for i in range(grid) for j in range(grid)]
    return torch.tensor(cells, dtype=torch.float32)


def _inside_rows(boxes: Tensor, cells: Tensor) -> Tensor:
    """``[N]``: whether box ``i``'s centre lies in cell ``i`` (``cells`` ``[N, 4]``; left/top edges inclusive)."""
    cx, cy = (boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2
    return (cx >= cells[..., 0]) & (cx < cells[..., 2]) & (cy >= cells[..., 1]) & (cy < cells[..., 3])


def _inside(boxes: Tensor, cells: Tensor) -> Tensor:
    """``[N, C]``: whether each box's centre lies in each of the ``[C, 4]`` cells."""
    return _inside_rows(boxes[:, None, :], cells[None, :, :])


def region_confidence(boxes: Tensor, confidence: Tensor, cells: Tensor) -> Tensor:
    """Mean ``confidence`` of the boxes whose centre lies in each of ``cells`` (``[C]``; 0 for an empty cell)."""
    inside = _inside(boxes, cells.to(boxes.device)).float()  # [N, C]
    count = inside.sum(0)
    total = (inside * confidence[:, None]).sum(0)
    return torch.where(count > 0, total / count.clamp_min(1.0), torch.zeros_like(total))


def mix_images(source: Tensor, target: Tensor, cells: Tensor) -> Tensor:
    """``[B, 3, H, W]`` source images with, per image ``b``, the target image's pixels in ``cells[b]`` (xyxy)."""
    mixed = source.clone()
    for b, (x1, y1, x2, y2) in enumerate(cells.round().long().tolist()):
        mixed[b, :, y1:y2, x1:x2] = target[b, :, y1:y2, x1:x2]
    return mixed


def outside_cell(cell: Tensor, size: tuple[int, int]) -> Tensor:
    """The part of an ``(H, W)`` image outside the xyxy ``cell`` as ``[4, 4]`` xyxy rectangles (bands above and
    below it, strips left and right of it; empty ones have zero area): the labelled region of a mixed image
    when the pasted target cell is treated as unlabelled."""
    h, w = float(size[0]), float(size[1])
    x1, y1, x2, y2 = (float(v) for v in cell.tolist())
    rects = [(0.0, 0.0, w, y1), (0.0, y2, w, h), (0.0, y1, x1, y2), (x2, y1, w, y2)]
    return torch.tensor(rects, dtype=torch.float32)


def mix_targets(source_targets: Tensor, pseudo: Tensor, cells: Tensor) -> Tensor:
    """Labels of the mixed images (rows ``image, class, x1, y1, x2, y2``): the source rows whose centre is
    outside their image's cell, then the ``pseudo`` rows whose centre is inside it, clipped to the cell."""
    cells = cells.to(source_targets.device)
    keep_src = ~_inside_rows(source_targets[:, 2:6], cells[source_targets[:, 0].long()])
    own = cells[pseudo[:, 0].long()]
    in_cell = _inside_rows(pseudo[:, 2:6], own)
    kept = pseudo[in_cell].clone()
    own = own[in_cell]
    kept[:, 2:4] = torch.maximum(kept[:, 2:4], own[:, :2])
    kept[:, 4:6] = torch.minimum(kept[:, 4:6], own[:, 2:])
    return torch.cat([source_targets[keep_src], kept], 0)
