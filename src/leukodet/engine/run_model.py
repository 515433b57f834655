"""The network a training run starts from: a preset from random weights or a checkpoint (by path or bundled name)
whose matching weights are carried over (:mod:`leukodet.model.weight_transfer`), anchors checked against the
training boxes, the detector frozen for attribute-only training."""

from __future__ import annotations

import logging
from pathlib import Path

from torch import nn

from ..bundled import bundled_models
from ..config import RunConfig
from ..model.anchors import check_anchors
from ..model.checkpoint import load_checkpoint
from ..model.fcos import fcos_name, is_fcos_config
from ..model.registry import create_model, resolve_model_name
from ..model.weight_transfer import transfer_weights
from ..records.diagnostics import DataError
from ..records.vocab import class_parents
from .run_data import DataBundle, box_size_groups

__all__ = ["build_run_model"]

log = logging.getLogger("leukodet.train")


def build_run_model(
    cfg: RunConfig, data: DataBundle, attribute_sizes: tuple[int, ...]
) -> tuple[nn.Module, bool]:
    """The run's model and whether it starts from trained weights (``cfg.model`` a checkpoint or bundled name)."""
    name, nc, t = cfg.model, len(data.classes), cfg.train
    head = {
        "attribute_sizes": attribute_sizes,
        "attribute_dropout": t.attr_dropout,
        "class_parents": class_parents(data.classes),
        **cfg.attrihead.model_fields(),
    }
    if fcos_name(name) is not None:  # engine/fcos_train.py trains FCOS (leukodet train)
        raise DataError(f"{name}: FCOS trains through `leukodet train` alone (docs/detectors.md)")
    from_weights = name.endswith(".pt") or Path(name).is_file() or name in bundled_models()
    if from_weights:
        ckpt = load_checkpoint(name)
        meta = ckpt["metadata"]
        if is_fcos_config(meta["model_config"]):
            raise DataError(f"{name}: an FCOS checkpoint; FCOS trains through `leukodet train` alone")
        model = create_model(meta["model_config"]["name"], nc, **head)
        weights = ckpt["ema"] or ckpt["model"]
        theirs = {a: meta["attributes"][a] for a in meta.get("attribute_order", [])}
        mine = data.schema.to_mapping() if model.attribute_head is not None else {}
        report = transfer_weights(model, weights, meta["classes"], data.classes, theirs, mine)
        for line in report.lines():
            log.info("from %s: %s", name, line)
        if t.freeze_detector:
            model.set_anchors(weights["anchors"])
    else:
        model = create_model(resolve_model_name(name), nc, **head)
    if t.freeze_detector:
        if model.attribute_head is None:
            raise DataError(f"{data.source}: train.freeze_detector needs attributes to train")
        model.freeze_detector()
        return model, from_weights
    sizes = box_size_groups(data.train, t.imgsz)
    anchors, bpr, changed = check_anchors(sizes, model.anchors.cpu().numpy(), cfg.loss.anchor_t, seed=t.seed)
    if changed:
        model.set_anchors(anchors)
    note = " (refitted to the training boxes)" if changed else ""
    log.info("anchors: best possible recall %.3f%s", bpr, note)
    return model, from_weights
