"""``leukodet adapt``: unsupervised domain adaptation of a source-trained detector to unlabelled target images.

The same run as ``leukodet train --adapt METHOD --target-data T.yaml``, named for what it does: ConfMix
(Mattolin et al., WACV 2023, docs/daca.md and the README) or DACA (Mekhalfi et al., BMVC 2023, docs/daca.md).
Both papers adapt a detector trained on the source domain, so ``--model`` (that checkpoint) is required.
"""

from __future__ import annotations

import json

import click

from .. import api
from .base import main
from .base import progress_option as _progress
from .base import show_progress as _show_progress
from .base import user_errors as _user_errors


@main.command()
@click.option("--data", required=True, help="Source dataset YAML (labelled; its train split trains).")
@click.option("--target-data", required=True, help="Target dataset YAML: its train images, labels unused.")
@click.option("--method", type=click.Choice(["confmix", "daca"]), default="confmix", show_default=True)
@click.option(
    "--model", required=True, help="The source-trained checkpoint (or bundled model name) to adapt."
)
@click.option("--out", required=True, help="Run folder (config.yaml, results.csv, weights/).")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--time", "time_", type=float, default=None, help="Wall-clock budget in minutes instead.")
@click.option("--imgsz", type=int, default=640, show_default=True)
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue the run in --out from weights/last.pt.")
@click.option("--set", "overrides", multiple=True, help="Config override key=value (e.g. adapt.gain=0.5).")
@_progress
@_user_errors
def adapt(
    data: str, target_data: str, method: str, model: str, out: str, epochs: int, time_: float | None, imgsz: int,
    batch: int, device: str, seed: int, resume: bool, overrides: tuple[str, ...], progress: bool | None,
) -> None:  # fmt: skip
    """Adapt --model from the --data domain to the images of --target-data (whose labels are never read);
    validation and best.pt use the source's val split, as both methods assume no target labels."""
    sets = [f"adapt.method={method}", f"adapt.target_data={target_data}", *overrides]
    summary = api.train(data, model=model, epochs=epochs, imgsz=imgsz, batch=batch, out=out, time=time_,
                        device=device, seed=seed, resume=resume, overrides=sets,
                        progress=_show_progress(progress))  # fmt: skip
    click.echo(json.dumps(summary))
