"""The end of a training epoch as hooks run in order (the callbacks of Detectron2 and ultralytics).

The trainer trains; what follows each epoch is one :class:`Hook` each: precise BatchNorm statistics for the EMA
weights, validation, the results log, checkpoints and plots. A benchmark or a user adds a step (a diagnostic
validation of the raw weights, an extra log) by inserting a hook into ``Trainer.hooks``, never by patching the
trainer. Hooks marked ``main_only`` run on rank 0 alone under ``torchrun``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from .._version import __version__
from ..data.dataset import PlainView
from ..infer.config import InferConfig
from ..infer.evaluate import evaluate_detector
from ..infer.predictor import Detector
from ..model.checkpoint import load_checkpoint, save_checkpoint
from ..records.diagnostics import DataError
from ..records.roles import known_roles
from .batchnorm import recalibrate_batchnorm, recalibration_indices
from .loop import StepState, fitness

Trainer = Any
"""A :class:`leukodet.engine.trainer.Trainer` (not imported: the trainer imports this module)."""

__all__ = [
    "ACTIVITY",
    "Checkpoints",
    "EpochEnd",
    "Hook",
    "Plots",
    "PreciseBatchNorm",
    "ResultsLog",
    "Validate",
    "default_hooks",
    "run_metadata",
    "sparse_activity",
]

log = logging.getLogger("leukodet.train")


@dataclass
class EpochEnd:
    """What the hooks of one finished epoch share.

    Attributes:
        terms: the epoch's mean training loss terms.
        started: ``time.monotonic()`` when the epoch began.
        metrics: the validation figures (set by :class:`Validate`; empty when the epoch is not validated).
    """

    terms: dict[str, float]
    started: float
    metrics: dict[str, Any] = field(default_factory=dict)


class Hook:
    """One step after every epoch; ``trainer.epoch`` already counts the finished epoch."""

    main_only: bool = False

    def after_epoch(self, trainer: Trainer, end: EpochEnd) -> None:
        """Act on the finished epoch."""


class PreciseBatchNorm(Hook):
    """BatchNorm statistics of the EMA weights themselves (what is validated, saved and used as a teacher)."""

    @staticmethod
    def batches(trainer: Trainer) -> list[list[int]]:
        """The finished epoch's recalibration batches (indices into the training set)."""
        t = trainer.cfg.train
        return recalibration_indices(
            len(trainer.train_set), t.bn_recalibration, t.batch, t.seed, trainer.epoch - 1
        )

    @staticmethod
    def images(trainer: Trainer, view: str) -> Any:
        """The training set as ``train.bn_recalibration_images`` names it: ``augmented`` or ``plain``."""
        return PlainView(trainer.train_set) if view == "plain" else trainer.train_set

    def after_epoch(self, trainer: Trainer, end: EpochEnd) -> None:
        images = self.images(trainer, trainer.cfg.train.bn_recalibration_images)
        recalibrate_batchnorm(trainer.ema.module, images, self.batches(trainer), trainer.device)


class Validate(Hook):
    """The EMA weights on the val split at the evaluation protocol (``train.val_conf``, ``val_iou``,
    ``max_det``), every ``train.eval_every``-th epoch and the last one."""

    def after_epoch(self, trainer: Trainer, end: EpochEnd) -> None:
        t, schema = trainer.cfg.train, trainer.data.schema
        due = trainer.epoch % t.eval_every == 0 or trainer.epoch >= trainer.planned
        if not due or trainer.val_loader is None:
            return
        head = schema.to_mapping() if trainer.model.attribute_head is not None else None
        det = Detector.of_network(trainer.ema.module, trainer.data.classes, t.imgsz, head, trainer.device)
        end.metrics = evaluate_detector(
            det,
            trainer.val_loader,
            trainer.data.val,
            trainer.data.classes,
            cfg=InferConfig.protocol(t.val_conf, t.val_iou, t.max_det),
            pr_curves=True,
            dataset_attributes=schema,
            progress=trainer.progress,
        )


