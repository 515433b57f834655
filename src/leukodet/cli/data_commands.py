"""Data commands: ``stats``, ``convert``, ``sparsify``, ``synth`` and ``demo``."""

from __future__ import annotations

import json

import click

from .. import api
from ..records.io import FORMATS
from ..records.sparsify import MODES
from .base import main
from .base import overwrite_option as _overwrite
from .base import progress_option as _progress
from .base import show_progress as _show_progress
from .base import strict_option as _strict
from .base import user_errors as _user_errors


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
@click.option("--out", default="demo_out", show_default=True, help="Folder for the demo's outputs.")
@click.option("--images", type=int, default=60, show_default=True, help="Synthetic fields to generate.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--minutes", type=float, default=3.0, show_default=True, help="Training budget.")
@_user_errors
def demo(out: str, images: int, seed: int, minutes: float) -> None:
    """Run the main job on the embedded synthetic default (no external data needed)."""
    api.demo(out, images=images, seed=seed, minutes=minutes, echo=click.echo)
