"""Optimiser, learning-rate/momentum schedule and EMA weights for the two named recipes.

``paper`` (spec Sec. 7, the authors' YOLOv5 recipe): SGD with Nesterov momentum 0.937 in three parameter groups
(BN weights and biases without decay), linear warm-up (bias LR 0.1 → lr0, momentum 0.8 → 0.937) over
``max(3 epochs, 100 iterations)``, linear decay to ``lr0 * lrf``, nominal batch 64 by gradient accumulation.
``short`` (for runs under an hour): AdamW with a class-count-scaled LR, warm-up at most 5% of the run, linear decay.
Both schedules are functions of the run *fraction* so a time budget can stretch or shrink them.
"""

from __future__ import annotations

import math
from copy import deepcopy
from dataclasses import dataclass

import torch
from torch import nn

from ..config import TrainConfig

__all__ = [
    "RECIPES",
    "PAPER_MIN_STEPS",
    "choose_recipe",
    "recipe_warning",
    "parameter_groups",
    "build_optimizer",
    "Schedule",
    "ModelEMA",
]

RECIPES: tuple[str, ...] = ("paper", "short")


def choose_recipe(cfg: TrainConfig) -> str:
    """``auto`` picks ``short`` for a time budget under 60 minutes, else ``paper``."""
    if cfg.recipe in RECIPES:
        return cfg.recipe
    if cfg.recipe != "auto":
        raise ValueError(f"unknown recipe {cfg.recipe!r}; choose auto, paper or short")
    return "short" if cfg.time_minutes is not None and cfg.time_minutes < 60 else "paper"


PAPER_MIN_STEPS = 1000
"""Fewest optimiser steps for which ``auto`` lets the ``paper`` recipe run without a warning: its SGD schedule was
made for hundreds of epochs on thousands of fields (LLD: 300 epochs); a small data set at a nominal batch of 64
gets a few steps per epoch, and 40 such epochs stop on the steep part of the curve."""


def recipe_warning(cfg: TrainConfig, recipe: str, steps: int) -> str | None:
    """A warning when ``auto`` chose ``paper`` for a run of fewer than :data:`PAPER_MIN_STEPS` optimiser ``steps``
    (epochs x batches per epoch / gradient accumulation); ``None`` otherwise."""
    if cfg.recipe != "auto" or recipe != "paper" or steps >= PAPER_MIN_STEPS:
        return None
    return (
        f"recipe auto chose paper (SGD, nominal batch {cfg.nominal_batch}) for {steps} optimiser steps; it was made "
        f"for at least {PAPER_MIN_STEPS} and stops short here: pass --recipe short (AdamW) or --time for a short run"
    )


