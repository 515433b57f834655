"""Batch prediction on Ray Data (``leukodet predict --engine ray``; issue #26).

Ray Data streams the image paths through a pool of actors, each holding one loaded model (the one inference path,
:func:`leukodet.infer.fields.predict_fields`): images are decoded and predicted in the workers, never in the
driver, on one machine (Ray started here) or on a cluster (``address``). A worker writes each image's PNG and JSON
into the output folder atomically as soon as it is predicted, exactly as the local engine does, so the outputs are
the same files. When a worker dies the pass stops and the driver starts another over the fields whose JSON is not
written yet (up to :data:`MAX_ATTEMPTS` passes; a redone field rewrites the same files whole); a rerun into the
same folder skips the finished images. The driver only counts what comes back and, at the end, writes the CSV
and the error listings (:func:`~leukodet.infer.predict_run.finish_run`). On a cluster the output folder must be
one every node can write (a shared file system).

:func:`predict_dataset` is the piece for users who build their own Ray pipelines: a Ray Dataset with a ``path``
column in, a Ray Dataset of predictions out.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .config import InferConfig
from .outputs import output_names, prediction_json, write_image_outputs
from .predict_run import finish_run, pending

__all__ = ["RAY_INSTALL", "RayOptions", "import_ray", "predict_dataset", "predict_to_folder_ray"]

log = logging.getLogger(__name__)

RAY_INSTALL = "--engine ray needs Ray: pip install 'leukodet[ray]'"

MAX_ATTEMPTS = 3
"""Passes over the fields not written yet when workers die (each pass starts a fresh pool of workers)."""


def import_ray() -> Any:
    """The ``ray`` module, or a one-line ``ValueError`` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ValueError(RAY_INSTALL) from None
    return ray


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run: ``address`` of a cluster (``None``: start Ray on this machine), ``workers``
    (model-holding actors), CPUs and GPUs each."""

    address: str | None = None
    workers: int = 2
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0

    def __post_init__(self) -> None:
        if self.workers < 1 or self.cpus_per_worker <= 0 or self.gpus_per_worker < 0:
            raise ValueError(
                f"--workers must be >= 1 and --cpus-per-worker > 0, --gpus-per-worker >= 0 (got {self.workers}, "
                f"{self.cpus_per_worker}, {self.gpus_per_worker})"
            )


class FieldPredictor:
    """The Ray Data actor: loads the model once, then predicts batches of rows (``k``, ``path``, ``name``) and,
    with an output folder, writes each field's PNG and JSON there."""

    def __init__(
        self,
        weights: str,
        backend: str,
        device: str,
        cfg: InferConfig,
        threads: int,
        out: str | None = None,
        model_name: str = "",
        annotate: bool = True,
        with_prediction: bool = True,
        crop_model: str | None = None,
    ) -> None:
        import torch

        from .backends import load_detector

        torch.set_num_threads(max(int(threads), 1))
        self.det = load_detector(weights, backend, device, crop_model)
        self.cfg, self.out, self.model, self.annotate = cfg, Path(out) if out else None, model_name, annotate
        self.with_prediction = with_prediction

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from .fields import predict_fields

        paths = [str(p) for p in batch["path"]]
        names = [str(n) for n in batch["name"]] if "name" in batch else [Path(p).stem for p in paths]
        _fault_injection(names)
        cells, reasons, docs = [], [], []
        for name, field in zip(names, predict_fields(self.det, paths, self.cfg)):
            if field.prediction is None:
                cells.append(-1)
                reasons.append(field.reason)
                docs.append("")
                continue
            if self.out is not None:
                write_image_outputs(self.out, field, name, self.model, self.annotate)
            cells.append(len(field.prediction))
            reasons.append("")
            docs.append(
                json.dumps(prediction_json(field.prediction, self.model)) if self.with_prediction else ""
            )
        out = {"path": np.array(paths, dtype=object), "cells": np.array(cells, dtype=np.int64)}
        out |= {"error": np.array(reasons, dtype=object), "prediction": np.array(docs, dtype=object)}
        if "k" in batch:
            out["k"] = np.asarray(batch["k"])
        return out


def _fault_injection(names: list[str]) -> None:
    """Tests only: when ``$LEUKODET_RAY_KILL_ONCE`` names an existing file whose text is one of this batch's
    image names, delete the file and kill this worker process (a crash mid-run, once)."""
    import os

    marker = os.environ.get("LEUKODET_RAY_KILL_ONCE")
    if marker and os.path.isfile(marker):
        with open(marker) as fh:
            victim = fh.read().strip()
        if victim in names:
            os.remove(marker)
            os._exit(1)


