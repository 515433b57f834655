"""One training epoch (DETR-style ``train_one_epoch``) and the model-selection score of a validation."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..data.multiscale import MultiScale
from ..losses.objective import Objective
from .optim import ModelEMA, Schedule

__all__ = ["StepState", "train_one_epoch", "fitness"]


@dataclass
class StepState:
    """Iteration counters carried across epochs (and saved for resume)."""

    iteration: int = 0
    last_step: int = -1


def train_one_epoch(
    model: nn.Module,
    objective: Objective,
    loader: DataLoader[Any],
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    ema: ModelEMA,
    state: StepState,
    accumulate: int,
    device: torch.device,
    grad_clip: float = 10.0,
    progress: bool = True,
    desc: str = "train",
    fraction: float = 0.0,
    multi_scale: MultiScale | None = None,
) -> dict[str, float]:
    """Train for one pass over ``loader``; returns the mean of each loss term. ``fraction``: the share of the
    run done before this epoch, the ``progress`` every step's objective is given; ``multi_scale``: resizes each
    batch to its iteration's size (``train.multi_scale``)."""
    model.train()
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    sums: dict[str, float] = {}
    bar = tqdm(loader, desc=desc, file=sys.stderr, disable=not progress, leave=False, dynamic_ncols=True)
    n = 0
    for batch in bar:
        batch = batch.to(device)
        if multi_scale is not None:
            batch = multi_scale(batch, state.iteration)
        schedule.apply(optimizer, state.iteration)
        with torch.autocast(device.type, enabled=use_amp):
            loss, terms = objective(model, batch, fraction)
        if not math.isfinite(float(loss.detach())):
            raise FloatingPointError(
                f"loss became {float(loss.detach())} at iteration {state.iteration}; lower the LR"
            )
        scaler.scale(loss).backward()
        if state.iteration - state.last_step >= accumulate:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            ema.update(model)
            state.last_step = state.iteration
        state.iteration += 1
        n += 1
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v)
        bar.set_postfix({k.removeprefix("loss_"): f"{v / n:.3f}" for k, v in sums.items()})
    return {k: v / max(n, 1) for k, v in sums.items()}


def fitness(metrics: dict[str, Any]) -> float:
    """Model selection score: 0.1 * mAP50 + 0.9 * mAP50-95 (spec Sec. 6), plus the mean attribute accuracy
    when the model predicts attributes."""
    score = 0.1 * float(metrics["map50"]) + 0.9 * float(metrics["map50_95"])
    mean = (metrics.get("attributes_mean") or {}).get("accuracy")
    return score + (float(mean) if mean is not None else 0.0)
