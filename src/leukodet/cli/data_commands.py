"""Data commands: ``stats``, ``convert``, ``sparsify``, ``synth``, ``demo``, ``transfer`` and ``locate``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

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
@click.option(
    "--wbc-parent",
    is_flag=True,
    help="Also name class WBC, the parent of the WBC types (trained beside them).",
)
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
    wbc_parent: bool,
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
        wbc_parent=wbc_parent,
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
@click.option(
    "--model",
    default="synth-n",
    show_default=True,
    help="Start: a bundled model name or a checkpoint ('none': random weights; also when it is not bundled).",
)
@click.option(
    "--showcase",
    default="general-n",
    show_default=True,
    help="Model shown first as it comes, with its film report ('none': skip; absent: the start).",
)
@_user_errors
def demo(out: str, images: int, seed: int, minutes: float, model: str, showcase: str) -> None:
    """Run the main job on the embedded synthetic default (no external data needed)."""
    start = None if model.lower() == "none" else model
    shown = None if showcase.lower() == "none" else showcase
    api.demo(out, images=images, seed=seed, minutes=minutes, model=start, showcase=shown, echo=click.echo)


@main.command()
@click.option("--source-image", required=True, help="The image whose labels are carried over.")
@click.option(
    "--source-labels",
    required=True,
    help="Its labels: YOLO .txt, VOC .xml, COCO .json, or a dataset (YAML / folder) holding the image.",
)
@click.option(
    "--target-image", required=True, help="The same area at another magnification, microscope or camera."
)
@click.option("--out", required=True, help="Output folder: <target stem>.<ext>, transfer.json, overlay PNG.")
@click.option(
    "--names",
    default=None,
    help="YOLO class names: a,b,c or a data.yaml / classes.txt (default: one found beside the labels).",
)
@click.option(
    "--target-domain", default=None, help="LLD domain of the target, e.g. LCM_40x_C1 (default: its folders)."
)
@click.option(
    "--min-kept",
    type=float,
    default=0.5,
    show_default=True,
    help="Drop a mapped box when less than this fraction of its area lies inside the target.",
)
@_strict
@_overwrite
@_user_errors
def transfer(
    source_image: str,
    source_labels: str,
    target_image: str,
    out: str,
    names: str | None,
    target_domain: str | None,
    min_kept: float,
    strict: bool,
    overwrite: bool,
) -> None:
    """Carry the labels of --source-image onto --target-image through a SIFT + RANSAC homography.

    Writes the mapped labels in the source's format, transfer.json and transfer_overlay.png under --out.
    A pair with fewer than 15 inliers, a degenerate map or an inlier RMSE over 3 px is refused: only the
    report and the overlay are written and the exit status is 1. See docs/domains.md.
    """
    doc = api.transfer(
        source_image,
        source_labels,
        target_image,
        out,
        names=names,
        target_domain=target_domain,
        min_kept=min_kept,
        overwrite=overwrite,
        strict=strict,
    )
    report = Path(out) / doc["outputs"]["report"]
    if not doc["accepted"]:
        click.echo(f"refused: {doc['reason']} (see {report})", err=True)
        sys.exit(1)
    b = doc["boxes"]
    click.echo(
        f"mapped {b['mapped']} of {b['source']} boxes ({b['dropped']} dropped; {doc['inliers']} inliers, "
        f"RMSE {doc['reprojection_rmse_px']:.2f} px); wrote {', '.join(doc['outputs']['labels'])} and {report}",
        err=True,
    )


@main.command()
@click.option("--patch", required=True, help="The magnified view, e.g. a 100x image.")
@click.option("--field", required=True, help="The wider field that contains it, e.g. a 40x image.")
@click.option("--out", default=None, help="Also write locate.json and locate_overlay.png into this folder.")
@_overwrite
@_user_errors
def locate(patch: str, field: str, out: str | None, overwrite: bool) -> None:
    """Find where --patch lies inside --field: prints one JSON object with the patch's corners ("quad") and
    box in field pixels, the scale and rotation. Exit status 1 when the placement is refused (docs/domains.md).
    """
    doc = api.locate(patch, field, out, overwrite=overwrite)
    click.echo(json.dumps(doc))
    if not doc["accepted"]:
        click.echo(f"refused: {doc['reason']}", err=True)
        sys.exit(1)
