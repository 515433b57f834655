"""Training and scoring the crop classifier (``leukodet train-crops``; issue #23) on a dataset's ground-truth cells.

The classifier (:mod:`leukodet.model.crop_classifier`) learns every attribute and the WBC type from the crops of
the training split (:func:`leukodet.data.crops.crop_set`), with flips, quarter turns and a light colour jitter,
AdamW and a cosine schedule after a one-epoch warm-up. Each epoch is scored on the validation split; ``best.pt``
keeps the epoch with the best mean attribute accuracy (type accuracy without attributes), ``last.pt`` the
optimiser too, so ``resume`` goes on from the last finished epoch. ``results.csv`` logs every epoch.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from ..data.crops import IGNORE, CropSet, crop_set
from ..eval.attributes import attribute_scores
from ..model.attrihead import split_logits
from ..model.checkpoint import load_checkpoint, save_checkpoint
from ..model.crop_classifier import KIND, CropClassifier, CropConfig
from ..records.files import atomic_write_text
from .run_data import load_data

__all__ = [
    "CropTrainConfig",
    "crop_loss",
    "evaluate_crops",
    "predict_crops",
    "train_crop_classifier",
    "value_weights",
]

log = logging.getLogger(__name__)


@dataclass
class CropTrainConfig:
    """How the crop classifier is trained: epochs, batch, AdamW (lr, weight decay), label smoothing, the type
    loss's weight beside the attributes' mean, ``balance`` (weigh each attribute value by
    ``(n / (K · n_v))^balance`` of the training crops: 0 plain, 0.5 square-root class balance, 1 full; lifts
    rare values such as vacuoles), seed."""

    epochs: int = 30
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    type_weight: float = 1.0
    balance: float = 0.5
    seed: int = 0


def value_weights(data: CropSet, sizes: list[int], power: float) -> list[Tensor]:
    """Per attribute, the loss weight of each value: ``(n / (K · n_v))^power`` over the crops that have a value
    (a value never seen weighs 1)."""
    out = []
    for a, k in enumerate(sizes):
        col = data.attributes[:, a]
        counts = torch.bincount(col[col != IGNORE], minlength=k).float()
        w = (counts.sum() / (k * counts.clamp(min=1))).pow(power)
        out.append(torch.where(counts > 0, w, torch.ones_like(w)))
    return out


def crop_loss(
    attrs: Tensor | None, types: Tensor | None, target: tuple[Tensor, Tensor], sizes: list[int],
    cfg: CropTrainConfig, weights: list[Tensor] | None = None,
) -> Tensor:  # fmt: skip
    """Mean cross-entropy over the attributes (a cell's missing values ignored; each value weighted by
    ``weights``, :func:`value_weights`) + ``type_weight`` × the type's."""
    type_target, attr_target = target
    terms = []
    if attrs is not None:
        for a, logits in enumerate(split_logits(attrs, sizes)):
            if (attr_target[:, a] != IGNORE).any():
                w = None if weights is None else weights[a].to(logits.device)
                terms.append(F.cross_entropy(logits, attr_target[:, a], weight=w, ignore_index=IGNORE,
                                             label_smoothing=cfg.label_smoothing))  # fmt: skip
    loss = torch.stack(terms).mean() if terms else torch.zeros((), device=type_target.device)
    if types is not None:
        loss = loss + cfg.type_weight * F.cross_entropy(
            types, type_target, label_smoothing=cfg.label_smoothing
        )
    return loss


def _augment(crops: Tensor, gen: torch.Generator) -> Tensor:
    """uint8 crops → float in [0, 1], each flipped, turned by a random quarter and jittered in brightness and
    contrast (±10 %)."""
    x = crops.float().div_(255.0)
    n = len(x)
    flip = torch.rand(n, generator=gen) < 0.5
    x[flip] = x[flip].flip(3)
    turns = torch.randint(0, 4, (n,), generator=gen)
    for k in (1, 2, 3):
        x[turns == k] = torch.rot90(x[turns == k], k, dims=(2, 3))
    gain = 1 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.2
    bias = (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.2
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * gain + mean + bias * mean).clamp_(0, 1)


