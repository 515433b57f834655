"""Model commands: ``train`` (also under torchrun), ``val``, ``predict``, ``report``, ``export`` and ``domains``
(``ablate``, ``pretrain`` and ``serve`` have modules of their own)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from .. import api
from ..config import EVAL_IOU, MAX_DET, PREDICT_CONF, PREDICT_IOU, SPARSE_METHODS
from ..report.console import summary_lines
from .base import backend_option as _backend
from .base import crop_model_option as _crop_model
from .base import main
from .base import progress_option as _progress
from .base import role_option as _role
from .base import show_progress as _show_progress
from .base import user_errors as _user_errors
from .sparse_commands import attribute_recipe, attribute_recipe_options, two_phase, two_phase_options


@main.command()
@click.option("--data", required=True, help="Dataset YAML (or any source with a train split).")
@click.option(
    "--model",
    default="n",
    show_default=True,
    help="Preset n/s/m/l/x, a registered name, a checkpoint or a bundled model name (fine-tunes it); "
    "fcos-n: FCOS on the n backbone (docs/detectors.md).",
)
@click.option(
    "--epochs", type=int, default=100, show_default=True, help="Epochs (an upper bound with --time)."
)
@click.option("--imgsz", type=int, default=640, show_default=True)
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--out", required=True, help="Run folder (config.yaml, results.csv, weights/).")
@click.option(
    "--time", "time_", type=float, default=None, help="Wall-clock budget in minutes for the whole run."
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or a CUDA index.")
@click.option("--workers", type=int, default=0, show_default=True, help="Data-loading processes.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--recipe", type=click.Choice(["auto", "paper", "short"]), default="auto", show_default=True)
@click.option("--resume", is_flag=True, help="Continue the run in --out from weights/last.pt.")
@click.option("--set", "overrides", multiple=True, help="Config override key=value (e.g. loss.fl_gamma=1.5).")
@click.option(
    "--sparse-method",
    type=click.Choice(list(SPARSE_METHODS)),
    default="auto",
    show_default=True,
    help="Sparse-annotation training (auto: sladet when the training split has labelled regions; sparsedet "
    "and comining: the Table 7 comparators, docs/comparators.md).",
)
@click.option(
    "--adapt",
    type=click.Choice(["none", "confmix", "daca"]),
    default="none",
    show_default=True,
    help="Unsupervised domain adaptation to --target-data (ConfMix, or DACA: docs/daca.md; target labels "
    "unused).",
)
@click.option("--target-data", default=None, help="Target-domain dataset (its train images) for --adapt.")
@click.option(
    "--no-attributes", is_flag=True, help="Do not train the AttriHead even when the data has attributes."
)
@click.option(
    "--freeze-detector",
    is_flag=True,
    help="Train only the AttriHead of --model CHECKPOINT (the detector stays as it is).",
)
@attribute_recipe_options
@two_phase_options
@_progress
@_user_errors
def train(
    data: str,
    model: str,
    epochs: int,
    imgsz: int,
    batch: int,
    out: str,
    time_: float | None,
    device: str,
    workers: int,
    seed: int,
    recipe: str,
    resume: bool,
    overrides: tuple[str, ...],
    sparse_method: str,
    adapt: str,
    target_data: str | None,
    no_attributes: bool,
    freeze_detector: bool,
    protocol: str,
    phase1_epochs: int,
    phase1_method: str,
    detector_epochs: int,
    head_epochs: int,
    progress: bool | None,
) -> None:
    """Train a detector (and its AttriHead when DATA has attributes); the run folder is --out itself.

    --protocol two-phase (sparse data): phase 1 for --phase1-epochs into OUT/phase1, then phase 2 (SLA-Det or
    --sparse-method, no augmentation, focal γ 1.5) for --epochs into OUT/phase2. --protocol attributes: the
    detector alone (--detector-epochs, OUT/detector), the AttriHead on it frozen (--head-epochs, OUT/head), then
    both at 0.1 × the LR (--epochs, OUT/joint)."""
    if adapt != "none":
        if not target_data:
            raise click.UsageError(f"--adapt {adapt} needs --target-data T.yaml")
        overrides += (f"adapt.method={adapt}", f"adapt.target_data={target_data}")
    overrides += (f"sparse.method={sparse_method}",) if sparse_method != "auto" else ()
    overrides += ("train.attributes=false",) if no_attributes else ()
    overrides += ("train.freeze_detector=true",) if freeze_detector else ()
    common = {"model": model, "imgsz": imgsz, "batch": batch, "device": device, "workers": workers,
              "seed": seed, "recipe": recipe, "progress": _show_progress(progress)}  # fmt: skip
    if protocol == "attributes":
        summary = attribute_recipe(data, out, detector_epochs, head_epochs, epochs, time_, resume,
                                    no_attributes or freeze_detector, list(overrides), common)  # fmt: skip
    elif protocol == "two-phase":
        if time_ is not None or resume:
            raise click.UsageError(
                "--protocol two-phase runs fixed epochs and resumes by itself (no --time, --resume)"
            )
        plan = two_phase(
            phase1_epochs, epochs, phase1_method, "sladet" if sparse_method == "auto" else sparse_method
        )
        phase_free = [o for o in overrides if not o.startswith("sparse.method=")]
        summary = api.train_two_phase(data, out=out, protocol=plan, attributes=not no_attributes,
                                      overrides=phase_free, **common)  # fmt: skip
    else:
        summary = api.train(data, epochs=epochs, out=out, time=time_, resume=resume, overrides=list(overrides),
                            **common)  # fmt: skip
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 prints the summary
        click.echo(json.dumps(summary))


def _miss(fit: dict[str, float] | None) -> str:
    """How the localisation errors miss their cell (:class:`leukodet.eval.errors.LocalisationFit`)."""
    if not fit:
        return ""
    return (
        f" (localisation: median IoU {fit['median_iou']:.2f}, size x{fit['median_size_ratio']:.2f}, "
        f"{fit['too_small']:.0%} too small, {fit['too_large']:.0%} too large)"
    )


@main.command()
@click.option(
    "--weights",
    required=True,
    help="Checkpoint (.pt) or bundled model name, or model.onnx with --backend onnx.",
)
@click.option("--data", required=True, help="Dataset YAML or source.")
@click.option("--split", default="val", show_default=True)
@click.option("--imgsz", type=int, default=None, help="Default: the checkpoint's size.")
@click.option("--batch", type=int, default=8, show_default=True)
@click.option(
    "--conf-op",
    type=float,
    default=PREDICT_CONF,
    show_default=True,
    help="Confidence of the operating point.",
)
@click.option(
    "--iou",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=EVAL_IOU,
    show_default=True,
    help="NMS IoU (the evaluation protocol's; predict uses 0.45).",
)
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "json_out", default=None, help="Write the metrics JSON here.")
@_backend
@_crop_model
@_progress
@_user_errors
def val(
    weights: str,
    data: str,
    split: str,
    imgsz: int | None,
    batch: int,
    conf_op: float,
    iou: float,
    device: str,
    json_out: str | None,
    backend: str,
    crop_model: str | None,
    progress: bool | None,
) -> None:
    """Evaluate a checkpoint (or an ONNX export) on a split: COCO mAP (faster-coco-eval), YOLOv5-style AP,
    operating point."""
    m = api.val(
        weights,
        data,
        split=split,
        imgsz=imgsz,
        batch=batch,
        conf_op=conf_op,
        device=device,
        json_out=json_out,
        backend=backend,
        crop_model=crop_model,
        progress=_show_progress(progress),
        iou=iou,
    )
    click.echo(
        f"{split}: mAP50 {m['map50']:.4f}  mAP50-95 {m['map50_95']:.4f}  ({m['images']} images)", err=True
    )
    op = m["operating_point"]
    for name, c in m["per_class"].items():
        at = op["per_class"].get(name, {"precision": 0.0, "recall": 0.0})
        false = ", ".join(f"{n} {kind}" for kind, n in op["false_positives"].get(name, {}).items() if n)
        click.echo(
            f"  {name}: AP50 {c['ap50']:.4f}  AP50-95 {c['ap50_95']:.4f}  n_gt {c['n_gt']}  "
            f"P/R at conf {op['conf']:g}: {at['precision']:.3f}/{at['recall']:.3f}"
            + (f"  false: {false}" if false else "")
            + _miss(op["localisation"].get(name)),
            err=True,
        )
    if json_out is None:
        click.echo(json.dumps(m))


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--weights",
    required=True,
    help="Checkpoint (.pt) or bundled model name, or model.onnx with --backend onnx.",
)
@click.option("--out", required=True, help="Folder for <image>.json, predictions.csv and annotated PNGs.")
@click.option("--imgsz", type=int, default=None, help="Default: the checkpoint's size (also the tile side).")
@click.option("--conf", type=float, default=PREDICT_CONF, show_default=True)
@click.option("--iou", type=float, default=PREDICT_IOU, show_default=True)
@click.option("--max-det", type=int, default=MAX_DET, show_default=True)
@click.option("--batch", type=int, default=8, show_default=True, help="Images (or tiles) per forward pass.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-annotate", is_flag=True, help="Skip the annotated PNGs.")
@click.option("--tile/--no-tile", default=None, help="Tile images (default: long side > 2 x imgsz).")
@click.option("--tile-overlap", type=float, default=0.2, show_default=True, help="Tile overlap, 0.15-0.5.")
@click.option("--shard", default=None, help="I/N: images k with k % N == I (torchrun: RANK/WORLD_SIZE).")
@click.option("--resume/--no-resume", default=True, show_default=True, help="Skip images done in --out.")
@click.option(
    "--strict", is_flag=True, help="Exit with an error if any image is unreadable (others are written)."
)
@click.option(
    "--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
    help="local: this process; ray: a pool of model-holding Ray workers (pip install 'leukodet[ray]').",
)  # fmt: skip
@click.option("--address", default=None, help="Ray: a cluster to join (default: start Ray on this machine).")
@click.option("--workers", type=int, default=2, show_default=True, help="Ray: model-holding workers.")
@click.option("--cpus-per-worker", type=float, default=1.0, show_default=True, help="Ray: CPUs per worker.")
@click.option("--gpus-per-worker", type=float, default=0.0, show_default=True, help="Ray: GPUs per worker.")
@click.option("--report", is_flag=True, help="Also the film report of all SOURCES, in OUT/report/.")
@click.option("--flags", default=None, help="With --report: flag rules YAML (default: the packaged rules).")
@_role
@_backend
@_crop_model
@_progress
@_user_errors
def predict(
    sources: tuple[str, ...], weights: str, out: str, no_annotate: bool, shard: str | None, progress: bool | None,
    engine: str, address: str | None, workers: int, cpus_per_worker: float, gpus_per_worker: float, **kw: Any,
) -> None:  # fmt: skip
    """Detect WBCs in SOURCES (images, folders, list files, globs, or URIs such as s3://bucket/film/ read through
    pyarrow); large fields are tiled, runs can be sharded and resumed.

    --engine ray streams the images through Ray workers (one model each; a cluster with --address) and writes
    the same outputs as the local engine."""
    ray = None
    if engine == "ray":
        if shard is not None:
            raise click.UsageError(
                "--shard splits work by hand; --engine ray does it itself (give one or the other)"
            )
        ray = {"address": address, "workers": workers, "cpus_per_worker": cpus_per_worker,
               "gpus_per_worker": gpus_per_worker}  # fmt: skip
    result = api.predict_run(
        weights, list(sources), out, annotate=not no_annotate, shard=None if shard is None else api.parse_shard(shard),
        progress=_show_progress(progress), ray=ray, **kw,
    )  # fmt: skip
    paths = result["images"]
    click.echo(f"wrote predictions for {len(paths)} images to {out}", err=True)
    listed = sorted(Path(out).glob("*.unreadable.csv"))
    if listed:
        n = sum(len(p.read_text().splitlines()) - 1 for p in listed)
        click.echo(f"skipped {n} unreadable images, listed in {', '.join(map(str, listed))}", err=True)
    if engine == "ray":
        rate = 60 * result["predicted"] / max(result["seconds"], 1e-9)
        click.echo(
            f"ray: {result['predicted']} predicted, {result['skipped']} already done, {len(result['unreadable'])} "
            f"unreadable, {result['cells']} cells, {rate:.1f} fields/min, {result['workers']} workers "
            f"(Ray start {result['startup_seconds']:.1f} s)", err=True,
        )  # fmt: skip
    if "report" in result:
        click.echo("\n".join(summary_lines(result["report"], Path(out) / "report")), err=True)


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--weights", required=True, help="Checkpoint (.pt) or bundled model name.")
@click.option("--out", required=True, help="Folder for report.json, report.html and report.md.")
@click.option(
    "--conf", type=float, default=PREDICT_CONF, show_default=True, help="Keep cells with score >= conf."
)
@click.option("--flags", "flags_file", default=None, help="Flag rules YAML (default: the packaged rules).")
@click.option("--imgsz", type=int, default=None, help="Default: the checkpoint's size.")
@click.option("--device", default="cpu", show_default=True)
@_role
@_crop_model
@_progress
@_user_errors
def report(
    sources: tuple[str, ...], weights: str, out: str, flags_file: str | None, progress: bool | None, **kw: Any
) -> None:
    """Film report of SOURCES (the field images or folders of one film): differential, flags, text."""
    doc = api.report(weights, list(sources), out, flags=flags_file, progress=_show_progress(progress), **kw)
    click.echo("\n".join(summary_lines(doc, out)), err=True)


@main.command()
@click.option("--weights", required=True, help="Checkpoint (.pt) or bundled model name to export.")
@click.option("--format", "format_", default="onnx", show_default=True, help="Export format (onnx).")
@click.option("--out", required=True, help="Folder for the exported model (DIR/model.onnx).")
@click.option("--imgsz", type=int, default=None, help="Default network size (default: the checkpoint's).")
@click.option("--opset", type=int, default=17, show_default=True, help="ONNX opset (16-20).")
@click.option("--overwrite", is_flag=True, help="Replace an existing DIR/model.onnx.")
@_user_errors
def export(weights: str, format_: str, out: str, imgsz: int | None, opset: int, overwrite: bool) -> None:
    """Export a checkpoint: detector, NMS and AttriHead in one ONNX graph with its metadata (docs/onnx.md)."""
    path = api.export(weights, out, format=format_, imgsz=imgsz, opset=opset, overwrite=overwrite)
    click.echo(f"wrote {path}", err=True)


@main.command()
@click.argument("data")
@click.option(
    "--weights", "weights", multiple=True, required=True, help="Checkpoint(s); repeat or comma-separate."
)
@click.option("--split", default="test", show_default=True)
@click.option("--out", default=None, help="Folder for domains.json and domains.md.")
@click.option("--imgsz", type=int, default=None, help="Default: each checkpoint's size.")
@click.option(
    "--conf-op", type=float, default=PREDICT_CONF, show_default=True, help="Operating-point threshold."
)
@click.option("--device", default="cpu", show_default=True)
@_progress
@_user_errors
def domains(
    data: str, weights: tuple[str, ...], split: str, out: str | None, imgsz: int | None, conf_op: float,
    device: str, progress: bool | None,
) -> None:  # fmt: skip
    """Score every model on every domain subset of DATA's split: the domain-shift matrix (docs/domains.md)."""
    paths = [w for item in weights for w in item.split(",") if w]
    doc = api.domains(data, paths, split=split, out=out, imgsz=imgsz, conf_op=conf_op, device=device,
                      progress=_show_progress(progress))  # fmt: skip
    click.echo(json.dumps(doc))
