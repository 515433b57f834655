"""Multi-scale training: every batch resized to a random multiple of the stride around the input size.

YOLO-family detectors train at ``imgsz * U(1 - m, 1 + m)`` per batch (YOLOv5's ``--multi-scale`` draws ``m = 0.5``)
so that one set of weights sees each cell at more pyramid levels than the per-image zoom alone gives it. leukodet's
switch is ``train.multi_scale = m`` (0 = off, the paper's setting). The draw depends only on the run's seed and the
iteration, so a resumed run continues the same sequence of sizes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import torch.nn.functional as F

from .sample import Batch

__all__ = ["MultiScale"]

STRIDE = 32
"""The coarsest pyramid level's stride: every drawn size is a multiple of it."""


@dataclass(frozen=True)
class MultiScale:
    """Draws a size per iteration and resizes a batch to it (images bilinear, boxes and regions scaled)."""

    imgsz: int
    fraction: float
    seed: int = 0

    def size(self, iteration: int) -> int:
        """The iteration's square input size: ``imgsz * U(1 - fraction, 1 + fraction)`` rounded to the stride."""
        if self.fraction <= 0:
            return self.imgsz
        draw = random.Random(self.seed * 1_000_003 + iteration).uniform(1 - self.fraction, 1 + self.fraction)
        return max(STRIDE, round(self.imgsz * draw / STRIDE) * STRIDE)

    def __call__(self, batch: Batch, iteration: int) -> Batch:
        size = self.size(iteration)
        current = batch.images.shape[-1]
        if size == current:
            return batch
        f = size / current
        targets = batch.targets.clone()
        targets[:, 2:6] *= f
        return replace(
            batch,
            images=F.interpolate(batch.images, size=(size, size), mode="bilinear", align_corners=False),
            targets=targets,
            regions=[None if r is None else r * f for r in batch.regions],
        )
