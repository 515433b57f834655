"""Command line: parses options and calls :mod:`leukodet.api`; no logic of its own.

Every user error (bad input, bad options) ends in one ``error: ...`` line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from . import __version__, api
from .records.diagnostics import DataError
from .records.io import FORMATS
from .records.sparsify import MODES
from .report.console import summary_lines

_progress = click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bars on stderr (default: when stderr is a terminal).",
)
_strict = click.option("--strict", is_flag=True, help="Make the first problem in the input fatal.")
_overwrite = click.option("--overwrite", is_flag=True, help="Allow writing into a non-empty output folder.")


def _show_progress(flag: bool | None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


def _user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn data/option errors into one clear line and exit status 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (
            DataError,
            FileNotFoundError,
            ValueError,
        ) as exc:  # ConfigError, CheckpointError are ValueErrors
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leukodet")
@click.option("-v", "--verbose", is_flag=True, help="More log output.")
def main(verbose: bool) -> None:
    """leukodet: white-blood-cell detection, attributes and sparse-annotation training for blood films."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )


@main.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout (nothing else).")
@_strict
@_progress
@_user_errors
def stats(source: str, as_json: bool, strict: bool, progress: bool | None) -> None:
    """Summarise SOURCE: a dataset YAML, COCO JSON, VOC root, WBCAtt root, BCDD folder or YOLO images folder."""
    result = api.stats(source, strict=strict, progress=_show_progress(progress))
    if as_json:
        click.echo(json.dumps(result))
        return
    for split, s in result["splits"].items():
        boxes = ", ".join(f"{k} {v}" for k, v in s["boxes"].items())
        invalid = ", ".join(f"{k} {v}" for k, v in s["invalid"].items()) or "none"
        click.echo(
            f"{split}: {s['images']} images; boxes: {boxes}; labelled regions {s['labeled_regions']} "
            f"(coverage {s['region_coverage']:.1%}); invalid: {invalid}"
        )
    attrs = ", ".join(f"{k} ({'/'.join(v)})" for k, v in result["attributes"].items()) or "none"
    click.echo(f"classes: {', '.join(result['classes'])}\nattributes: {attrs}")


@main.command()
@click.argument("source")
@click.argument("dest")
@click.option("--to", "to", type=click.Choice(FORMATS), required=True, help="Output format.")
@click.option("--allow-loss", is_flag=True, help="Write even if attributes, regions or domains are lost.")
@_strict
@_overwrite
@_progress
@_user_errors
def convert(
    source: str, dest: str, to: str, allow_loss: bool, strict: bool, overwrite: bool, progress: bool | None
) -> None:
    """Convert SOURCE to DEST (one DEST/data.yaml) in the format given by --to."""
    out = api.convert(
        source,
        dest,
        to,
        allow_loss=allow_loss,
        strict=strict,
        overwrite=overwrite,
        progress=_show_progress(progress),
    )
    click.echo(f"wrote {out}", err=True)


@main.command()
@click.argument("source")
@click.option(
    "--fraction", type=float, required=True, help="Labelled area fraction (region) or image fraction."
)
@click.option("--seed", type=int, required=True, help="Seed; the same seed gives the same split.")
@click.option("--out", required=True, help="Output folder (gets data.yaml).")
@click.option("--mode", type=click.Choice(MODES), default="region", show_default=True)
@click.option("--split", default="train", show_default=True, help="The split to sparsify.")
@_strict
@_overwrite
@_progress
@_user_errors
def sparsify(
    source: str,
    fraction: float,
    seed: int,
    out: str,
    mode: str,
    split: str,
    strict: bool,
    overwrite: bool,
    progress: bool | None,
) -> None:
    """Make the paper's sparse setting from a fully labelled SOURCE (one labelled region per training image)."""
    path = api.sparsify(
        source,
        out,
        fraction=fraction,
        seed=seed,
        mode=mode,
        split=split,
        strict=strict,
        overwrite=overwrite,
        progress=_show_progress(progress),
    )
    click.echo(f"wrote {path}", err=True)


