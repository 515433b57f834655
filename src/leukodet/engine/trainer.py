"""Training run orchestration: data, model, anchors, recipe, time budget; the epoch loop and its hooks.

What follows each epoch (precise BN, validation, results, checkpoints, plots) is a list of hooks,
:mod:`.hooks`; the trainer wires the pieces and runs the loop.

The same code runs one process or many under ``torchrun`` (:mod:`.distributed`): ``--batch`` is the global
batch, split across processes; rank 0 alone validates, writes the run folder and decides the epoch plan, which
it broadcasts; every rank resumes from the same ``last.pt``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..config import RunConfig
from ..data.dataset import DetectionDataset
from ..data.multiscale import MultiScale
from ..data.patches import patch_records
from ..data.sample import collate
from ..data.stain import fit_on_records
from ..losses.build import build_objective, resolve_method
from ..losses.criterion import DetectionCriterion
from ..losses.objective import Objective, PlainObjective
from ..losses.sladet import area_min_of
from ..records.diagnostics import DataError
from .adaptation import TargetStream
from .budget import TimeBudget
from .distributed import DistContext, GlobalBatchSampler, convert_sync_batchnorm, resolve_device
from .hooks import ACTIVITY, Checkpoints, EpochEnd, Hook, brief_metrics, default_hooks, sparse_activity
from .loop import StepState, train_one_epoch
from .optim import ModelEMA, Schedule, build_optimizer, choose_recipe, recipe_warning
from .run_data import box_sizes, load_data, white_cell_median_px
from .run_dir import RunDir
from .run_model import build_run_model

__all__ = ["Trainer"]

log = logging.getLogger("leukodet.train")


class Trainer:
    """One training run. ``Trainer(cfg).fit()`` trains; ``resume=True`` continues ``cfg.out/weights/last.pt``."""

    def __init__(self, cfg: RunConfig, *, resume: bool = False, progress: bool = True) -> None:
        self.cfg, self.run = cfg, RunDir(cfg.out)
        t = cfg.train
        self.dist = DistContext.from_env()
        self.progress = progress and self.dist.is_main
        if not self.dist.is_main:  # one voice: rank 0 reports, the others only on errors
            logging.getLogger("leukodet").setLevel(logging.ERROR)
        self.budget = TimeBudget(t.time_minutes, t.epochs)
        torch.manual_seed(t.seed)
        self.device = self.dist.device_for(resolve_device(t.device))
        self.dist.init(self.device)
        self.shuffle_gen = torch.Generator()
        self.multi_scale = MultiScale(t.imgsz, t.multi_scale, t.seed) if t.multi_scale > 0 else None
        self.data = load_data(cfg.data)
        has_regions = any(r.labeled_regions is not None for r in self.data.train)
        self.sparse_method = resolve_method(cfg.sparse.method, has_regions)
        if self.sparse_method == "crop":  # the baseline trains on the labelled patches alone
            self.data.train = patch_records(self.data.train, self.run.root / "patches", t.imgsz)
        self.recipe = choose_recipe(t)
        self.model = self._build_model().to(self.device)
        if self.dist.distributed and t.sync_bn:
            convert_sync_batchnorm(self.model, self.device)
        self._build_loaders()
        self.accumulate = max(round(t.nominal_batch / t.batch), 1) if self.recipe == "paper" else 1
        fine_tune = self.from_weights and not t.freeze_detector  # a trained detector: gentler steps
        self.optimizer = build_optimizer(
            self.model,
            t,
            self.recipe,
            len(self.data.classes),
            self.accumulate,
            t.finetune_lr if fine_tune else 1.0,
        )
        self.net = self._wrap(self.model)
        self.ema = ModelEMA(self.model, t.ema_decay, t.ema_tau)
        self.criterion = self._criterion()
        self.objective = self._objective()
        self.state, self.epoch, self.best_fitness, self.rows = StepState(), 0, -1.0, []
        self.planned = t.epochs
        steps = t.epochs * math.ceil(len(self.train_loader) / self.accumulate)
        if t.time_minutes is None and (warning := recipe_warning(t, self.recipe, steps)):
            log.warning(warning)
        self.hooks: list[Hook] = default_hooks()
        if resume:
            Checkpoints.restore(self)
        elif self.data.val == []:
            log.warning("no val split: best.pt will be last.pt")

    def _build_loaders(self) -> None:
        """The stain reference, the training and validation datasets and their loaders (val on rank 0)."""
        t = self.cfg.train
        self.stain = fit_on_records(t.stain_norm, self.data.train, t.stain_fit_images, t.imgsz)
        self.train_set = DetectionDataset(
            self.data.train,
            len(self.data.classes),
            self.data.schema,
            t.imgsz,
            self.cfg.augment,
            t.cache,
            t.seed,
            self.stain,
            white_cell_median_px(self.data, t.imgsz) if self.cfg.augment.cell_px else None,
        )
        self.train_loader = self._loader(self.train_set, t.batch, self.dist, shuffle=True)
        val_set = DetectionDataset(
            self.data.val, len(self.data.classes), self.data.schema, t.imgsz, None, t.cache, stain=self.stain
        )
        has_val = bool(self.data.val) and self.dist.is_main
        self.val_loader = (
            self._loader(val_set, 2 * t.batch, DistContext(), shuffle=False) if has_val else None
        )

    def _loader(
        self, dataset: DetectionDataset, batch: int, ctx: DistContext, shuffle: bool
    ) -> DataLoader[Any]:
        """Shuffling draws from ``self.shuffle_gen``, reseeded with (seed, epoch) so a resumed run matches;
        each process loads its slice of every global batch."""
        sampler = GlobalBatchSampler(len(dataset), batch, ctx, shuffle, self.shuffle_gen)
        return DataLoader(
            dataset, batch_sampler=sampler, collate_fn=collate, num_workers=self.cfg.train.workers
        )

    def _objective(self) -> Objective:
        """The run's objective (:func:`leukodet.losses.build.build_objective`): plain, SLA-Det, ConfMix, DACA."""
        cfg, target = self.cfg, None
        if cfg.adapt.method != "none":
            if self.sparse_method != "naive":
                raise DataError(
                    f"{self.data.source}: --adapt needs a fully labelled source (no sparse method)"
                )
            target = TargetStream.from_config(
                cfg, max(cfg.train.batch // self.dist.world_size, 1), self.stain
            )
        area = area_min_of(box_sizes(self.data.train, cfg.train.imgsz))
        objective = build_objective(
            cfg,
            self.criterion,
            self.sparse_method,
            area_min=area,
            teacher=self.ema.module,
            target_images=target,
        )
        if cfg.adapt.method == "none" and not isinstance(objective, PlainObjective):
            log.info("sparse training: %s (smallest training box %.0f px²)", self.sparse_method, area)
        return objective

    def _criterion(self) -> DetectionCriterion:
        """The detection (+ attribute) criterion of this model and data."""
        across = self.dist.mean if self.dist.distributed else None
        nc, imgsz = len(self.data.classes), self.cfg.train.imgsz
        sizes, parents = self.attribute_sizes(), self.model.config.class_parents
        return DetectionCriterion(self.cfg.loss, nc, imgsz, across, self.dist.world_size, sizes, parents)

    def _wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """DistributedDataParallel over ``model`` (several processes) or the model itself."""
        if not self.dist.distributed:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def attribute_sizes(self) -> tuple[int, ...]:
        """Values per attribute of the data's schema, or ``()`` when attributes are off or absent."""
        if not self.cfg.train.attributes or not len(self.data.schema):
            return ()
        return tuple(len(a.values) for a in self.data.schema)

    def _build_model(self) -> torch.nn.Module:
        model, self.from_weights = build_run_model(self.cfg, self.data, self.attribute_sizes())
        return model

    # --- the run ---------------------------------------------------------------------------------------

    def _estimate_epoch(self) -> float:
        """Seconds per epoch from timing two forward/backward passes (before the first epoch of a budget)."""
        loss_fn = PlainObjective(self.criterion)
        batch = next(iter(self.train_loader)).to(self.device)
        self.net.train()
        start = time.monotonic()
        for _ in range(2):
            loss, _ = loss_fn(self.net, batch, 0.0)
            loss.backward()
        self.optimizer.zero_grad(set_to_none=True)
        per_iter = (time.monotonic() - start) / 2
        val_share = 1.0 + 0.5 * len(self.data.val) / max(len(self.data.train), 1)
        return per_iter * len(self.train_loader) * val_share * 1.2

    def _schedule(self) -> Schedule:
        iters = len(self.train_loader)
        return Schedule.create(self.cfg.train, self.recipe, iters, self.planned * iters)

    def fit(self) -> dict[str, Any]:
        """Train until the epoch plan or the time budget ends; returns the final summary."""
        try:
            return self._fit()
        finally:
            self.dist.close()

    def _fit(self) -> dict[str, Any]:
        if self.dist.is_main:
            self.run.root.mkdir(parents=True, exist_ok=True)
            self.run.write_config(self.cfg.to_yaml())
        if self.epoch == 0 and self.budget.minutes is not None:
            self.planned = self.dist.broadcast(self.budget.planned_epochs(0, self._estimate_epoch()))
        schedule = self._schedule()
        metrics: dict[str, Any] = {}
        while self.epoch < self.planned:
            start = time.monotonic()
            close = self.cfg.augment.close_mosaic  # once closed, mosaic stays closed under re-planning
            open_ = self.train_set.use_mosaic and self.epoch < round(self.planned * (1 - close))
            self.train_set.set_epoch(self.epoch, mosaic_on=open_)
            self.ema.plan(schedule.total_iters // self.accumulate, self.cfg.train.ema_horizon)
            self.shuffle_gen.manual_seed(self.cfg.train.seed * 100_003 + self.epoch)
            desc = f"epoch {self.epoch + 1}/{self.planned}"
            terms = train_one_epoch(
                self.net,
                self.objective,
                self.train_loader,
                self.optimizer,
                schedule,
                self.ema,
                self.state,
                self.accumulate,
                self.device,
                self.cfg.train.grad_clip,
                self.progress,
                desc,
                self.epoch / max(self.planned, 1),
                self.multi_scale,
            )
            self.epoch += 1
            end = EpochEnd(terms, start)
            for hook in self.hooks:
                if self.dist.is_main or not hook.main_only:
                    hook.after_epoch(self, end)
            metrics = end.metrics
            self.budget.record_epoch(time.monotonic() - start)
            self.planned = self.dist.broadcast(self.budget.planned_epochs(self.epoch))
            schedule.total_iters = self.planned * len(self.train_loader)
        return self.summary(metrics)

    def summary(self, metrics: dict[str, Any]) -> dict[str, Any]:
        sparse = {}
        if self.sparse_method in ACTIVITY:
            sparse = {"sparse": sparse_activity(self.rows, len(self.train_loader), self.sparse_method)}
            if "note" in sparse["sparse"]:
                log.warning("%s: %s", self.sparse_method, sparse["sparse"]["note"])
        return {
            "out": str(self.run.root),
            "epochs": self.epoch,
            "recipe": self.recipe,
            "best": str(self.run.best),
            "last": str(self.run.last),
            "seconds": round(self.budget.elapsed(), 1),
            "metrics": brief_metrics(metrics),
            **sparse,
        }
