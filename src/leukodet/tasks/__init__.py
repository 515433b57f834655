"""The user jobs (one function each) that :mod:`leukodet.api` re-exports and the recipes (demo, pretraining)
compose: data jobs in :mod:`.data`, training jobs in :mod:`.training`, jobs that run a trained model in
:mod:`.inference`. Heavy imports (torch, the engine) happen when a job runs, so importing the API stays light."""

from .data import convert, sparsify, stats, synth
from .inference import domains, predict, report, serve, val
from .training import ablate, export, train

__all__ = [
    "stats",
    "convert",
    "sparsify",
    "synth",
    "train",
    "ablate",
    "export",
    "val",
    "predict",
    "report",
    "domains",
    "serve",
]
