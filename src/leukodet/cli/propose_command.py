"""``leukodet propose``: the patch of each field a person should label next, by an acquisition score of a model's
predictions (docs/active.md)."""

from __future__ import annotations

import json

import click

from .. import api
from ..config import PREDICT_CONF
from .base import main
from .base import overwrite_option as _overwrite
from .base import progress_option as _progress
from .base import show_progress as _show_progress
from .base import user_errors as _user_errors


@main.command()
@click.argument("fields", nargs=-1, required=True)
@click.option("--weights", required=True, help="Trained checkpoint (.pt) or bundled model name.")
@click.option("--out", required=True, help="Folder for data.yaml, the COCO dataset and proposals.json.")
@click.option(
    "--fraction", type=float, default=0.2, show_default=True,
    help="Area of the proposed patch as a fraction of its field, in (0, 1].",
)  # fmt: skip
@click.option(
    "--score", default="entropy", show_default=True, metavar="random|entropy|band|flip|unsure",
    help="Acquisition score the patch maximises (random: leukodet sparsify's region for --seed).",
)  # fmt: skip
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the random score (and fallback)."
)
@click.option(
    "--conf", type=float, default=PREDICT_CONF, show_default=True, help="Detection confidence floor."
)
@click.option("--imgsz", type=int, default=None, help="Network input size (default: the checkpoint's).")
@click.option("--device", default="cpu", show_default=True)
@_overwrite
@_progress
@_user_errors
def propose(
    fields: tuple[str, ...], weights: str, out: str, fraction: float, score: str, seed: int, conf: float,
    imgsz: int | None, device: str, overwrite: bool, progress: bool | None,
) -> None:  # fmt: skip
    """Propose one labelled patch per field of FIELDS (images, folders, list files, globs): the rectangle that
    maximises --score, written as a COCO dataset with the patches as labelled regions and the model's cells in
    them as candidate boxes (review them before training), plus proposals.json."""
    doc = api.propose(
        weights, list(fields), out, fraction=fraction, score=score, seed=seed, conf=conf, imgsz=imgsz,
        device=device, progress=_show_progress(progress), overwrite=overwrite,
    )  # fmt: skip
    summary = {"images": len(doc["images"]), "skipped": len(doc["skipped"]), "score": doc["score"]}
    click.echo(json.dumps(summary | {"data": f"{out}/{doc['data']}", "proposals": f"{out}/proposals.json"}))