@torch.no_grad()
def predict_crops(
    model: CropClassifier, crops: Tensor, sides: Tensor, batch: int = 128
) -> tuple[Tensor, Tensor]:
    """Per crop (uint8 or float), the predicted value index of every attribute ``[N, A]`` and its type ``[N]``
    (-1 without a type head)."""
    model.eval()
    attrs, types = [], []
    sizes = model.config.sizes
    for i in range(0, len(crops), batch):
        x = crops[i : i + batch]
        x = x.float().div(255.0) if x.dtype == torch.uint8 else x
        a, t = model.infer(x, sides[i : i + batch])
        attrs.append(torch.stack([g.argmax(1) for g in split_logits(a, sizes)], 1) if a is not None
                     else torch.zeros((len(x), 0), dtype=torch.long))  # fmt: skip
        types.append(t.argmax(1) if t is not None else torch.full((len(x),), -1))
    return torch.cat(attrs), torch.cat(types)


def evaluate_crops(model: CropClassifier, data: CropSet) -> dict[str, Any]:
    """Per-attribute accuracy and macro-F1 on ground-truth crops, their means, and the type's accuracy and
    macro-F1 (``None`` without a type head)."""
    cfg = model.config
    attrs, types = predict_crops(model, data.crops, data.sides)
    per: dict[str, Any] = {}
    for a, (name, values) in enumerate(cfg.attributes.items()):
        keep = data.attributes[:, a] != IGNORE
        true, pred = data.attributes[keep, a].numpy(), attrs[keep, a].numpy()
        per[name] = attribute_scores(true, pred, len(values), np.ones(len(true)))
    mean = lambda key: float(np.mean([p[key] for p in per.values() if p[key] is not None])) if per else None  # noqa: E731
    out: dict[str, Any] = {"n": len(data), "attributes": per, "accuracy": mean("accuracy"),
                           "macro_f1": mean("macro_f1")}  # fmt: skip
    if cfg.classes and (types >= 0).all():
        t = attribute_scores(data.types.numpy(), types.numpy(), len(cfg.classes), np.ones(len(data)))
        out |= {"type_accuracy": t["accuracy"], "type_macro_f1": t["macro_f1"]}
    return out