class ResultsLog(Hook):
    """A row of ``results.csv`` (losses, validation figures, fitness, LR, seconds) and a log line."""

    main_only = True

    def after_epoch(self, trainer: Trainer, end: EpochEnd) -> None:
        m = end.metrics
        row: dict[str, Any] = {"epoch": trainer.epoch, **{f"train/{k}": v for k, v in end.terms.items()}}
        if m:
            row.update({"val/map50": m["map50"], "val/map50_95": m["map50_95"]})
            mean = m.get("attributes_mean") or {}
            if mean:
                row.update({"val/attr_accuracy": mean["accuracy"], "val/attr_macro_f1": mean["macro_f1"]})
            row["fitness"] = fitness(m)
        seconds = time.monotonic() - end.started
        row.update({"lr": trainer.optimizer.param_groups[1]["lr"], "seconds": seconds})
        trainer.rows.append(row)
        trainer.run.write_results(trainer.rows)
        brief = {k: round(v, 4) for k, v in row.items() if isinstance(v, float)}
        log.info("epoch %d/%d: %s", trainer.epoch, trainer.planned, brief)


class Checkpoints(Hook):
    """``last.pt`` (with the training state a resume needs) every epoch; ``best.pt`` when validation fitness
    improves, or every epoch without a val split."""

    main_only = True

    def after_epoch(self, trainer: Trainer, end: EpochEnd) -> None:
        fit = fitness(end.metrics) if end.metrics else 0.0
        best = fit > trainer.best_fitness if end.metrics else trainer.val_loader is None
        if end.metrics:
            trainer.best_fitness = max(trainer.best_fitness, fit)
        meta = run_metadata(trainer, brief_metrics(end.metrics))
        model, ema = trainer.model.state_dict(), trainer.ema.module.state_dict()
        save_checkpoint(trainer.run.last, model, meta, ema, self.train_state(trainer))
        if best:
            save_checkpoint(trainer.run.best, model, meta, ema)

    @staticmethod
    def train_state(trainer: Trainer) -> dict[str, Any]:
        """Everything beyond the weights that a resumed run needs to continue identically."""
        return {
            "epoch": trainer.epoch,
            "planned": trainer.planned,
            "optimizer": trainer.optimizer.state_dict(),
            "ema_updates": trainer.ema.updates,
            "iteration": trainer.state.iteration,
            "last_step": trainer.state.last_step,
            "best_fitness": trainer.best_fitness,
            "elapsed": trainer.budget.elapsed(),
            "epoch_costs": list(trainer.budget.epoch_costs),
            "torch_rng": torch.get_rng_state(),
        }

    @staticmethod
    def restore(trainer: Trainer) -> None:
        """Continue ``trainer`` from its run folder's ``last.pt``."""
        ckpt = load_checkpoint(trainer.run.last)
        st = ckpt.get("train_state")
        if not st:
            raise DataError(f"{trainer.run.last}: has no training state to resume from")
        trainer.model.load_state_dict(ckpt["model"])
        trainer.ema.module.load_state_dict(ckpt["ema"])
        trainer.ema.updates = int(st["ema_updates"])
        trainer.optimizer.load_state_dict(st["optimizer"])
        trainer.epoch, trainer.planned = int(st["epoch"]), int(st["planned"])
        trainer.state = StepState(int(st["iteration"]), int(st["last_step"]))
        trainer.best_fitness = float(st["best_fitness"])
        trainer.budget.elapsed_before = float(st["elapsed"])
        trainer.budget.epoch_costs = [float(c) for c in st["epoch_costs"]]
        torch.set_rng_state(st["torch_rng"])
        trainer.rows = trainer.run.read_results()[: trainer.epoch]


class Plots(Hook):
    """Loss and mAP curves and the PR curve (``train.plots``); a failing plot is warned about, never fatal."""

    main_only = True

    def after_epoch(self, trainer: Trainer, end: EpochEnd) -> None:
        if not trainer.cfg.train.plots:
            return
        try:
            trainer.run.write_plots(trainer.rows, end.metrics.get("yolov5", {}).get("pr_curve"))
        except Exception as exc:  # plots are a convenience: never lose a run over one
            log.warning("could not write plots: %s", exc)


