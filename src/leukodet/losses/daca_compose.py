"""DACA's detect → augment → compose steps on tensors (Mekhalfi, Boscaini, Poiesi, BMVC 2023).

One function per step, each testable on constructed inputs:

* :func:`region_pseudo_labels` — *detect*: the detections of the chosen region (the ``grid × grid`` cell whose
  detections are the most confident on average, :func:`leukodet.losses.confmix.region_confidence`) that score
  at least the pseudo-label threshold, clipped to the region and given in the crop's own pixels.
* :func:`flip_rows`, :func:`augmented_versions` — *augment*: ``n`` versions of the crop, version ``k``
  mirrored by :data:`FLIP_MODES` ``[k mod 4]`` (its pseudo-boxes with it) and colour-jittered
  (:func:`leukodet.losses.two_view.photometric_view`).
* :func:`source_piece`, :func:`tile_plan`, :func:`compose` — *compose*: the pieces laid out as a ``grid × grid``
  mosaic the size of a network input, each piece's boxes moved to its tile. :func:`tile_plan` says which tiles
  take the source image's own piece (``daca.source_tiles``, a leukodet variant; 0 as published).

Boxes travel as rows ``[K, 5]`` (class, x1, y1, x2, y2) in the pixels of the piece they belong to; a composite's
rows are in its own pixels. :class:`leukodet.losses.daca.DACAObjective` strings the steps into a training step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from .two_view import photometric_view

__all__ = [
    "FLIP_MODES",
    "JitterSettings",
    "augmented_versions",
    "compose",
    "flip_rows",
    "region_pseudo_labels",
    "source_piece",
    "tile_plan",
]

FLIP_MODES: tuple[str, ...] = ("none", "h", "v", "hv")
"""Mirror patterns of the crop's versions, in order: as it is, left–right, top–bottom, both (a 180° turn)."""


class JitterSettings(Protocol):
    """The augmentation fields of :class:`leukodet.comparator_config.DACAConfig`."""

    flips: bool
    brightness: float
    contrast: float
    saturation: float
    hue: float
    jitter_p: float


def _centre_inside(boxes: Tensor, cell: Tensor) -> Tensor:
    """``[K]``: whether each xyxy box's centre lies in the xyxy ``cell`` (left/top edges inclusive)."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    return (cx >= cell[0]) & (cx < cell[2]) & (cy >= cell[1]) & (cy < cell[3])


def _crop_rows(labels: Tensor, boxes: Tensor, cell: Tensor) -> Tensor:
    """Rows ``[K, 5]`` of the boxes whose centre lies in ``cell``: clipped to it, shifted to its origin; boxes
    left without area are dropped."""
    cx1, cy1, cx2, cy2 = (float(v) for v in cell.tolist())
    keep = _centre_inside(boxes, cell.to(boxes.device, boxes.dtype))
    b = boxes[keep].float()
    x = b[:, 0::2].clamp(cx1, cx2) - cx1
    y = b[:, 1::2].clamp(cy1, cy2) - cy1
    rows = torch.stack([labels[keep].float(), x[:, 0], y[:, 0], x[:, 1], y[:, 1]], 1)
    return rows[(rows[:, 3] > rows[:, 1]) & (rows[:, 4] > rows[:, 2])]


def region_pseudo_labels(
    boxes: Tensor, scores: Tensor, labels: Tensor, cell: Tensor, pl_conf: float
) -> Tensor:
    """DACA's pseudo-labels of one target image: its detections (``[N, 4]`` xyxy, scores ``[N]``, labels
    ``[N]``) whose centre lies in the chosen ``cell`` and whose score is at least ``pl_conf``, as rows
    ``[K, 5]`` in the crop's pixels (clipped to the cell)."""
    keep = scores >= pl_conf
    return _crop_rows(labels[keep], boxes[keep], cell)


