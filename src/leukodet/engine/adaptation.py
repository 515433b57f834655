"""Unsupervised domain adaptation's data side: the target domain's unlabelled images for ConfMix and DACA.

ConfMix's objective (:mod:`leukodet.losses.confmix_objective`) and DACA's (:mod:`leukodet.losses.daca`) draw
``n`` target images per step from a :class:`TargetStream`, which reads the target data set (``adapt.target_data``:
its ``train`` split, else every image, labels removed), letterboxes and colour-normalises them as the run's own
images, and cycles through them in a seeded random order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, RandomSampler

from ..config import RunConfig
from ..data.dataset import DetectionDataset
from ..data.sample import Batch, collate
from ..data.stain import StainNormalizer
from ..records.diagnostics import DataError
from ..records.schema import AttributeSchema, ImageRecord
from ..records.sources import load_source

__all__ = ["TargetStream", "target_records", "target_loader"]


def target_records(source: str) -> list[ImageRecord]:
    """The target domain's training images (its ``train`` split, else every image), labels removed."""
    ds, _ = load_source(source)
    records = ds.split("train") if "train" in ds.splits else list(ds.records)
    if not records:
        raise DataError(f"{source}: the target dataset has no images")
    return [r.with_(cells=(), labeled_regions=None) for r in records]


def target_loader(
    records: list[ImageRecord], imgsz: int, batch: int, seed: int, stain: StainNormalizer | None = None
) -> DataLoader[Any]:
    """Letterboxed (and colour-normalised, with ``stain``) target images in random order, ``batch`` per step
    (the last short batch dropped when there are enough images)."""
    dataset = DetectionDataset(records, 0, AttributeSchema(), imgsz, None, stain=stain)
    gen = torch.Generator().manual_seed(seed)
    size = min(batch, len(dataset))
    return DataLoader(
        dataset,
        batch_size=size,
        sampler=RandomSampler(dataset, generator=gen),
        collate_fn=collate,
        drop_last=True,
    )


class TargetStream:
    """The unlabelled target images, ``n`` at a time, cycling through a loader (the
    :data:`leukodet.losses.objective.TargetImages` that ConfMix's and DACA's objectives draw from)."""

    def __init__(self, target: DataLoader[Any]) -> None:
        self.target = target
        self._batches: Iterator[Batch] | None = None

    @classmethod
    def from_config(cls, run: RunConfig, batch: int, stain: StainNormalizer | None = None) -> TargetStream:
        """The target loader of a run config (``batch``: source images per process; ``stain``: the run's
        colour normalisation, applied to the target images too)."""
        records = target_records(run.adapt.target_data)
        return cls(target_loader(records, run.train.imgsz, batch, run.train.seed, stain))

    def __call__(self, n: int, device: torch.device) -> Tensor:
        """``n`` letterboxed target images (cycling through the target set; repeated when it is small)."""
        images: list[Tensor] = []
        while sum(len(x) for x in images) < n:
            if self._batches is None:
                self._batches = iter(self.target)
            try:
                images.append(next(self._batches).images)
            except StopIteration:
                self._batches = None
        return torch.cat(images)[:n].to(device)
