"""Public API: the one entry point the CLI, the service and users' scripts call. Each function does one user job.

The jobs live in :mod:`leukodet.tasks` (data, training, inference), the recipes that compose them in
:mod:`leukodet.demo` and :mod:`leukodet.pretrain`; this module only gathers them under one name.
"""

from __future__ import annotations

from .active.propose import propose
from .demo import demo
from .domains.jobs import locate, transfer
from .infer.sharding import parse_shard
from .pretrain import pretrain
from .pretrain_general import pretrain_general
from .records.files import ensure_empty_dir
from .tasks.data import convert, sparsify, stats, synth
from .tasks.inference import domains, predict, predict_run, report, serve, val
from .tasks.training import ablate, export, train, train_attribute_recipe, train_crops, train_two_phase

__all__ = [
    "stats",
    "convert",
    "sparsify",
    "synth",
    "demo",
    "pretrain",
    "pretrain_general",
    "train",
    "train_two_phase",
    "train_attribute_recipe",
    "train_crops",
    "val",
    "predict",
    "predict_run",
    "ablate",
    "parse_shard",
    "ensure_empty_dir",
    "report",
    "serve",
    "export",
    "transfer",
    "locate",
    "domains",
    "propose",
]
