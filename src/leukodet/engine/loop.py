"""One training epoch and one evaluation pass (DETR-style ``train_one_epoch`` / ``evaluate``)."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..config import EVAL_CONF, EVAL_IOU, MAX_DET, PREDICT_CONF
from ..eval.attributes import match_cells
from ..eval.detection import evaluate
from ..eval.prediction import Prediction
from ..losses.objective import Objective
from ..model.postprocess import postprocess
from ..records.schema import AttributeSchema, ImageRecord
from .attributes import attach_attributes
from .optim import ModelEMA, Schedule
from .predict import to_predictions

__all__ = ["StepState", "train_one_epoch", "predict_loader", "evaluate_model", "fitness"]


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
) -> dict[str, float]:
    """Train for one pass over ``loader``; returns the mean of each loss term. ``fraction``: the share of the
    run done before this epoch, the ``progress`` every step's objective is given."""
    model.train()
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    sums: dict[str, float] = {}
    bar = tqdm(loader, desc=desc, file=sys.stderr, disable=not progress, leave=False, dynamic_ncols=True)
    n = 0
    for batch in bar:
        batch = batch.to(device)
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


@torch.no_grad()
def predict_loader(
    model: nn.Module,
    loader: DataLoader[Any],
    class_names: Sequence[str],
    device: torch.device,
    conf: float = EVAL_CONF,
    iou: float = EVAL_IOU,
    max_det: int = MAX_DET,
    progress: bool = False,
    attribute_schema: Mapping[str, Sequence[str]] | None = None,
    records: Sequence[ImageRecord] | None = None,
) -> list[Prediction]:
    """Evaluation-protocol predictions (multi-label NMS) for every image of ``loader``, in source pixels.

    With ``attribute_schema`` detections also carry the AttriHead's calls: with ``records`` (the loader's
    ground truth, same order) only the detection each ground-truth cell is matched to (highest IoU, any
    class: the attribute metrics' matching) is run through the head, otherwise every kept detection.
    """
    model.eval()
    preds: list[Prediction] = []
    for batch in tqdm(loader, desc="val", file=sys.stderr, disable=not progress, leave=False):
        out = model(batch.images.to(device))
        dets = postprocess(out, conf, iou, max_det, multi_label=True)
        found = to_predictions(dets, batch.ratios, batch.pads, batch.orig_sizes, batch.paths, class_names)
        if attribute_schema:
            mine = None if records is None else records[len(preds) : len(preds) + len(found)]
            only = None if mine is None else [matched_detections(r, p) for r, p in zip(mine, found)]
            calls = attach_attributes(model, out.features, dets, attribute_schema, only)
            found = [replace(p, attributes=c) for p, c in zip(found, calls)]
        preds += found
    return preds


def matched_detections(record: ImageRecord, pred: Prediction) -> list[int]:
    """The detections the attribute metrics will read: each ground-truth cell's match (:func:`match_cells`)."""
    return sorted({best for best, _ in match_cells(record, pred) if best >= 0})


def fitness(metrics: dict[str, Any]) -> float:
    """Model selection score: 0.1 * mAP50 + 0.9 * mAP50-95 (spec Sec. 6), plus the mean attribute accuracy
    when the model predicts attributes."""
    score = 0.1 * float(metrics["map50"]) + 0.9 * float(metrics["map50_95"])
    mean = (metrics.get("attributes_mean") or {}).get("accuracy")
    return score + (float(mean) if mean is not None else 0.0)


def evaluate_model(
    model: nn.Module,
    loader: DataLoader[Any],
    records: Sequence[ImageRecord],
    dataset_classes: Sequence[str],
    model_classes: Sequence[str],
    device: torch.device,
    progress: bool = False,
    conf_op: float = PREDICT_CONF,
    pr_curves: bool = False,
    model_attributes: Mapping[str, Sequence[str]] | None = None,
    dataset_attributes: AttributeSchema | None = None,
    nms: tuple[float, float, int] = (EVAL_CONF, EVAL_IOU, MAX_DET),
) -> dict[str, Any]:
    """Predict ``loader`` and score it against ``records`` (same order) with :func:`~leukodet.eval.detection.evaluate`;
    attribute metrics are added when both the model and the dataset have attributes. ``nms``: the evaluation
    protocol's confidence floor, NMS IoU and detections per image (``train.val_conf``, ``val_iou``,
    ``max_det``)."""
    with_attrs = bool(model_attributes) and dataset_attributes is not None and len(dataset_attributes) > 0
    preds = predict_loader(
        model,
        loader,
        model_classes,
        device,
        *nms,
        progress=progress,
        attribute_schema=model_attributes if with_attrs else None,
        records=records,
    )
    return evaluate(
        records,
        dataset_classes,
        preds,
        conf_op=conf_op,
        pr_curves=pr_curves,
        attribute_schema=dataset_attributes if with_attrs else None,
    )
