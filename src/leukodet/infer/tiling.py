"""Tiled prediction of large images: a grid of overlapping square tiles and the merge of their detections.

A field much larger than the network input (a whole 40x frame from a camera, a stitched film) loses its
cells when letterboxed down to ``imgsz``. Tiling runs the model at the image's own pixel scale instead: the
image is cut into ``tile x tile`` crops (``tile`` = the network size), each crop is detected on its own, and
the crops' boxes are shifted back to image pixels and merged. This assumes the image's pixel scale matches
the fields the model was trained on (cells about as many pixels wide as in a training field).

**Grid** (:func:`tile_grid`). Along each axis of length ``L > tile`` the tile origins are the
``n = ceil((L - tile) / (tile - overlap)) + 1`` integers ``k * (L - tile) // (n - 1)``: the first tile starts
at 0, the last ends exactly on the border, and consecutive tiles overlap by at least ``overlap`` pixels
(the spacing is even, so the overlap is spread over all seams instead of piling up at the last one). An
axis no longer than a tile has one origin, 0; the tile is padded beyond the image (grey 114, as the
letterbox pads) and that axis has no internal seam.

**Overlap** (:func:`overlap_pixels`). ``ceil(max(tile_overlap, MIN_OVERLAP) * tile)`` pixels. An object whose
side is at most the overlap lies wholly inside at least one tile (take the last tile starting at or before
the object's left edge: either it is the last tile, which reaches the border, or the next one starts after
the object's left edge, so this one extends at least ``overlap`` past it). ``MIN_OVERLAP = 0.15`` of the tile
is above the largest leukocyte in a training field (about 82 px of 640 at 100x, 0.13) plus twice
``EDGE_MARGIN``, so every cell of training size is seen complete, away from any internal seam, by some tile.
The default ``tile_overlap`` is 0.2 (128 px at 640).

**Merge** (:func:`merge_tiles`), in this order:

1. *Cut boxes.* A box is *cut* when it reaches to within ``EDGE_MARGIN`` px of an *internal* edge of its tile
   (a tile edge that is not on the image border): the cell may continue in the neighbouring tile, so the box
   may be a partial view. Boxes at the image border are not cut — nothing lies beyond them.
2. *Drop partial views.* A cut box is dropped when a box that is not cut, from another tile, covers more than
   ``COVER`` (0.6) of its area (intersection / area of the cut box): that tile saw the same cell complete.
   By the overlap rule such a complete view exists for every cell up to the overlap in size, so each cell
   cut by a seam keeps exactly its complete view. This step ignores classes (a partial view is often
   classified differently from the whole cell) and runs before NMS, so a confident partial box cannot
   suppress the complete one.
3. *Duplicates.* Class-aware NMS (``torchvision.ops.batched_nms`` at the prediction IoU) over the remaining
   boxes of all tiles removes the complete views of a cell seen whole by two or more tiles; then the
   ``max_det`` highest scores are kept.

Limits: an object larger than the overlap can be cut in every tile; its partial views then only meet NMS
(a duplicate is possible). ``val`` never tiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torchvision.ops import batched_nms

from ..config import MAX_DET, PREDICT_IOU
from ..data.transforms import PAD_VALUE
from ..model.postprocess import Detections
from .config import check_tile_overlap

__all__ = [
    "COVER",
    "EDGE_MARGIN",
    "MIN_OVERLAP",
    "crop_tile",
    "cut_boxes",
    "merge_tiles",
    "needs_tiling",
    "overlap_pixels",
    "tile_grid",
]

MIN_OVERLAP = 0.15
"""Smallest tile overlap as a fraction of the tile side (above the largest training-size leukocyte)."""

EDGE_MARGIN = 4.0
"""A box within this many pixels of an internal tile edge counts as cut by it."""

COVER = 0.6
"""A cut box is a partial view of a complete box (other tile) covering more than this fraction of it."""


def needs_tiling(width: int, height: int, size: int, tile: bool | None) -> bool:
    """Whether an image is predicted in tiles: ``tile`` if given, else when its long side exceeds ``2 * size``."""
    return bool(tile) if tile is not None else max(width, height) > 2 * size


def overlap_pixels(tile: int, tile_overlap: float) -> int:
    """Tile overlap in pixels: ``ceil(max(tile_overlap, MIN_OVERLAP) * tile)``.

    Raises:
        ValueError: ``tile_overlap`` outside ``[0, 0.5]``.
    """
    return math.ceil(max(check_tile_overlap(tile_overlap), MIN_OVERLAP) * tile)


def _axis_origins(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    span = length - tile
    n = -(-span // (tile - overlap)) + 1
    return [k * span // (n - 1) for k in range(n)]


def tile_grid(width: int, height: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """Top-left corners ``(x0, y0)`` of the tiles covering a ``width x height`` image, row by row.

    Args:
        width: image width in pixels.
        height: image height in pixels.
        tile: tile side in pixels.
        overlap: least overlap of neighbouring tiles in pixels, ``0 <= overlap < tile``.

    Returns:
        Tile origins; every tile lies inside the image along each axis longer than a tile, the last one
        ending on the border, and neighbours overlap by at least ``overlap`` px.

    Raises:
        ValueError: a non-positive size or an overlap outside ``[0, tile)``.
    """
    if width < 1 or height < 1 or tile < 1 or not 0 <= overlap < tile:
        raise ValueError(f"bad tile grid {width}x{height}, tile {tile}, overlap {overlap}")
    xs, ys = _axis_origins(width, tile, overlap), _axis_origins(height, tile, overlap)
    return [(x, y) for y in ys for x in xs]


def crop_tile(image: np.ndarray, x0: int, y0: int, tile: int) -> np.ndarray:
    """The ``tile x tile`` RGB crop at ``(x0, y0)``; parts beyond the image are padded with ``PAD_VALUE``."""
    crop = image[y0 : y0 + tile, x0 : x0 + tile]
    if crop.shape[0] == tile and crop.shape[1] == tile:
        return np.ascontiguousarray(crop)
    out = np.full((tile, tile, 3), PAD_VALUE, np.uint8)
    out[: crop.shape[0], : crop.shape[1]] = crop
    return out


def cut_boxes(
    boxes: Tensor,
    origin: tuple[int, int],
    tile: int,
    image_size: tuple[int, int],
    margin: float = EDGE_MARGIN,
) -> Tensor:
    """Which boxes of one tile reach an internal tile edge (an edge that is not on the image border).

    Args:
        boxes: ``[N, 4]`` xyxy in tile pixels.
        origin: the tile's ``(x0, y0)`` in image pixels.
        tile: tile side.
        image_size: ``(width, height)`` of the image.
        margin: distance in pixels that counts as touching.

    Returns:
        ``[N]`` bool.
    """
    (x0, y0), (w, h) = origin, image_size
    cut = torch.zeros(len(boxes), dtype=torch.bool, device=boxes.device)
    if x0 > 0:
        cut |= boxes[:, 0] <= margin
    if y0 > 0:
        cut |= boxes[:, 1] <= margin
    if x0 + tile < w:
        cut |= boxes[:, 2] >= tile - margin
    if y0 + tile < h:
        cut |= boxes[:, 3] >= tile - margin
    return cut


def _covered(boxes: Tensor, cut: Tensor, tile_ids: Tensor, cover: float, block: int = 256) -> Tensor:
    """``[N]`` bool: cut boxes covered more than ``cover`` by an uncut box of another tile (step 2)."""
    out = torch.zeros_like(cut)
    parts, whole = torch.nonzero(cut).squeeze(1), torch.nonzero(~cut).squeeze(1)
    if parts.numel() == 0 or whole.numel() == 0:
        return out
    wb, wt = boxes[whole], tile_ids[whole]
    for start in range(0, parts.numel(), block):
        idx = parts[start : start + block]
        pb = boxes[idx]
        lt = torch.maximum(pb[:, None, :2], wb[None, :, :2])
        rb = torch.minimum(pb[:, None, 2:], wb[None, :, 2:])
        inter = (rb - lt).clamp(min=0).prod(2)
        area = ((pb[:, 2] - pb[:, 0]) * (pb[:, 3] - pb[:, 1])).clamp(min=1e-9)
        hit = (inter / area[:, None] > cover) & (tile_ids[idx][:, None] != wt[None, :])
        out[idx] = hit.any(1)
    return out


def merge_tiles(
    detections: Sequence[Detections],
    origins: Sequence[tuple[int, int]],
    tile: int,
    image_size: tuple[int, int],
    iou: float = PREDICT_IOU,
    max_det: int = MAX_DET,
    cover: float = COVER,
) -> Detections:
    """Merge per-tile detections into one image's detections (rule in the module docstring).

    Args:
        detections: per tile, boxes ``[N, 4]`` xyxy in tile pixels.
        origins: per tile, its ``(x0, y0)`` in image pixels (from :func:`tile_grid`).
        tile: tile side in pixels.
        image_size: ``(width, height)`` of the image.
        iou: IoU threshold of the class-aware NMS across tiles.
        max_det: most detections kept.
        cover: fraction of a cut box that a complete box of another tile must cover to replace it.

    Returns:
        Detections in image pixels (not clipped), scores descending; ``keep_index`` indexes the
        concatenation of all tiles' detections in tile order.
    """
    if not detections or sum(len(d) for d in detections) == 0:
        return Detections.empty(detections[0].boxes.device if detections else None)
    boxes, cut, tile_ids = [], [], []
    for t, (det, origin) in enumerate(zip(detections, origins)):
        b = det.boxes.float()
        cut.append(cut_boxes(b, origin, tile, image_size))
        boxes.append(b + b.new_tensor([origin[0], origin[1], origin[0], origin[1]]))
        tile_ids.append(torch.full((len(det),), t, dtype=torch.long, device=b.device))
    all_boxes = torch.cat(boxes)
    scores = torch.cat([d.scores.float() for d in detections])
    labels = torch.cat([d.labels for d in detections])
    keep = torch.nonzero(~_covered(all_boxes, torch.cat(cut), torch.cat(tile_ids), cover)).squeeze(1)
    keep = keep[batched_nms(all_boxes[keep], scores[keep], labels[keep], iou)[:max_det]]
    return Detections(all_boxes[keep], scores[keep], labels[keep], keep)