def _lr_at(step: float, total: float, warmup: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine to 1 % of the peak."""
    if step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1.0, total - warmup)
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def _epoch(model: CropClassifier, opt: torch.optim.Optimizer, data: CropSet, cfg: CropTrainConfig, epoch: int,
           steps: int, device: str, progress: bool) -> float:  # fmt: skip
    """One pass over the training crops in a seeded order; returns the mean loss."""
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
    order = torch.randperm(len(data), generator=gen)
    model.train()
    losses = []
    weights = value_weights(data, model.config.sizes, cfg.balance) if cfg.balance else None
    batches = range(0, len(order), cfg.batch)
    for i, start in enumerate(
        tqdm(batches, desc=f"crops {epoch + 1}", file=sys.stderr, disable=not progress)
    ):
        idx = order[start : start + cfg.batch]
        if len(idx) < 2:
            continue  # batch norm needs two crops
        for group in opt.param_groups:
            group["lr"] = cfg.lr * _lr_at(epoch * steps + i, cfg.epochs * steps, steps)
        x = _augment(data.crops[idx], gen).to(device)
        attrs, types = model(x, data.sides[idx].to(device))
        target = (data.types[idx].to(device), data.attributes[idx].to(device))
        loss = crop_loss(attrs, types, target, model.config.sizes, cfg, weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return float(np.mean(losses)) if losses else float("nan")


def _fitness(metrics: Mapping[str, Any]) -> float:
    value = metrics.get("accuracy")
    return float(value if value is not None else metrics.get("type_accuracy") or 0.0)


def _setup(data: str, out: Path, crop: Mapping[str, Any], cfg: CropTrainConfig, device: str, resume: bool):
    """Model, optimiser, crops and the epoch to start from (``resume``: after ``last.pt``'s)."""
    bundle = load_data(data)
    ccfg = CropConfig.from_dict({**crop, "classes": bundle.classes, "attributes": bundle.schema.to_mapping()})
    torch.manual_seed(cfg.seed)
    model = CropClassifier(ccfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, best = 0, -1.0
    if resume and (out / "last.pt").is_file():
        state = load_checkpoint(out / "last.pt", map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["train_state"]["optimizer"])
        start, best = int(state["train_state"]["epoch"]), float(state["train_state"]["best"])
    sets = [crop_set(r, list(ccfg.attributes), ccfg.size, ccfg.context, ccfg.imgsz) for r in (bundle.train,
            bundle.val or bundle.train)]  # fmt: skip
    return model, opt, sets, start, best, bundle


def train_crop_classifier(
    data: str | Path, out: str | Path, crop: Mapping[str, Any] | None = None, cfg: CropTrainConfig | None = None,
    *, device: str = "cpu", resume: bool = False, progress: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Train a crop classifier on ``data``'s training cells into ``out`` (``best.pt``, ``last.pt``,
    ``results.csv``); returns ``{"epochs", "seconds", "best_epoch", "val": metrics of best.pt, "weights"}``.
    ``crop``: :class:`CropConfig` fields (arch, size, context, imgsz, size_features, type_from)."""
    cfg, out = cfg or CropTrainConfig(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model, opt, (train, val), start, best, bundle = _setup(str(data), out, crop or {}, cfg, device, resume)
    steps, rows = max(1, math.ceil(len(train) / cfg.batch)), _rows(out, start)
    began = time.monotonic() - (float(rows[-1][-1]) if rows else 0.0)  # a resumed run's clock goes on
    meta = {"kind": KIND, "crop_config": model.config.to_dict(), "train": asdict(cfg), "data": str(data),
            "cells": {"train": len(train), "val": len(val)}}  # fmt: skip
    for epoch in range(start, cfg.epochs):
        loss = _epoch(model, opt, train, cfg, epoch, steps, device, progress)
        metrics = evaluate_crops(model, val)
        rows.append([epoch + 1, round(loss, 5), metrics["accuracy"], metrics["macro_f1"],
                     metrics.get("type_accuracy"), round(time.monotonic() - began, 1)])  # fmt: skip
        if _fitness(metrics) > best:
            best = _fitness(metrics)
            save_checkpoint(out / "best.pt", model.state_dict(), {**meta, "epoch": epoch + 1, "val": metrics})
        state = {"epoch": epoch + 1, "best": best, "optimizer": opt.state_dict()}
        save_checkpoint(out / "last.pt", model.state_dict(), {**meta, "epoch": epoch + 1}, train_state=state)
        _write_rows(out / "results.csv", rows)
        log.info("crops epoch %d/%d: loss %.4f, val attribute accuracy %s", epoch + 1, cfg.epochs, loss,
                 metrics["accuracy"])  # fmt: skip
    final = load_checkpoint(out / "best.pt")["metadata"]
    return {"epochs": cfg.epochs, "seconds": round(time.monotonic() - began, 1), "best_epoch": final["epoch"],
            "val": final["val"], "weights": str(out / "best.pt"), "classes": bundle.classes}  # fmt: skip


HEADER = ["epoch", "loss", "val/attribute_accuracy", "val/attribute_macro_f1", "val/type_accuracy", "seconds"]


def _rows(out: Path, start: int) -> list[list[Any]]:
    """The ``results.csv`` rows of the epochs before ``start`` (a resumed run keeps them)."""
    path = out / "results.csv"
    if start == 0 or not path.is_file():
        return []
    with path.open() as fh:
        return [row for row in list(csv.reader(fh))[1:] if int(row[0]) <= start]


def _write_rows(path: Path, rows: list[list[Any]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())
