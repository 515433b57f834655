"""Cell crops for the crop classifier (:mod:`leukodet.model.crop_classifier`): square windows around boxes, cut at
the detector's network scale with ``torchvision.ops.roi_align``, and the training set of ground-truth crops.

Training and inference cut crops the same way: the image's long side is brought to ``imgsz`` (the letterbox rule
the detector sees), each box is widened to a square of side ``max(w, h) · (1 + 2·context)`` around its centre, and
the window is resampled to ``size``×``size`` (zeros outside the image). The box's width and height at that scale
go with each crop (``sides``), so the classifier can tell a big cell from a small one after the resize.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor
from torchvision.ops import roi_align

from ..records.schema import ImageRecord
from .dataset import load_image

__all__ = ["IGNORE", "CropSet", "cut_crops", "crop_set", "square_windows"]

IGNORE = -100
"""Target of an attribute a cell has no value for (``None``): left out of the loss and the metrics."""


def square_windows(boxes: Tensor, context: float) -> Tensor:
    """``[N, 4]`` xyxy boxes → the square windows around their centres, side ``max(w, h) · (1 + 2·context)``."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).amax(dim=1).clamp(min=1.0) * (0.5 + context)
    return torch.stack([cx - half, cy - half, cx + half, cy + half], dim=1)


def cut_crops(images: Tensor, boxes: Sequence[Tensor], size: int, context: float) -> tuple[Tensor, Tensor]:
    """Crops ``[N, 3, size, size]`` of the boxes of each image of a ``[B, 3, H, W]`` batch (boxes in its pixels,
    one ``[n_b, 4]`` tensor per image, in order) and their ``[N, 2]`` widths and heights."""
    windows = [square_windows(b.float(), context).to(images.dtype) for b in boxes]
    if sum(len(w) for w in windows) == 0:
        return images.new_zeros((0, 3, size, size)), images.new_zeros((0, 2))
    crops = roi_align(images, windows, output_size=size, spatial_scale=1.0, sampling_ratio=2, aligned=True)
    sides = torch.cat([b[:, 2:] - b[:, :2] for b in boxes]).float()
    return crops, sides


@dataclass
class CropSet:
    """Ground-truth crops of a dataset split, decoded once (uint8, ``[N, 3, S, S]``) with their targets:
    ``types`` (class ids) and ``attributes`` ``[N, A]`` (value indices, :data:`IGNORE` where a cell has none)."""

    crops: Tensor
    sides: Tensor
    types: Tensor
    attributes: Tensor
    images: list[str]

    def __len__(self) -> int:
        return len(self.types)


def _network_image(record: ImageRecord, imgsz: int) -> tuple[Tensor, float]:
    """The image resized so its long side is ``imgsz`` (the detector's scale), ``[1, 3, h, w]`` in [0, 1]."""
    image = load_image(str(record.path))
    h, w = image.shape[:2]
    r = imgsz / max(h, w)
    if r != 1:
        size = (max(1, round(w * r)), max(1, round(h * r)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR)
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div_(255.0), r


def crop_set(
    records: Sequence[ImageRecord], attributes: Sequence[str], size: int, context: float, imgsz: int
) -> CropSet:
    """Every cell of ``records`` as a crop (:func:`cut_crops` at network scale ``imgsz``), with its class id and
    the value indices of the ``attributes`` named (in that order)."""
    names = list(attributes)
    crops, sides, types, attrs, images = [], [], [], [], []
    for rec in records:
        if not rec.cells:
            continue
        image, r = _network_image(rec, imgsz)
        boxes = torch.tensor([c.box for c in rec.cells], dtype=torch.float32) * r
        cut, side = cut_crops(image, [boxes], size, context)
        crops.append(cut.mul(255).round().clamp(0, 255).to(torch.uint8))
        sides.append(side)
        for cell in rec.cells:
            types.append(cell.class_id)
            attrs.append(
                [IGNORE if cell.attributes.get(n) is None else int(cell.attributes[n]) for n in names]
            )
            images.append(str(rec.path))
    if not crops:
        raise ValueError("no labelled cell to train or score the crop classifier on")
    return CropSet(
        torch.cat(crops),
        torch.cat(sides),
        torch.tensor(types, dtype=torch.long),
        torch.tensor(attrs, dtype=torch.long).reshape(len(types), len(names)),
        images,
    )
