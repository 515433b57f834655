"""Public API: the one entry point the CLI (and later the service) call. Each function does one user job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from .records.diagnostics import DataError, Diagnostics
from .records.images import decodable_records
from .records.io import write_dataset
from .records.sources import load_source
from .records.sparsify import sparsify_dataset
from .records.stats import dataset_stats

__all__ = [
    "stats",
    "convert",
    "sparsify",
    "synth",
    "demo",
    "pretrain",
    "pretrain_general",
    "train",
    "val",
    "predict",
    "ablate",
    "parse_shard",
    "ensure_empty_dir",
    "report",
    "serve",
    "export",
    "transfer",
    "locate",
    "domains",
]


def ensure_empty_dir(path: Path, overwrite: bool) -> None:
    """Refuse to write into a non-empty folder unless ``overwrite`` (nothing already written is lost)."""
    if path.exists() and not path.is_dir():
        raise DataError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise DataError(f"{path}: folder is not empty (pass --overwrite to write into it)")


def stats(source: str | Path, *, strict: bool = False, progress: bool = False) -> dict[str, Any]:
    """Statistics of any supported source (the ``stats --json`` object); every image is decoded, so an unreadable
    one is named here (and fatal with ``strict``) before training meets it."""
    ds, diag = load_source(source, Diagnostics(strict=strict, progress=progress))
    return dataset_stats(replace(ds, records=decodable_records(ds.records, diag)), diag)


def convert(
    source: str | Path,
    dest: str | Path,
    to: str,
    *,
    allow_loss: bool = False,
    strict: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Convert ``source`` to format ``to`` under ``dest``; returns ``dest/data.yaml``."""
    dest = Path(dest)
    ensure_empty_dir(dest, overwrite)
    ds, diag = load_source(source, Diagnostics(strict=strict, progress=progress))
    ds = replace(ds, records=decodable_records(ds.records, diag))  # an unreadable image is named, not copied
    return write_dataset(ds, dest, to, allow_loss=allow_loss)