def flip_rows(rows: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """Rows ``[K, 5]`` of an ``(h, w)`` piece after mirroring it by ``mode`` (one of :data:`FLIP_MODES`)."""
    if mode not in FLIP_MODES:
        raise ValueError(f"flip mode: expected one of {', '.join(FLIP_MODES)}, got {mode!r}")
    h, w = float(size[0]), float(size[1])
    out = rows.clone()
    if "h" in mode:
        out[:, 1], out[:, 3] = w - rows[:, 3], w - rows[:, 1]
    if "v" in mode:
        out[:, 2], out[:, 4] = h - rows[:, 4], h - rows[:, 2]
    return out


def _flip_image(image: Tensor, mode: str) -> Tensor:
    """A ``[3, h, w]`` piece mirrored by ``mode`` (left–right flips the last axis, top–bottom the one before)."""
    dims = [d for d, key in ((-1, "h"), (-2, "v")) if key in mode]
    return image.flip(dims) if dims else image


def augmented_versions(
    crop: Tensor,
    rows: Tensor,
    n: int,
    cfg: JitterSettings,
    generator: torch.Generator | None = None,
) -> list[tuple[Tensor, Tensor]]:
    """``n`` augmented versions of a ``[3, h, w]`` crop and its rows ``[K, 5]``: version ``k`` colour-jittered
    with its own factors (``cfg``'s strengths, each version with probability ``cfg.jitter_p``) and, with
    ``cfg.flips``, mirrored by ``FLIP_MODES[k % 4]`` (so the first four versions are all different)."""
    stack = crop.unsqueeze(0).expand(n, -1, -1, -1)
    jittered = photometric_view(
        stack, cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue, cfg.jitter_p, generator
    )
    size = (int(crop.shape[-2]), int(crop.shape[-1]))
    versions = []
    for k in range(n):
        mode = FLIP_MODES[k % len(FLIP_MODES)] if cfg.flips else "none"
        versions.append((_flip_image(jittered[k], mode), flip_rows(rows, size, mode)))
    return versions


def source_piece(image: Tensor, targets: Tensor, cell: Tensor) -> tuple[Tensor, Tensor]:
    """The source image's piece in ``cell`` (``[3, h, w]``) and its labels: the rows ``[K, ≥ 6]`` (image,
    class, xyxy, …) of this image whose centre lies in the cell, clipped and in the piece's pixels."""
    x1, y1, x2, y2 = (int(v) for v in cell.round().tolist())
    return image[:, y1:y2, x1:x2], _crop_rows(targets[:, 1], targets[:, 2:6], cell)


def tile_plan(n_tiles: int, source_tiles: int, generator: torch.Generator | None = None) -> list[bool]:
    """Which of ``n_tiles`` tiles hold a source piece (``True``): ``source_tiles`` of them, drawn at random."""
    chosen = set(torch.randperm(n_tiles, generator=generator)[:source_tiles].tolist())
    return [k in chosen for k in range(n_tiles)]


def _fit(piece: Tensor, rows: Tensor, h: int, w: int) -> tuple[Tensor, Tensor]:
    """A piece and its rows resized to ``(h, w)`` (bilinear), for tiles one pixel apart in size when the image
    side is not a multiple of the grid; pieces of the right size are returned as they are."""
    ph, pw = int(piece.shape[-2]), int(piece.shape[-1])
    if (ph, pw) == (h, w):
        return piece, rows
    resized = F.interpolate(piece[None], size=(h, w), mode="bilinear", align_corners=False)[0]
    scale = rows.new_tensor([1.0, w / max(pw, 1), h / max(ph, 1), w / max(pw, 1), h / max(ph, 1)])
    return resized, rows * scale


def compose(
    pieces: Sequence[tuple[Tensor, Tensor]], cells: Tensor, size: tuple[int, int]
) -> tuple[Tensor, Tensor]:
    """The composite ``[3, H, W]`` of ``size`` with piece ``k`` (image ``[3, h, w]``, rows ``[K, 5]`` in its
    pixels) at ``cells[k]`` (xyxy; a piece of another size is resized to its tile), and its rows ``[M, 5]``
    in the composite's pixels, tile by tile."""
    if len(pieces) != len(cells):
        raise ValueError(f"compose: {len(pieces)} pieces for {len(cells)} tiles")
    first = pieces[0][0]
    canvas = first.new_zeros((first.shape[0], size[0], size[1]))
    out = []
    for (piece, rows), cell in zip(pieces, cells.round().long().tolist()):
        x1, y1, x2, y2 = cell
        piece, rows = _fit(piece, rows, y2 - y1, x2 - x1)
        canvas[:, y1:y2, x1:x2] = piece
        out.append(rows + rows.new_tensor([0.0, x1, y1, x1, y1]))
    return canvas, torch.cat(out) if out else first.new_zeros((0, 5))
