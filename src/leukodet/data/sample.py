"""One training/evaluation sample in image space (numpy) and the batched tensors the model and losses take.

Conventions: boxes and labelled regions are absolute-pixel xyxy of the image they travel with;
``regions is None`` means the whole image is labelled, an empty ``(0, 4)`` array means nothing is labelled.
Attribute values are value indices with ``-1`` for "not applicable".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import Tensor

__all__ = ["Sample", "Batch", "collate"]


@dataclass
class Sample:
    """A decoded image with its annotation (numpy; transforms return new samples).

    Attributes:
        image: ``uint8[H, W, 3]`` RGB.
        boxes: ``float32[N, 4]`` xyxy pixels.
        labels: ``int64[N]`` class ids.
        attributes: ``int64[N, A]`` value indices, ``-1`` = not applicable.
        regions: ``float32[R, 4]`` labelled rectangles, or ``None`` = fully labelled.
        path: source image path (for reporting).
        orig_size: ``(width, height)`` of the source image.
        ratio: scale applied by the letterbox (source → network pixels); 1 before letterboxing.
        pad: ``(dx, dy)`` padding added by the letterbox.
    """

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    attributes: np.ndarray
    regions: np.ndarray | None
    path: str = ""
    orig_size: tuple[int, int] = (0, 0)
    ratio: float = 1.0
    pad: tuple[float, float] = (0.0, 0.0)
    meta: dict[str, object] = field(default_factory=dict)

    def with_(self, **changes: object) -> Sample:
        return replace(self, **changes)  # type: ignore[arg-type]

    def keep(self, mask: np.ndarray) -> Sample:
        """Keep the boxes selected by the boolean ``mask``."""
        return self.with_(boxes=self.boxes[mask], labels=self.labels[mask], attributes=self.attributes[mask])


@dataclass
class Batch:
    """Collated samples.

    Attributes:
        images: ``float32[B, 3, S, S]`` in [0, 1].
        targets: ``float32[M, 6]``: image index in batch, class id, x1, y1, x2, y2 (network pixels).
        attributes: ``int64[M, A]`` (``-1`` = not applicable).
        regions: per image ``float32[R, 4]`` network-pixel rectangles, or ``None`` = fully labelled.
        paths, orig_sizes, ratios, pads: per image, to map predictions back to source pixels.
    """

    images: Tensor
    targets: Tensor
    attributes: Tensor
    regions: list[Tensor | None]
    paths: list[str]
    orig_sizes: list[tuple[int, int]]
    ratios: list[float]
    pads: list[tuple[float, float]]

    def to(self, device: torch.device | str) -> Batch:
        return replace(
            self,
            images=self.images.to(device, non_blocking=True),
            targets=self.targets.to(device),
            attributes=self.attributes.to(device),
            regions=[None if r is None else r.to(device) for r in self.regions],
        )


def collate(samples: list[Sample]) -> Batch:
    """Stack images (HWC uint8 → BCHW float) and concatenate targets with their batch index."""
    images = torch.from_numpy(np.stack([s.image for s in samples])).permute(0, 3, 1, 2).float().div_(255.0)
    rows, attrs = [], []
    for i, s in enumerate(samples):
        n = len(s.boxes)
        rows.append(
            np.concatenate([np.full((n, 1), i, np.float32), s.labels[:, None].astype(np.float32), s.boxes], 1)
        )
        attrs.append(s.attributes)
    width = samples[0].attributes.shape[1] if samples else 0
    return Batch(
        images=images.contiguous(),
        targets=torch.from_numpy(np.concatenate(rows, 0) if rows else np.zeros((0, 6), np.float32)),
        attributes=torch.from_numpy(np.concatenate(attrs, 0) if attrs else np.zeros((0, width), np.int64)),
        regions=[
            None if s.regions is None else torch.from_numpy(s.regions.astype(np.float32)) for s in samples
        ],
        paths=[s.path for s in samples],
        orig_sizes=[s.orig_size for s in samples],
        ratios=[s.ratio for s in samples],
        pads=[s.pad for s in samples],
    )