def sparsify(
    source: str | Path,
    out: str | Path,
    *,
    fraction: float,
    seed: int,
    mode: str = "region",
    split: str = "train",
    strict: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write a sparse version of ``source`` (its ``split`` sparsified, written as COCO with labelled regions)."""
    out = Path(out)
    ensure_empty_dir(out, overwrite)
    ds, _ = load_source(source, Diagnostics(strict=strict, progress=progress))
    try:
        sparse = sparsify_dataset(ds, fraction, seed, mode, split)
    except ValueError as exc:
        raise DataError(f"{source}: {exc}") from None
    return write_dataset(sparse, out, "coco")


def synth(
    out: str | Path,
    *,
    images: int,
    seed: int,
    sparse: float | None = None,
    domain: str = "HCM_100x_C2",
    label_rbc: bool = False,
    wbc_parent: bool = False,
    masks: bool = False,
    fmt: str = "coco",
    size: int = 640,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Generate a synthetic LLD-style dataset (see :mod:`leukodet.synth`); returns ``out/data.yaml``."""
    from .synth.generate import generate_dataset

    out = Path(out)
    ensure_empty_dir(out, overwrite)
    return generate_dataset(
        out,
        images,
        seed,
        sparse=sparse,
        domain=domain,
        label_rbc=label_rbc,
        wbc_parent=wbc_parent,
        masks=masks,
        fmt=fmt,
        size=size,
        progress=progress,
    )


def train(
    data: str | Path,
    *,
    model: str = "n",
    epochs: int = 100,
    imgsz: int = 640,
    batch: int = 16,
    out: str | Path = "runs/train",
    time: float | None = None,
    device: str = "cpu",
    workers: int = 0,
    seed: int = 0,
    recipe: str = "auto",
    resume: bool = False,
    overrides: list[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a detector; ``out`` is the run folder itself. Returns the run summary.

    ``time`` (minutes) bounds the whole run and makes ``epochs`` an upper bound. ``resume`` continues
    ``out/weights/last.pt`` with the run's own ``config.yaml``.
    """
    from .config import apply_overrides, load_config
    from .engine.run_dir import ensure_new_run, resume_config
    from .engine.trainer import Trainer

    if resume:
        cfg = resume_config(Path(out), overrides)
    else:
        cfg = apply_overrides(
            load_config(None, overrides),
            {
                "data": str(data),
                "model": str(model),
                "out": str(out),
                "train.epochs": epochs,
                "train.imgsz": imgsz,
                "train.batch": batch,
                "train.time_minutes": time,
                "train.device": device,
                "train.workers": workers,
                "train.seed": seed,
                "train.recipe": recipe,
            },
        )
        ensure_new_run(Path(out))
    return Trainer(cfg, resume=resume, progress=progress).fit()


def val(
    weights: str | Path,
    data: str | Path,
    *,
    split: str = "val",
    imgsz: int | None = None,
    batch: int = 8,
    conf_op: float = 0.25,
    device: str = "cpu",
    json_out: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate a checkpoint on a dataset split (COCO + YOLOv5-style figures, operating point)."""
    import json

    from .engine.predict import Detector
    from .engine.validate import evaluate_records, load_split
    from .records.files import atomic_write_text

    det = Detector.load(weights, device)
    ds, records = load_split(data, split)
    metrics = evaluate_records(det, records, ds, imgsz=imgsz, batch=batch, conf_op=conf_op, progress=progress)
    metrics = {"weights": str(weights), "data": str(data), "split": split, **metrics}
    if json_out is not None:
        atomic_write_text(Path(json_out), json.dumps(metrics, indent=1) + "\n")
    return metrics


def predict(
    weights: str | Path,
    sources: list[str],
    out: str | Path,
    *,
    imgsz: int | None = None,
    conf: float = 0.25,
    iou: float = 0.45,
    max_det: int = 300,
    batch: int = 8,
    device: str = "cpu",
    annotate: bool = True,
    tile: bool | None = None,
    tile_overlap: float = 0.2,
    shard: tuple[int, int] | None = None,
    resume: bool = True,
    progress: bool = False,
    backend: str = "torch",
    strict: bool = False,
) -> list[Path]:
    """Predict images/folders into ``out``: ``<name>.json`` and annotated ``<name>.png`` per image, a CSV.

    ``tile``: ``None`` tiles images whose long side exceeds ``2 * imgsz`` (see ``engine.tiling``).
    ``shard=(i, N)`` predicts images ``k`` of the sorted list with ``k % N == i`` (CSV
    ``predictions.shard{i}of{N}.csv``); under torchrun (``RANK``/``WORLD_SIZE`` set) it defaults to
    ``(RANK, WORLD_SIZE)``. ``resume`` skips images whose JSON is already in ``out``. ``backend``: ``torch`` (a
    ``.pt``) or ``onnx`` (an exported ``model.onnx``). An unreadable image is warned about, skipped and listed in
    ``predictions.unreadable.csv`` (an error with ``strict``, and when none is read). Returns the images read.
    """
    import os

    from .engine.backends import check_backend, load_detector
    from .engine.outputs import expand_sources
    from .engine.predict_run import checked_images, predict_to_folder
    from .engine.sharding import check_shard, rank_device, torchrun_shard
    from .engine.tiling import check_tile_overlap

    shard = check_shard(shard) if shard is not None else torchrun_shard(os.environ)
    check_tile_overlap(tile_overlap)
    check_backend(backend)
    paths = expand_sources(sources, exclude=Path(out))
    det = load_detector(weights, backend, rank_device(device, os.environ))
    result = predict_to_folder(
        det,
        paths,
        Path(out),
        Path(weights).name,
        shard=shard,
        resume=resume,
        annotate=annotate,
        batch=batch,
        progress=progress,
        imgsz=imgsz,
        conf=conf,
        iou=iou,
        max_det=max_det,
        tile=tile,
        tile_overlap=tile_overlap,
    )
    return checked_images(result, strict)


def report(
    weights: str | Path,
    sources: str | Path | list[str] | list[Path],
    out: str | Path,
    *,
    conf: float = 0.25,
    imgsz: int | None = None,
    flags: str | Path | None = None,
    device: str = "cpu",
    progress: bool = False,
    roles: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Film report of ``sources`` (field images and/or folders = one film): differential, flags, text.

    Writes ``out/report.json`` (schema ``leukodet.report/2``), ``out/report.html`` and ``out/report.md``
    (atomically) and returns the JSON document. ``flags`` is a rules YAML (default: the packaged rules). The
    rules, threshold and sources are checked before the model is loaded. ``roles`` (``{class: role}``) gives a
    role to a class whose checkpoint stores none (:mod:`leukodet.records.roles`). See docs/report.md.
    """
    from .engine.outputs import expand_sources
    from .engine.predict import Detector
    from .report.bank import check_conf
    from .report.film import film_report
    from .report.flags import load_rules

    check_conf(conf)
    rules = load_rules(flags)
    paths = expand_sources([sources] if isinstance(sources, (str, Path)) else list(sources))
    det = Detector.load(weights, device)
    return film_report(
        det, paths, out, weights=weights, conf=conf, imgsz=imgsz, rules=rules, progress=progress, roles=roles
    )


def ablate(
    data: str | Path,
    out: str | Path,
    *,
    full_data: str | Path | None = None,
    attributes: bool = False,
    time: float = 8.0,
    seeds: list[int] | tuple[int, ...] = (0, 1, 2),
    methods: list[str] | tuple[str, ...] | None = None,
    model: str = "n",
    imgsz: int = 640,
    batch: int = 16,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """Run the sparse-annotation methods (and full-label training with ``full_data``) for ``time`` minutes
    each and ``seeds``; results go to ``out/ablation.json`` as each run finishes (resumable). See
    :mod:`leukodet.engine.ablation`."""
    from .engine.ablation import METHODS, VARIANTS, run_ablation

    unknown = sorted(set(methods or ()) - set(METHODS) - set(VARIANTS))
    if unknown:
        known = ", ".join((*METHODS, *VARIANTS))
        raise ValueError(f"unknown sparse method(s) {', '.join(unknown)} (choose from {known})")
    kwargs = {"model": model, "imgsz": imgsz, "batch": batch, "device": device, "epochs": 1000}
    return run_ablation(
        Path(data),
        Path(out),
        train_fn=lambda source, **kw: train(source, progress=progress, **kwargs, **kw),
        val_fn=lambda weights, source, **kw: val(weights, source, imgsz=imgsz, device=device, **kw),
        full_data=Path(full_data) if full_data else None,
        methods=tuple(methods or METHODS),
        seeds=tuple(seeds),
        minutes=time,
        attributes=attributes,
    )


def serve(weights: str | Path, data_dir: str | Path, **options: Any) -> None:
    """Serve the REST API (FastAPI + uvicorn) with the model ``weights`` until interrupted; analyses are kept
    in ``data_dir``. ``options``: ``host`` (default 127.0.0.1), ``port``, ``conf``, ``flags``, ``imgsz``,
    ``device``, ``backend`` (``torch``, or ``onnx``: ``weights`` is then an exported ``model.onnx``),
    ``queue_size``, ``workers``, ``max_file_mb``, ``max_files``, ``max_megapixels`` (see
    :func:`leukodet.serve.server.run_server` and docs/service.md)."""
    from .serve.server import run_server

    run_server(weights, data_dir, **options)


def export(
    weights: str | Path,
    out: str | Path,
    *,
    format: str = "onnx",
    imgsz: int | None = None,
    opset: int = 17,
    overwrite: bool = False,
) -> Path:
    """Export checkpoint ``weights`` for another runtime; ``format="onnx"`` writes ``out/model.onnx`` (detector,
    NMS and AttriHead in one graph, the checkpoint metadata embedded; docs/onnx.md). Returns the file."""
    formats = ("onnx",)
    if format not in formats:
        raise ValueError(f"unknown export format {format!r} (supported: {', '.join(formats)})")
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ValueError("ONNX export needs the onnx package: pip install 'leukodet[onnx]'") from None
    from .engine.onnx_export import export_onnx

    return export_onnx(weights, out, imgsz=imgsz, opset=opset, overwrite=overwrite)


def domains(
    data: str | Path,
    weights: list[str | Path],
    *,
    split: str = "test",
    out: str | Path | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Every model on every domain subset of ``split`` (mAP50, mAP50-95, operating point); with ``out``,
    writes ``out/domains.json`` and ``out/domains.md``. ``options``: ``imgsz``, ``batch``, ``conf_op``,
    ``device``, ``progress`` (see :func:`leukodet.engine.validate.domain_matrix`)."""
    from .engine.validate import domain_matrix, write_matrix

    doc = domain_matrix(weights, data, split=split, **options)
    if out is not None:
        write_matrix(doc, Path(out))
    return doc


from .demo import demo  # noqa: E402  (uses the functions above at call time)
from .domains.jobs import locate, transfer  # noqa: E402  (annotation transfer: docs/domains.md)
from .engine.sharding import parse_shard  # noqa: E402  ("I/N" → (I, N); no torch at import)
from .pretrain import pretrain  # noqa: E402  (the recipe of the bundled checkpoints: docs/models.md)
from .pretrain_general import pretrain_general  # noqa: E402  (general-n: docs/models.md)
