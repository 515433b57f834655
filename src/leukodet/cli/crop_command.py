"""``leukodet train-crops``: the crop classifier of the attributes' second path (and the CBM baseline)."""

from __future__ import annotations

import json
from typing import Any

import click

from .. import api
from .base import main
from .base import progress_option as _progress
from .base import show_progress as _show_progress
from .base import user_errors as _user_errors


@main.command("train-crops")
@click.argument("data")
@click.option("--out", required=True, help="Run folder: best.pt, last.pt, results.csv.")
@click.option("--arch", type=click.Choice(["resnet18", "resnet34", "resnet50"]), default="resnet18",
              show_default=True, help="torchvision ResNet, from random weights.")  # fmt: skip
@click.option(
    "--size", type=int, default=96, show_default=True, help="Crop side fed to the network (pixels)."
)
@click.option("--context", type=float, default=0.1, show_default=True, help="Margin around the box (share).")
@click.option("--imgsz", type=int, default=416, show_default=True,
              help="Scale crops are cut at: the detector's network size.")  # fmt: skip
@click.option("--type-from", type=click.Choice(["image", "attributes"]), default="image", show_default=True,
              help="attributes: a concept-bottleneck model (the type from the predicted attributes only).")  # fmt: skip
@click.option("--no-size-features", is_flag=True, help="Do not give the heads the box's width and height.")
@click.option("--views", type=click.Choice(["1", "2", "4", "8"]), default="1", show_default=True,
              help="Test-time views averaged (mirror, turns): kept in the checkpoint for val/predict/serve.")  # fmt: skip
@click.option("--epochs", type=int, default=30, show_default=True)
@click.option("--batch", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=2e-3, show_default=True, help="AdamW peak learning rate.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--resume", is_flag=True, help="Go on from OUT/last.pt.")
@_progress
@_user_errors
def train_crops(data: str, out: str, progress: bool | None, **kw: Any) -> None:
    """Train a crop classifier on DATA's labelled cells: every attribute and the WBC type from each cell's crop.

    Use it with --crop-model on val, predict, report and serve (docs/attributes.md)."""
    crop = {k: kw.pop(k) for k in ("arch", "size", "context", "imgsz", "type_from")}
    crop["size_features"] = not kw.pop("no_size_features")
    crop["views"] = int(kw.pop("views"))
    result = api.train_crops(data, out, crop=crop, progress=_show_progress(progress), **kw)
    val = result["val"]
    click.echo(
        f"best epoch {result['best_epoch']} of {result['epochs']}: val attribute accuracy {val['accuracy']}, "
        f"macro-F1 {val['macro_f1']}, type accuracy {val.get('type_accuracy')}; wrote {result['weights']}",
        err=True,
    )
    click.echo(json.dumps({k: v for k, v in result.items() if k != "classes"}))