def parameter_groups(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter], list[nn.Parameter]]:
    """(weights with decay, normalisation weights, biases)."""
    decay, norm, bias = [], [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            if name == "bias":
                bias.append(p)
            elif isinstance(module, (nn.BatchNorm2d, nn.SyncBatchNorm, nn.GroupNorm, nn.LayerNorm)):
                norm.append(p)
            else:
                decay.append(p)
    return decay, norm, bias


def short_lr(cfg: TrainConfig, num_classes: int) -> float:
    """AdamW LR for short runs: ``short_lr0 * 5 / (4 + nc)`` (same rule the peer's auto optimiser uses)."""
    return cfg.short_lr0 * 5.0 / (4.0 + num_classes)


def build_optimizer(
    model: nn.Module, cfg: TrainConfig, recipe: str, num_classes: int, accumulate: int, lr_scale: float = 1.0
) -> torch.optim.Optimizer:
    """Three parameter groups; weight decay scaled by the effective batch (``batch * accumulate / nominal``);
    every LR times ``lr_scale`` (``train.finetune_lr`` when training starts from a trained checkpoint)."""
    decay, norm, bias = parameter_groups(model)
    wd = cfg.weight_decay * cfg.batch * accumulate / cfg.nominal_batch
    if recipe == "paper":
        lr = cfg.lr0 * lr_scale
        opt: torch.optim.Optimizer = torch.optim.SGD(bias, lr=lr, momentum=cfg.momentum, nesterov=True)
    else:
        lr = short_lr(cfg, num_classes) * lr_scale
        opt = torch.optim.AdamW(bias, lr=lr, betas=(0.9, 0.999), weight_decay=0.0)
    opt.add_param_group({"params": decay, "weight_decay": wd})
    opt.add_param_group({"params": norm, "weight_decay": 0.0})
    for group in opt.param_groups:
        group["initial_lr"], group["lr_scale"] = group["lr"], lr_scale
    return opt


@dataclass
class Schedule:
    """LR/momentum as a function of progress; call :meth:`apply` every iteration.

    Attributes:
        total_iters: planned optimiser iterations of the run (re-estimated by the time budget).
        warmup_iters: warm-up length in iterations.
        lrf: final LR fraction.
    """

    recipe: str
    total_iters: int
    warmup_iters: int
    lrf: float
    warmup_bias_lr: float
    warmup_momentum: float
    momentum: float

    @classmethod
    def create(cls, cfg: TrainConfig, recipe: str, iters_per_epoch: int, total_iters: int) -> Schedule:
        if recipe == "paper":
            warmup = max(round(cfg.warmup_epochs * iters_per_epoch), 100)
            bias_lr = cfg.warmup_bias_lr
        else:
            warmup = round(cfg.short_warmup_fraction * total_iters)
            bias_lr = 0.0
        warmup = min(warmup, max(total_iters // 2, 1))
        return cls(recipe, total_iters, warmup, cfg.lrf, bias_lr, cfg.warmup_momentum, cfg.momentum)

    def lr_factor(self, it: int) -> float:
        """Linear decay from 1 to ``lrf`` over the run."""
        frac = min(it / max(self.total_iters, 1), 1.0)
        return (1 - frac) * (1.0 - self.lrf) + self.lrf

    def apply(self, opt: torch.optim.Optimizer, it: int) -> None:
        factor = self.lr_factor(it)
        for i, group in enumerate(opt.param_groups):
            target = group["initial_lr"] * factor
            if it < self.warmup_iters:
                w = it / self.warmup_iters
                start = self.warmup_bias_lr * group.get("lr_scale", 1.0) if i == 0 else 0.0
                group["lr"] = start + (target - start) * w
                if "momentum" in group:
                    group["momentum"] = self.warmup_momentum + (self.momentum - self.warmup_momentum) * w
            else:
                group["lr"] = target
                if "momentum" in group:
                    group["momentum"] = self.momentum


class ModelEMA:
    """Exponential moving average of the weights: decay ``d * (1 - exp(-updates / tau))`` (spec Sec. 7).

    ``decay`` and ``tau`` are ceilings; :meth:`plan` shrinks both to the length of the run."""

    def __init__(
        self, model: nn.Module, decay: float = 0.9999, tau: float = 2000.0, updates: int = 0
    ) -> None:
        self.module = deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.max_decay, self.max_tau = decay, tau
        self.decay, self.tau, self.updates = decay, tau, updates

    def plan(self, total_updates: int, horizon: float) -> None:
        """Fit the averaging window to a run of ``total_updates`` optimiser steps.

        With ``horizon`` h > 0 the window is W = h * total_updates steps: the decay ceiling becomes
        ``min(decay, 1 - 1/W)`` and the ramp ``tau`` becomes ``min(tau, W)``. A long run (W >= 10,000 steps)
        keeps the YOLOv5 values (0.9999, 2000); a short CPU run gets an EMA that averages its last ~h of the
        run instead of the fixed ramp, which never got past decay 0.1-0.2 in a few hundred steps and so
        averaged nothing (issue #16). ``horizon`` 0 keeps the fixed values."""
        if horizon <= 0:
            self.decay, self.tau = self.max_decay, self.max_tau
            return
        window = max(horizon * total_updates, 1.0)
        self.decay = min(self.max_decay, 1.0 - 1.0 / window)
        self.tau = min(self.max_tau, window)

    def current_decay(self) -> float:
        return self.decay * (1 - math.exp(-self.updates / self.tau))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        self.updates += 1
        d = self.current_decay()
        source = model.state_dict()
        for name, value in self.module.state_dict().items():
            if value.dtype.is_floating_point:
                value.mul_(d).add_(source[name].detach(), alpha=1 - d)
            else:
                value.copy_(source[name])
