"""Decode raw head logits into boxes with the YOLOv5 parameterisation (used by post-processing and losses).

For a cell at integer grid position ``(gx, gy)`` of a level with stride ``s`` and an anchor ``(aw, ah)`` in
input pixels, logits ``t`` give a box centre / size in input pixels::

    cx = (2·σ(tx) − 0.5 + gx) · s        w = (2·σ(tw))² · aw
    cy = (2·σ(ty) − 0.5 + gy) · s        h = (2·σ(th))² · ah

so the centre may move from −0.5 to +1.5 cells and the size from 0 to 4× the anchor.
"""

from __future__ import annotations

import torch
from torch import Tensor

from leukodet.model.hierarchy import hierarchical_probs
from leukodet.model.output import DetectorOutput

__all__ = ["box_from_logits", "decode_boxes", "decode_level", "make_grid", "unravel_prediction_index"]


def make_grid(
    height: int, width: int, *, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Cell coordinates of a ``height × width`` level.

    Returns:
        ``[height, width, 2]`` with ``[..., 0] = gx`` (column) and ``[..., 1] = gy`` (row).
    """
    ys = torch.arange(height, device=device, dtype=dtype)
    xs = torch.arange(width, device=device, dtype=dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx, gy), dim=-1)


def box_from_logits(t_xywh: Tensor, grid_xy: Tensor, anchor_wh: Tensor, stride: float | Tensor) -> Tensor:
    """YOLOv5 box decoding for any set of predictions (e.g. the cells assigned to targets in a loss).

    Args:
        t_xywh: ``[..., 4]`` raw logits ``(tx, ty, tw, th)``.
        grid_xy: ``[..., 2]`` cell column/row ``(gx, gy)`` (broadcastable to ``t_xywh[..., :2]``).
        anchor_wh: ``[..., 2]`` anchor ``(w, h)`` in the output unit (input pixels, or grid cells with
            ``stride=1``).
        stride: Level stride (scalar or tensor broadcastable to ``[..., 1]``); use 1 to get grid units.

    Returns:
        ``[..., 4]`` boxes ``(cx, cy, w, h)``: centre in ``stride`` units (input pixels for the level's
        stride), size in ``anchor_wh`` units. Differentiable w.r.t. ``t_xywh``.
    """
    if isinstance(stride, Tensor) and stride.ndim > 0:
        stride = stride.unsqueeze(-1)
    xy = (2.0 * torch.sigmoid(t_xywh[..., :2]) - 0.5 + grid_xy) * stride
    wh = (2.0 * torch.sigmoid(t_xywh[..., 2:4])) ** 2 * anchor_wh
    return torch.cat((xy, wh), dim=-1)


def decode_level(logits: Tensor, anchors: Tensor, stride: float) -> Tensor:
    """Decode one level to boxes and probabilities.

    Args:
        logits: ``[B, A, H, W, 5 + nc]`` raw head output.
        anchors: ``[A, 2]`` anchor ``(w, h)`` in input pixels.
        stride: The level's stride in input pixels.

    Returns:
        ``[B, A·H·W, 5 + nc]``: ``(cx, cy, w, h)`` in input pixels, objectness probability, class
        probabilities (independent sigmoids), rows ordered by ``(anchor, row, column)``.
    """
    b, a, h, w, n = logits.shape
    logits = logits.float()
    grid = make_grid(h, w, device=logits.device).view(1, 1, h, w, 2)
    anchor_wh = anchors.to(device=logits.device, dtype=torch.float32).view(1, a, 1, 1, 2)
    boxes = box_from_logits(logits[..., :4], grid, anchor_wh, float(stride))
    probs = torch.sigmoid(logits[..., 4:])
    return torch.cat((boxes, probs), dim=-1).view(b, a * h * w, n)


def decode_boxes(out: DetectorOutput) -> Tensor:
    """Decode every level of a :class:`DetectorOutput` and concatenate them.

    Args:
        out: Detector output (train or eval mode alike).

    Returns:
        ``[B, N, 5 + nc]`` with ``N = Σ_l A·H_l·W_l``, rows level by level (P3 first), then as in
        :func:`decode_level`: ``(cx, cy, w, h)`` input pixels, objectness prob, class probs (a child class's
        multiplied by its parent's: :func:`leukodet.model.hierarchy.hierarchical_probs`).
    """
    decoded = torch.cat(
        [decode_level(lv, out.anchors[i], out.strides[i]) for i, lv in enumerate(out.levels)], dim=1
    )
    if not out.class_parents:
        return decoded
    return torch.cat([decoded[..., :5], hierarchical_probs(decoded[..., 5:], out.class_parents)], dim=-1)


def unravel_prediction_index(out: DetectorOutput, index: Tensor) -> Tensor:
    """Map indices into the decoded ``N`` axis back to ``(level, anchor, row, column)``.

    Args:
        out: The output that was decoded.
        index: ``[K]`` long indices into the ``N`` axis of :func:`decode_boxes` (e.g. detections'
            ``keep_index``).

    Returns:
        ``[K, 4]`` long tensor of ``(level, anchor, gy, gx)``.
    """
    sizes = [lv.shape[1] * lv.shape[2] * lv.shape[3] for lv in out.levels]
    starts = torch.tensor([0, *sizes], device=index.device).cumsum(0)
    level = torch.bucketize(index, starts[1:], right=True)
    local = index - starts[level]
    rows = torch.empty((index.numel(), 4), dtype=torch.long, device=index.device)
    for lvl, lv in enumerate(out.levels):
        m = level == lvl
        h, w = int(lv.shape[2]), int(lv.shape[3])
        loc = local[m]
        cell = loc % (h * w)
        rows[m] = torch.stack((torch.full_like(loc, lvl), loc // (h * w), cell // w, cell % w), dim=1)
    return rows
