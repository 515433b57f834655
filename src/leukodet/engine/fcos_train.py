"""Training FCOS (:mod:`leukodet.model.fcos`) as a leukodet run: ``leukodet train DATA --model fcos-n``.

:class:`FcosTrainer` is the :class:`~leukodet.engine.trainer.Trainer` with three parts swapped: the network
(:class:`~leukodet.model.fcos.FcosNet` from random weights, or an FCOS checkpoint with the same classes), the
objective (:class:`FcosObjective`, torchvision's FCOS loss) and the epoch-time estimate of a ``--time`` budget.
Everything else is the run every leukodet detector gets, so the comparison with the YOLO-style ``n`` model is of
the heads alone: the data set, region-aware augmentation (mosaic included) and letterbox, the recipe (``short``:
AdamW with the class-scaled LR, linear warm-up and decay; ``paper``: SGD), EMA weights with precise batch norm,
validation of the EMA weights each epoch with leukodet's evaluator at the evaluation protocol (``results.csv``
gets ``val/map50``, ``val/map50_95``), ``best.pt``/``last.pt`` in leukodet's checkpoint format (their
``model_config`` says ``"architecture": "fcos"``), ``--resume`` and the wall-clock budget.

Not supported (a clear error): sparse-annotation methods, domain adaptation, attributes (the AttriHead is
the YOLO-style model's; attribute columns of the data are ignored) and ``freeze_detector``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..bundled import bundled_models
from ..data.sample import Batch
from ..model.checkpoint import load_checkpoint
from ..model.fcos import FcosNet, fcos_config, fcos_name, fcos_targets, is_fcos_config
from ..records.diagnostics import DataError
from .trainer import Trainer

__all__ = ["FcosObjective", "FcosTrainer", "build_fcos_model", "is_fcos_model"]

log = logging.getLogger("leukodet.train")

TERMS: dict[str, str] = {
    "classification": "loss_cls",
    "bbox_regression": "loss_box",
    "bbox_ctrness": "loss_ctr",
}
"""torchvision's loss names → the logged terms (``results.csv``: ``train/loss_cls`` …)."""


class FcosObjective:
    """One step's FCOS loss, the paper's Eq. (2) with the centre-ness term (Eq. 3): sigmoid focal
    classification over every location + GIoU box regression and centre-ness BCE over the positive locations,
    each divided by the number of positive locations. The network's forward gives the head outputs and points;
    torchvision's ``FCOS.compute_loss`` matches points to boxes (centre sampling, the level's size range) and
    computes the terms. The :class:`~leukodet.losses.objective.Objective` protocol:
    ``(model, batch, progress) → (total, terms)``."""

    def __call__(self, model: nn.Module, batch: Batch, progress: float) -> tuple[Tensor, dict[str, Tensor]]:
        net = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        head, points, counts = model(batch.images)  # through DDP when distributed: gradients are synced
        targets = fcos_targets(batch.targets, int(batch.images.shape[0]))
        losses = net.fcos.compute_loss(targets, head, [points] * len(targets), counts)
        terms = {TERMS.get(k, k): v.detach() for k, v in losses.items()}
        return torch.stack(list(losses.values())).sum(), terms


def _checkpoint_config(name: str) -> dict[str, Any] | None:
    """The ``model_config`` of ``name`` when it is a checkpoint path or a bundled model, else ``None``."""
    if not (name.endswith(".pt") or Path(name).is_file() or name in bundled_models()):
        return None
    return dict(load_checkpoint(name)["metadata"]["model_config"])


def is_fcos_model(name: str) -> bool:
    """Whether ``--model name`` trains FCOS: an FCOS name (``fcos-n``) or an FCOS checkpoint.

    Raises:
        ValueError: a name starting with ``fcos`` that no FCOS model has.
    """
    if fcos_name(name) is not None:
        return True
    config = _checkpoint_config(name)
    return config is not None and is_fcos_config(config)


def build_fcos_model(name: str, classes: list[str]) -> tuple[FcosNet, bool]:
    """The run's :class:`FcosNet` and whether it starts from trained weights: an FCOS name gives random weights,
    an FCOS checkpoint its (EMA) weights, which needs the same class list (no transfer across lists)."""
    if fcos_name(name) is not None:
        return FcosNet(fcos_config(name, len(classes))), False
    ckpt = load_checkpoint(name)
    meta = ckpt["metadata"]
    if not is_fcos_config(meta["model_config"]):
        raise ValueError(f"{name}: not an FCOS checkpoint")
    if list(meta["classes"]) != list(classes):
        raise DataError(
            f"{name}: an FCOS checkpoint fine-tunes on its own classes only ({', '.join(meta['classes'])}); "
            f"the data has {', '.join(classes)}"
        )
    model = FcosNet.from_config(meta["model_config"])
    model.load_state_dict(ckpt["ema"] if ckpt.get("ema") is not None else ckpt["model"])
    return model, True


class FcosTrainer(Trainer):
    """The leukodet training run of an FCOS model (see the module notes)."""

    def _build_model(self) -> torch.nn.Module:
        cfg = self.cfg
        unsupported = [
            (self.sparse_method != "naive", f"sparse-annotation training ({self.sparse_method})"),
            (cfg.adapt.method != "none", f"domain adaptation ({cfg.adapt.method})"),
            (cfg.train.freeze_detector, "train.freeze_detector"),
        ]
        for bad, what in unsupported:
            if bad:
                raise DataError(
                    f"{self.data.source}: FCOS trains fully labelled data only; {what} is not supported"
                )
        if len(self.data.schema) and cfg.train.attributes:
            log.info("FCOS has no AttriHead: the data's attributes are not trained")
        model, self.from_weights = build_fcos_model(cfg.model, list(self.data.classes))
        return model

    def attribute_sizes(self) -> tuple[int, ...]:
        """FCOS predicts no attributes."""
        return ()

    def _criterion(self) -> Any:
        """No leukodet criterion: the loss is torchvision's, inside :class:`FcosObjective`."""
        return None

    def _objective(self) -> FcosObjective:
        return FcosObjective()

    def _estimate_epoch(self) -> float:
        """Seconds per epoch from timing two forward/backward passes (as the YOLO-style run estimates it)."""
        batch = next(iter(self.train_loader)).to(self.device)
        self.net.train()
        start = time.monotonic()
        for _ in range(2):
            loss, _ = self.objective(self.net, batch, 0.0)
            loss.backward()
        self.optimizer.zero_grad(set_to_none=True)
        per_iter = (time.monotonic() - start) / 2
        val_share = 1.0 + 0.5 * len(self.data.val) / max(len(self.data.train), 1)
        return per_iter * len(self.train_loader) * val_share * 1.2