@main.command()
@click.option("--out", required=True, help="Output folder (gets data.yaml, images/, annotations/).")
@click.option("--images", type=int, required=True, help="Number of fields (split 80/10/10).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--sparse", type=float, default=None, help="Area fraction of one labelled region per training field."
)
@click.option("--domain", default="HCM_100x_C2", show_default=True, help="LLD subset name, e.g. LCM_40x_C1.")
@click.option("--label-rbc", is_flag=True, help="Also label RBCs and platelets (classes RBC, Platelet).")
@click.option("--masks", is_flag=True, help="Also write instance masks (masks/<split>/<stem>.npz).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="coco", show_default=True)
@click.option("--size", type=int, default=640, show_default=True, help="Field side in pixels.")
@_overwrite
@_progress
@_user_errors
def synth(
    out: str,
    images: int,
    seed: int,
    sparse: float | None,
    domain: str,
    label_rbc: bool,
    masks: bool,
    fmt: str,
    size: int,
    overwrite: bool,
    progress: bool | None,
) -> None:
    """Generate synthetic LLD-style blood-film fields with exact labels (the embedded default data)."""
    path = api.synth(
        out,
        images=images,
        seed=seed,
        sparse=sparse,
        domain=domain,
        label_rbc=label_rbc,
        masks=masks,
        fmt=fmt,
        size=size,
        overwrite=overwrite,
        progress=_show_progress(progress),
    )
    click.echo(f"wrote {path}", err=True)


@main.command()
@click.option("--data", required=True, help="Dataset YAML (or any source with a train split).")
@click.option(
    "--model", default="n", show_default=True, help="Preset n/s/m/l/x, a registered name, or a checkpoint."
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
    "--no-attributes", is_flag=True, help="Do not train the AttriHead even when the data has attributes."
)
@click.option(
    "--freeze-detector",
    is_flag=True,
    help="Train only the AttriHead of --model CHECKPOINT (the detector stays as it is).",
)
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
    no_attributes: bool,
    freeze_detector: bool,
    progress: bool | None,
) -> None:
    """Train a detector (and its AttriHead when DATA has attributes); the run folder is --out itself."""
    overrides += ("train.attributes=false",) if no_attributes else ()
    overrides += ("train.freeze_detector=true",) if freeze_detector else ()
    summary = api.train(
        data,
        model=model,
        epochs=epochs,
        imgsz=imgsz,
        batch=batch,
        out=out,
        time=time_,
        device=device,
        workers=workers,
        seed=seed,
        recipe=recipe,
        resume=resume,
        overrides=list(overrides),
        progress=_show_progress(progress),
    )
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 prints the summary
        click.echo(json.dumps(summary))


