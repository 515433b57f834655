"""BatchNorm statistics that belong to the weights being evaluated ("precise BN").

A BatchNorm layer normalises with the batch's own statistics in training and with its *running* statistics in
evaluation. Those running statistics are an exponential average (momentum 0.03, the YOLOv5 convention: a
half-life of about 23 optimiser steps) of batch statistics computed with *earlier* weights. In a long run the
weights move little over 23 steps; in a short CPU run on a small data set they are one to two epochs old (BCCD:
13 steps an epoch) while AdamW still moves the weights fast, so the evaluated network normalises its features
with the statistics of another network. Measured on BCCD (seed 0, epoch 14 of 36): val mAP50 0.319 with the
running statistics, 0.615 after recomputing them for the same weights; RBC AP50 0.072 → 0.717 (see
``benchmarks/train_stability.py``).

:func:`recalibrate_batchnorm` recomputes the statistics as an exact (cumulative) average over a few training
batches passed through the weights themselves (Wu & Johnson 2021, *Rethinking "Batch" in BatchNorm*, §3:
"precise BN"). The trainer applies it to the EMA weights before every validation and checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.data import Dataset

from ..data.sample import collate

__all__ = ["recalibration_indices", "recalibrate_batchnorm"]

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm)


def recalibration_indices(n: int, batches: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """``batches`` batches of distinct sample indices drawn from ``range(n)`` by a generator seeded with
    (seed, epoch): the same images on every process and after a resume."""
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch + 7_919)
    order = torch.randperm(n, generator=gen).tolist()
    size = max(min(batch_size, n), 1)
    chunks = [order[i : i + size] for i in range(0, min(n, batches * size), size)]
    return [c for c in chunks if len(c) > 1]  # a BatchNorm batch of one image has no variance across images


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module, dataset: Dataset, batches: Sequence[Sequence[int]], device: torch.device
) -> int:
    """Replace the running mean/variance of every BatchNorm layer of ``model`` (in place) by their average
    over ``batches`` of ``dataset`` passed through ``model`` itself; weights are unchanged. Returns the number of
    images used (0: nothing changed, e.g. no batch or no BatchNorm layer).

    Every process of a multi-process run must call it with the same ``batches`` (see
    :func:`recalibration_indices`): SyncBatchNorm layers then average identical statistics, and every process
    ends with the same ones.
    """
    norms = [m for m in model.modules() if isinstance(m, _NORMS)]
    if not norms or not batches:
        return 0
    was_training = model.training
    saved = [(m.momentum, m.running_mean.clone(), m.running_var.clone()) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: the exact mean over the batches seen
    model.train()
    seen = 0
    try:
        for indices in batches:
            batch = collate([dataset[i] for i in indices])
            model(batch.images.to(device))
            seen += len(indices)
    except BaseException:
        for m, (_, mean, var) in zip(norms, saved):
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
        raise
    finally:
        for m, (momentum, _, _) in zip(norms, saved):
            m.momentum = momentum
        model.train(was_training)
    return seen