def predict_dataset(
    ds: Any,
    weights: str | Path,
    *,
    cfg: InferConfig | None = None,
    backend: str = "torch",
    device: str = "cpu",
    options: RayOptions | None = None,
    out: Path | None = None,
    model_name: str | None = None,
    annotate: bool = True,
    with_prediction: bool = True,
    crop_model: str | Path | None = None,
) -> Any:
    """Predict the images of a Ray Dataset with a ``path`` column (and optionally ``name`` for output names);
    returns a Ray Dataset with ``path``, ``cells`` (-1 for an unreadable image), ``error`` and ``prediction``
    (the per-image JSON document as text: image, size, model, cells with box, class, score, attributes). With
    ``out`` every image's PNG (``annotate``) and JSON are also written there (``with_prediction=False`` then
    leaves the ``prediction`` column empty, sparing the JSON's second trip through Ray's object store). Lazy, like every Ray Dataset:
    nothing runs until it is consumed.

    Example::

        import ray
        from leukodet.infer.ray_engine import predict_dataset

        paths = ray.data.from_items([{"path": p} for p in my_fields])
        for row in predict_dataset(paths, "general-n").iter_rows():
            print(row["path"], row["cells"])
    """
    opts = options or RayOptions()
    cfg = cfg or InferConfig(backend=backend)
    if opts.gpus_per_worker and device == "cpu":
        device = "cuda"  # Ray gives each worker its GPU(s) as CUDA_VISIBLE_DEVICES: cuda:0 is the worker's
    kwargs = {
        "weights": str(weights), "backend": backend, "device": device, "cfg": cfg,
        "threads": int(opts.cpus_per_worker), "out": str(out) if out else None, "model_name": model_name or Path(str(weights)).name,
        "annotate": annotate, "with_prediction": with_prediction,
        "crop_model": str(crop_model) if crop_model else None,
    }  # fmt: skip
    gpus = {"num_gpus": opts.gpus_per_worker} if opts.gpus_per_worker else {}
    with warnings.catch_warnings():  # Ray 2.60 has no named parameter for max_restarts yet; it warns of one
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        return ds.map_batches(
            FieldPredictor,
            fn_constructor_kwargs=kwargs,
            batch_size=cfg.batch,
            concurrency=opts.workers,
            num_cpus=opts.cpus_per_worker,
            batch_format="numpy",
            max_restarts=0,  # a dead worker fails the pass at once; the driver redoes what is not written
            **gpus,
        )


def _start(ray: Any, opts: RayOptions) -> float:
    """Start (or join) Ray; returns the seconds it took."""
    start = time.monotonic()
    if not ray.is_initialized():
        local = {} if opts.address else {"num_cpus": int(np.ceil(opts.workers * opts.cpus_per_worker)) + 1}
        ray.init(address=opts.address, include_dashboard=False, log_to_driver=False, **local)
        ray.data.DataContext.get_current().enable_progress_bars = False
    return round(time.monotonic() - start, 2)


def predict_to_folder_ray(
    weights: str | Path,
    paths: Sequence[Path],
    out: Path,
    model_name: str,
    *,
    cfg: InferConfig,
    device: str = "cpu",
    options: RayOptions | None = None,
    resume: bool = True,
    annotate: bool = True,
    progress: bool = False,
    crop_model: str | Path | None = None,
) -> dict[str, Any]:
    """:func:`~leukodet.infer.predict_run.predict_to_folder` on Ray: the same outputs, resume rule and summary
    (plus ``engine``, ``workers``, ``startup_seconds``, ``seconds``); ``crop_model`` as in
    :func:`~leukodet.infer.backends.load_detector`."""
    ray, opts = import_ray(), options or RayOptions()
    out.mkdir(parents=True, exist_ok=True)
    names = output_names(paths)
    mine = list(range(len(paths)))
    todo = pending(out, names, mine, resume)
    startup = _start(ray, opts)
    began, bad, cells = time.monotonic(), {}, {}
    job = {"cfg": cfg, "backend": cfg.backend, "device": device, "options": opts, "out": out,
           "model_name": model_name, "annotate": annotate, "with_prediction": False, "crop_model": crop_model}  # fmt: skip
    bar = tqdm(total=len(todo), desc="predict (ray)", unit="field", file=sys.stderr, disable=not progress)
    with bar:
        left = list(todo)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                _stream(ray, left, paths, names, weights, job, bad, cells, bar, began, len(todo))
                break
            except ray.exceptions.RayError as exc:  # a worker died: redo what is not written yet
                left = [k for k in pending(out, names, left, True) if k not in bad]
                if attempt == MAX_ATTEMPTS or not left:
                    raise
                log.warning("ray: %s; attempt %d redoes the %d fields not written yet", type(exc).__name__,
                            attempt + 1, len(left))  # fmt: skip
    result = finish_run(out, paths, names, mine, todo, bad, sum(cells.values()))
    seconds = round(time.monotonic() - began, 2)
    return result | {"engine": "ray", "workers": opts.workers, "startup_seconds": startup, "seconds": seconds}


def _stream(
    ray: Any, todo: list[int], paths: Sequence[Path], names: Sequence[str], weights: str | Path,
    job: dict[str, Any], bad: dict[int, str], cells: dict[int, int], bar: Any, began: float, total: int,
) -> None:  # fmt: skip
    """One pass of Ray Data over ``todo`` (``job``: :func:`predict_dataset`'s options): counts each field's cells
    (or its error) as its row comes back."""
    rows = [{"k": k, "path": str(paths[k]), "name": names[k]} for k in todo]
    ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 4 * job["options"].workers)))
    found = predict_dataset(ds, weights, **job)
    every = max(1, total // 10)  # without a bar: a log line per tenth of the fields
    for row in found.iter_rows():
        k = int(row["k"])
        if int(row["cells"]) < 0:
            bad[k] = str(row["error"])
            log.warning("%s: unreadable image skipped (%s)", row["path"], row["error"])
        else:
            cells[k] = int(row["cells"])
        bar.update(1)
        done = len(bad) + len(cells)
        if bar.disable and (done % every == 0 or done == total):
            rate = 60 * done / max(time.monotonic() - began, 1e-9)
            log.info("ray: %d of %d fields, %.1f fields/min", done, total, rate)