@main.command()
@click.option("--weights", required=True, help="Checkpoint (.pt).")
@click.option("--data", required=True, help="Dataset YAML or source.")
@click.option("--split", default="val", show_default=True)
@click.option("--imgsz", type=int, default=None, help="Default: the checkpoint's size.")
@click.option("--batch", type=int, default=8, show_default=True)
@click.option(
    "--conf-op", type=float, default=0.25, show_default=True, help="Confidence of the operating point."
)
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "json_out", default=None, help="Write the metrics JSON here.")
@_progress
@_user_errors
def val(
    weights: str,
    data: str,
    split: str,
    imgsz: int | None,
    batch: int,
    conf_op: float,
    device: str,
    json_out: str | None,
    progress: bool | None,
) -> None:
    """Evaluate a checkpoint on a split: COCO mAP (faster-coco-eval), YOLOv5-style AP, operating point."""
    m = api.val(
        weights,
        data,
        split=split,
        imgsz=imgsz,
        batch=batch,
        conf_op=conf_op,
        device=device,
        json_out=json_out,
        progress=_show_progress(progress),
    )
    click.echo(
        f"{split}: mAP50 {m['map50']:.4f}  mAP50-95 {m['map50_95']:.4f}  ({m['images']} images)", err=True
    )
    for name, c in m["per_class"].items():
        click.echo(f"  {name}: AP50 {c['ap50']:.4f}  AP50-95 {c['ap50_95']:.4f}  n_gt {c['n_gt']}", err=True)
    if json_out is None:
        click.echo(json.dumps(m))


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--weights", required=True, help="Checkpoint (.pt).")
@click.option("--out", required=True, help="Folder for <image>.json, predictions.csv and annotated PNGs.")
@click.option("--imgsz", type=int, default=None, help="Default: the checkpoint's size (also the tile side).")
@click.option("--conf", type=float, default=0.25, show_default=True)
@click.option("--iou", type=float, default=0.45, show_default=True)
@click.option("--max-det", type=int, default=300, show_default=True)
@click.option("--batch", type=int, default=8, show_default=True, help="Images (or tiles) per forward pass.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-annotate", is_flag=True, help="Skip the annotated PNGs.")
@click.option("--tile/--no-tile", default=None, help="Tile images (default: long side > 2 x imgsz).")
@click.option("--tile-overlap", type=float, default=0.2, show_default=True, help="Tile overlap, 0.15-0.5.")
@click.option("--shard", default=None, help="I/N: images k with k % N == I (torchrun: RANK/WORLD_SIZE).")
@click.option("--resume/--no-resume", default=True, show_default=True, help="Skip images done in --out.")
@_progress
@_user_errors
def predict(
    sources: tuple[str, ...],
    weights: str,
    out: str,
    imgsz: int | None,
    conf: float,
    iou: float,
    max_det: int,
    batch: int,
    device: str,
    no_annotate: bool,
    tile: bool | None,
    tile_overlap: float,
    shard: str | None,
    resume: bool,
    progress: bool | None,
) -> None:
    """Detect WBCs in SOURCES (images or folders); large fields are tiled, runs can be sharded and resumed."""
    paths = api.predict(
        weights,
        list(sources),
        out,
        imgsz=imgsz,
        conf=conf,
        iou=iou,
        max_det=max_det,
        batch=batch,
        device=device,
        annotate=not no_annotate,
        tile=tile,
        tile_overlap=tile_overlap,
        shard=None if shard is None else api.parse_shard(shard),
        resume=resume,
        progress=_show_progress(progress),
    )
    click.echo(f"wrote predictions for {len(paths)} images to {out}", err=True)


@main.command()
@click.option("--out", default="demo_out", show_default=True, help="Folder for the demo's outputs.")
@click.option("--images", type=int, default=60, show_default=True, help="Synthetic fields to generate.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--minutes", type=float, default=3.0, show_default=True, help="Training budget.")
@_user_errors
def demo(out: str, images: int, seed: int, minutes: float) -> None:
    """Run the main job on the embedded synthetic default (no external data needed)."""
    api.demo(out, images=images, seed=seed, minutes=minutes, echo=click.echo)


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--weights", required=True, help="Checkpoint (.pt).")
@click.option("--out", required=True, help="Folder for report.json, report.html and report.md.")
@click.option("--conf", type=float, default=0.25, show_default=True, help="Keep cells with score >= conf.")
@click.option("--flags", "flags_file", default=None, help="Flag rules YAML (default: the packaged rules).")
@click.option("--imgsz", type=int, default=None, help="Default: the checkpoint's size.")
@click.option("--device", default="cpu", show_default=True)
@_progress
@_user_errors
def report(
    sources: tuple[str, ...], weights: str, out: str, flags_file: str | None, progress: bool | None, **kw: Any
) -> None:
    """Film report of SOURCES (the field images or folders of one film): differential, flags, text."""
    doc = api.report(weights, list(sources), out, flags=flags_file, progress=_show_progress(progress), **kw)
    click.echo("\n".join(summary_lines(doc, out)), err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
