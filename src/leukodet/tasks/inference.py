"""Jobs that run a trained model: validation, prediction, the film report, the domain matrix, the service."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import EVAL_IOU, MAX_DET, PREDICT_CONF, PREDICT_IOU

__all__ = ["predict_run", "val", "predict", "report", "domains", "serve"]


def val(
    weights: str | Path,
    data: str | Path,
    *,
    split: str = "val",
    imgsz: int | None = None,
    batch: int = 8,
    conf_op: float = PREDICT_CONF,
    device: str = "cpu",
    json_out: str | Path | None = None,
    backend: str = "torch",
    progress: bool = False,
    crop_model: str | Path | None = None,
    iou: float = EVAL_IOU,
) -> dict[str, Any]:
    """Evaluate a checkpoint on a dataset split (COCO + YOLOv5-style figures, operating point); ``backend``
    ``onnx`` evaluates an exported ``model.onnx`` through ONNX Runtime instead; ``crop_model``: attributes by
    that crop classifier (``leukodet train-crops``) instead of the AttriHead; ``iou``: the NMS IoU (the
    protocol's 0.6 unless asked; ``predict`` uses 0.45)."""
    import json

    from ..infer.backends import load_detector
    from ..infer.config import InferConfig
    from ..infer.validate import evaluate_records, load_split
    from ..records.files import atomic_write_text

    det = load_detector(weights, backend, device, crop_model)
    ds, records = load_split(data, split)
    cfg = InferConfig.protocol(iou=iou, imgsz=imgsz, batch=batch)
    metrics = evaluate_records(det, records, ds, cfg=cfg, conf_op=conf_op, progress=progress)
    metrics = {"weights": str(weights), "data": str(data), "split": split, "nms_iou": iou, **metrics}
    if json_out is not None:
        atomic_write_text(Path(json_out), json.dumps(metrics, indent=1) + "\n")
    return metrics


def predict(weights: str | Path, sources: list[str], out: str | Path, **kwargs: Any) -> list[Path]:
    """Predict images/folders into ``out``: ``<name>.json`` and annotated ``<name>.png`` per image, a CSV.
    Returns the images read; the options are :func:`predict_run`'s."""
    return predict_run(weights, sources, out, **kwargs)["images"]


def predict_run(
    weights: str | Path,
    sources: list[str],
    out: str | Path,
    *,
    imgsz: int | None = None,
    conf: float = PREDICT_CONF,
    iou: float = PREDICT_IOU,
    max_det: int = MAX_DET,
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
    ray: dict[str, Any] | None = None,
    report: bool = False,
    flags: str | Path | None = None,
    roles: Mapping[str, str] | None = None,
    crop_model: str | Path | None = None,
) -> dict[str, Any]:
    """:func:`predict`, returning the run's summary (``images`` read, ``predicted``, ``skipped``, ``cells``,
    ``csv``, ``unreadable``; with Ray also ``workers``, ``startup_seconds``, ``seconds``).

    ``tile``: ``None`` tiles images whose long side exceeds ``2 * imgsz`` (see ``infer.tiling``).
    ``shard=(i, N)`` predicts images ``k`` of the sorted list with ``k % N == i`` (CSV
    ``predictions.shard{i}of{N}.csv``); under torchrun (``RANK``/``WORLD_SIZE`` set) it defaults to
    ``(RANK, WORLD_SIZE)``. ``resume`` skips images whose JSON is already in ``out``. ``backend``: ``torch`` (a
    ``.pt``) or ``onnx`` (an exported ``model.onnx``). An unreadable image is warned about, skipped and listed in
    ``predictions.unreadable.csv`` and ``errors.jsonl`` (an error with ``strict``, and when none is read).
    ``ray``: run on Ray Data (:mod:`leukodet.infer.ray_engine`) with these :class:`RayOptions` fields.
    ``crop_model``: attributes by that crop classifier instead of the AttriHead.
    ``report``: also the film report (:func:`report`) of the whole run into ``out/report/``, built from the
    written outputs for both engines (the summary's ``report``; ``flags`` and ``roles`` as there).
    """
    from ..infer.backends import load_detector
    from ..infer.config import InferConfig
    from ..infer.predict_run import checked_images
    from ..infer.sources import expand_sources
    from ..report.flags import load_rules

    cfg = InferConfig(conf, iou, max_det, imgsz, tile, tile_overlap, batch, backend=backend)  # checked first
    shard = _run_shard(shard, ray is not None, report)
    rules = load_rules(flags) if report else None  # checked before any work, like the options
    paths = expand_sources(sources, exclude=Path(out))
    run = dict(resume=resume, annotate=annotate, progress=progress)
    det, result = _predict_on_engine(weights, paths, Path(out), cfg, device, shard, ray, run, crop_model)
    images = checked_images(result, strict)
    if report:
        det = det or load_detector(weights, backend, "cpu", crop_model)  # a Ray run's classes and attributes
        result["report"] = _film_report_of_run(det, weights, Path(out), paths, result, conf, rules, roles)
    return result | {"images": images}


def _run_shard(shard: tuple[int, int] | None, on_ray: bool, report: bool) -> tuple[int, int] | None:
    """This process's shard (the given one, or torchrun's); errors for a shard on Ray or under a film report."""
    import os

    from ..infer.sharding import check_shard, torchrun_shard

    if on_ray:
        if shard is not None:
            raise ValueError("a shard splits the work by hand; Ray splits it itself (give one or the other)")
        return None
    shard = check_shard(shard) if shard is not None else torchrun_shard(os.environ)
    if report and shard is not None and shard[1] > 1:
        raise ValueError("a film report needs the whole film: predict without --shard (or with --engine ray)")
    return shard


def _predict_on_engine(
    weights: str | Path, paths: list[Any], out: Path, cfg: Any, device: str, shard: tuple[int, int] | None,
    ray: dict[str, Any] | None, run: dict[str, bool], crop_model: str | Path | None = None,
) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """Run the prediction here (returns the loaded detector too) or on Ray (``None`` for it)."""
    if ray is not None:
        from ..infer.ray_engine import RayOptions, import_ray, predict_to_folder_ray

        import_ray()  # before any work: one line that says how to install it
        options = RayOptions(**ray)
        return None, predict_to_folder_ray(weights, paths, out, Path(weights).name, cfg=cfg, device=device,
                                           options=options, crop_model=crop_model, **run)  # fmt: skip
    import os

    from ..infer.backends import load_detector
    from ..infer.predict_run import predict_to_folder
    from ..infer.sharding import rank_device

    det = load_detector(weights, cfg.backend, rank_device(device, os.environ), crop_model)
    return det, predict_to_folder(det, paths, out, Path(weights).name, shard=shard, cfg=cfg, **run)


def _film_report_of_run(
    det: Any, weights: str | Path, out: Path, paths: list[Any], result: dict[str, Any], conf: float,
    rules: Any, roles: Mapping[str, str] | None,
) -> dict[str, Any]:  # fmt: skip
    """The film report of a finished prediction run, from its written outputs, into ``out/report``."""
    from ..infer.predict_run import fields_of_run
    from ..report.film import film_report

    fields = fields_of_run(out, paths, result["unreadable"], det.class_names)
    return film_report(fields, out / "report", metadata=det.metadata, schema=det.attributes, weights=weights,
                       conf=conf, rules=rules, roles=roles)  # fmt: skip


def report(
    weights: str | Path,
    sources: str | Path | list[str] | list[Path],
    out: str | Path,
    *,
    conf: float = PREDICT_CONF,
    imgsz: int | None = None,
    flags: str | Path | None = None,
    device: str = "cpu",
    progress: bool = False,
    roles: Mapping[str, str] | None = None,
    crop_model: str | Path | None = None,
) -> dict[str, Any]:
    """Film report of ``sources`` (field images and/or folders = one film): differential, flags, text.

    Writes ``out/report.json`` (schema ``leukodet.report/2``), ``out/report.html`` and ``out/report.md``
    (atomically) and returns the JSON document. ``flags`` is a rules YAML (default: the packaged rules). The
    rules, threshold and sources are checked before the model is loaded. ``roles`` (``{class: role}``) gives a
    role to a class whose checkpoint stores none (:mod:`leukodet.records.roles`). See docs/report.md.
    """
    from ..infer.backends import load_detector
    from ..infer.config import InferConfig, check_conf
    from ..infer.fields import predict_fields
    from ..infer.sources import expand_sources
    from ..report.film import film_report
    from ..report.flags import load_rules

    check_conf(conf)
    rules = load_rules(flags)
    paths = expand_sources([sources] if isinstance(sources, (str, Path)) else list(sources))
    det = load_detector(weights, "torch", device, crop_model)
    det.infer = InferConfig(conf=conf, imgsz=imgsz)
    fields = predict_fields(det, paths, progress=progress, desc="report")
    return film_report(
        fields,
        out,
        metadata=det.metadata,
        schema=det.attributes,
        weights=weights,
        conf=conf,
        rules=rules,
        roles=roles,
    )


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
    ``device``, ``progress`` (see :func:`leukodet.infer.validate.domain_matrix`)."""
    from ..infer.validate import domain_matrix, write_matrix

    doc = domain_matrix(weights, data, split=split, **options)
    if out is not None:
        write_matrix(doc, Path(out))
    return doc


def serve(weights: str | Path, data_dir: str | Path, **options: Any) -> None:
    """Serve the REST API (FastAPI + uvicorn) with the model ``weights`` until interrupted; analyses are kept
    in ``data_dir``. ``options``: ``host`` (default 127.0.0.1), ``port``, ``conf``, ``flags``, ``imgsz``,
    ``device``, ``backend`` (``torch``, or ``onnx``: ``weights`` is then an exported ``model.onnx``),
    ``queue_size``, ``workers``, ``max_file_mb``, ``max_files``, ``max_megapixels`` (see
    :func:`leukodet.serve.server.run_server` and docs/service.md)."""
    from ..serve.server import run_server

    run_server(weights, data_dir, **options)
