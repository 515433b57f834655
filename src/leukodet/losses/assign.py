"""YOLO-style target-to-anchor assignment (spec Sec. 4: anchor_t = 4 and the two nearest neighbour cells).

A ground-truth box is assigned, on every level, to each anchor whose width and height ratios to the box are
all below ``anchor_t``; besides the cell holding the box centre, the two neighbouring cells closest to the
centre (left/right and up/down) also predict it, which is what lets the ``2σ - 0.5`` centre offset reach them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["LevelTargets", "assign_targets"]

NEIGHBOUR_BIAS = 0.5
"""A neighbour cell is used when the centre lies within this fraction of a cell from the shared edge."""


@dataclass
class LevelTargets:
    """Assigned (cell, anchor, target) triples of one level; all tensors have length ``K``.

    Attributes:
        batch, anchor, gy, gx: indices into the level's ``[B, A, H, W]`` prediction grid.
        xy: target centre relative to the assigned cell's corner, in cells (within ``[-0.5, 1.5]``).
        wh: target width and height in cells.
        anchor_wh: the assigned anchor's width and height in cells.
        cls: class id; ``target``: row of the target in the batch target tensor.
    """

    batch: Tensor
    anchor: Tensor
    gy: Tensor
    gx: Tensor
    xy: Tensor
    wh: Tensor
    anchor_wh: Tensor
    cls: Tensor
    target: Tensor

    def __len__(self) -> int:
        return int(self.batch.numel())


def _match(gwh: Tensor, anchors: Tensor, anchor_t: float) -> tuple[Tensor, Tensor]:
    """(target index, anchor index) pairs whose w/h ratios are all below ``anchor_t``."""
    ratio = gwh[:, None, :] / anchors[None, :, :]
    worst = torch.max(ratio, 1.0 / ratio).amax(-1)
    return torch.nonzero(worst < anchor_t, as_tuple=True)


def _cells(gxy: Tensor, size: Tensor) -> tuple[Tensor, Tensor]:
    """Candidate cells per matched target: centre cell + nearest neighbours; returns (offsets mask, offsets)."""
    frac = gxy % 1.0
    inv = size - gxy
    left, up = ((frac < NEIGHBOUR_BIAS) & (gxy > 1.0)).unbind(-1)
    right, down = (((inv % 1.0) < NEIGHBOUR_BIAS) & (inv > 1.0)).unbind(-1)
    use = torch.stack([torch.ones_like(left), left, up, right, down])  # [5, K]
    offsets = gxy.new_tensor([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]]) * NEIGHBOUR_BIAS
    return use, offsets


def assign_targets(
    targets: Tensor,
    grid_sizes: list[tuple[int, int]],
    anchors: Tensor,
    strides: Tensor,
    anchor_t: float = 4.0,
) -> list[LevelTargets]:
    """Assign targets to anchors and cells on every level.

    Args:
        targets: ``[M, 6]`` rows (batch index, class, x1, y1, x2, y2) in input pixels.
        grid_sizes: ``(H_l, W_l)`` per level.
        anchors: ``[L, A, 2]`` anchor sizes in input pixels.
        strides: ``[L]`` level strides.
        anchor_t: maximum width/height ratio between a box and an anchor.

    Returns:
        One :class:`LevelTargets` per level.
    """
    out = []
    xyxy = targets[:, 2:6]
    centre = (xyxy[:, :2] + xyxy[:, 2:]) / 2
    size_px = (xyxy[:, 2:] - xyxy[:, :2]).clamp(min=1e-6)
    for level, (h, w) in enumerate(grid_sizes):
        stride = strides[level].to(targets.dtype)
        level_anchors = anchors[level].to(targets.dtype) / stride
        t_idx, a_idx = _match(size_px / stride, level_anchors, anchor_t)
        gxy = centre[t_idx] / stride
        use, offsets = _cells(gxy, gxy.new_tensor([w, h]))
        k = use.shape[1]
        rep = torch.arange(5, device=targets.device)[:, None].expand(5, k)[use]
        t_sel, a_sel = t_idx.repeat(5, 1)[use], a_idx.repeat(5, 1)[use]
        g_sel = gxy.repeat(5, 1, 1)[use]
        cell = (g_sel - offsets[rep]).long()
        gx, gy = cell[:, 0].clamp(0, w - 1), cell[:, 1].clamp(0, h - 1)
        out.append(
            LevelTargets(
                batch=targets[t_sel, 0].long(),
                anchor=a_sel,
                gy=gy,
                gx=gx,
                xy=g_sel - torch.stack([gx, gy], 1).to(g_sel.dtype),
                wh=size_px[t_sel] / stride,
                anchor_wh=level_anchors[a_sel],
                cls=targets[t_sel, 1].long(),
                target=t_sel,
            )
        )
    return out