def default_hooks() -> list[Hook]:
    """The epoch end of every run, in order."""
    return [PreciseBatchNorm(), Validate(), ResultsLog(), Checkpoints(), Plots()]


def brief_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The validation figures a checkpoint and the run summary keep."""
    keys = ("map50", "map50_95", "per_class", "classes_missing", "attributes", "attributes_mean")
    return {k: metrics[k] for k in keys if k in metrics}


ACTIVITY: dict[str, tuple[tuple[str, str], ...]] = {
    "region+pl": (("train/n_pseudo", "pseudo_labels"), ("train/n_candidates", "triplet_candidates")),
    "sladet": (("train/n_pseudo", "pseudo_labels"), ("train/n_candidates", "triplet_candidates")),
    "sparsedet": (("train/n_mined", "pseudo_positives"),),
    "comining": (("train/n_cogen", "cogenerated_labels"),),
}
"""Per sparse method that labels the unlabelled area itself: its per-batch counts in the results rows and
the summary names they get (``<name>_per_epoch``)."""


def sparse_activity(rows: list[dict[str, Any]], iters: int, method: str) -> dict[str, Any]:
    """Pseudo-labels accepted and triplet candidates per epoch (``None`` before pseudo-labelling starts) from
    the results rows (per-batch means × ``iters`` batches), with a ``note`` when a method that uses them never
    had one: such a run trained the same loss as ``region``. SparseDet reports its pseudo-positives, Co-mining
    its co-generated labels (:data:`ACTIVITY`), with a note when there never was one."""
    out: dict[str, Any] = {}
    for key, name in ACTIVITY.get(method, ACTIVITY["sladet"]):
        out[f"{name}_per_epoch"] = [
            round(float(r[key]) * iters) if r.get(key) not in (None, "") else None for r in rows
        ]
    notes = []
    if method in ("sparsedet", "comining"):
        ran = [n for n in out[f"{ACTIVITY[method][0][1]}_per_epoch"] if n is not None]
        what = "pseudo-positive mining" if method == "sparsedet" else "co-generation"
        if not any(ran):
            when = "never ran (every epoch was burn-in)" if not ran else "found nothing in any epoch"
            notes.append(f"{what} {when}: the run trained on the ground truth alone")
    ran = [n for n in out.get("pseudo_labels_per_epoch", []) if n is not None]
    if method in ("region+pl", "sladet") and not ran:
        notes.append("pseudo-labelling never ran (every epoch was burn-in)")
    elif method in ("region+pl", "sladet") and not any(ran):
        notes.append("no pseudo-label was accepted in any epoch: the pseudo-label term never trained")
    if method == "sladet" and ran and not any(n for n in out["triplet_candidates_per_epoch"] if n):
        notes.append("no triplet candidate in any epoch: the triplet term never trained")
    if notes:
        out["note"] = "; ".join(notes)
    return out


def run_metadata(trainer: Trainer, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The checkpoint metadata of ``trainer``'s run (classes, roles, attributes, model, data, config)."""
    data, head = trainer.data, trainer.model.attribute_head is not None
    return {
        "leukodet": __version__,
        "classes": data.classes,
        "class_roles": known_roles(data.classes, data.roles),
        "attributes": data.schema.to_mapping() if head else {},
        # the metadata JSON is written with sorted keys: the head's logit groups follow this order
        "attribute_order": list(data.schema.names) if head else [],
        "model_config": trainer.model.config.to_dict(),
        "imgsz": trainer.cfg.train.imgsz,
        "recipe": trainer.recipe,
        "sparse_method": trainer.sparse_method,
        "stain_norm": trainer.stain.to_dict(),
        "config": trainer.cfg.to_dict(),
        "data": {
            "source": data.source,
            "train_images": len(data.train),
            "train_boxes": sum(len(r.cells) for r in data.train),
            "val_images": len(data.val),
            "domains": sorted({r.domain.name for r in data.train if not r.domain.is_empty()}),
        },
        "epoch": trainer.epoch,
        "metrics": metrics or {},
    }
