"""``leukodet pretrain``: the recipe of the bundled checkpoints (synthetic stage, general stage)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import api
from .base import main
from .base import progress_option as _progress
from .base import show_progress as _show_progress
from .base import user_errors as _user_errors


@main.command()
@click.option(
    "--out", default="runs/pretrain", show_default=True, help="Recipe folder (corpus/, run/, NAME.pt)."
)
@click.option(
    "--setting",
    type=click.Choice(["cpu", "gpu"]),
    default="cpu",
    show_default=True,
    help="cpu: the bundled synth-n's setting (2 cores); gpu: more fields, epochs and pixels.",
)
@click.option(
    "--stage",
    type=click.Choice(["synth", "general", "all"]),
    default="synth",
    show_default=True,
    help="synth: make synth-n; general: fine-tune general-n from it on real data (--real); all: both, in turn.",
)
@click.option(
    "--real",
    multiple=True,
    metavar="NAME=PATH",
    help="General stage: a real data set (its train split trains, val validates), e.g. bccd=data/BCCD.",
)
@click.option("--cross-lab", default=None, help="General stage: a data set never trained on (BCDD), scored.")
@click.option("--epochs", type=int, default=None, help="Replace the setting's epoch count.")
@click.option("--fields", type=int, default=None, help="Replace the setting's fields per 100x domain.")
@click.option("--seed", type=int, default=None, help="Replace the setting's seed (0).")
@click.option("--device", default=None, help="Replace the setting's device.")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="A config override added after the setting's own (recorded in the card), e.g. augment.hed=0.1.",
)
@click.option(
    "--install", is_flag=True, help="Copy the result into the package's bundled models (maintainers)."
)
@_progress
@_user_errors
def pretrain(
    out: str,
    setting: str,
    stage: str,
    real: tuple[str, ...],
    cross_lab: str | None,
    epochs: int | None,
    fields: int | None,
    seed: int | None,
    device: str | None,
    sets: tuple[str, ...],
    install: bool,
    progress: bool | None,
) -> None:
    """Make synth-n (render the 12-domain synthetic corpus, train on it), or with --stage general fine-tune
    general-n from it on real data; --stage all makes both in one folder. Each is packed as an fp16
    checkpoint with its card.

    With --stage all, --epochs, --seed, --device and --set apply to both stages. Deterministic given its
    seed; re-running the same command resumes where it stopped."""
    if stage == "synth" and (real or cross_lab):
        raise click.BadParameter(
            "--real and --cross-lab belong to --stage general or all", param_hint="--real"
        )
    sources = _real_sources(real)
    if stage == "all":
        from ..pretrain_general import check_real

        check_real(sources)  # before the synthetic stage's hour, not after it
    common = {"epochs": epochs, "seed": seed, "device": device, "extra_overrides": sets or None}
    if stage in ("synth", "all"):
        changes = {**common, "fields_100x": fields}
        card = api.pretrain(
            out,
            setting,
            progress=_show_progress(progress),
            echo=click.echo,
            install=install,
            **{k: v for k, v in changes.items() if v is not None},
        )
        click.echo(json.dumps(card["figures"]))
    if stage in ("general", "all"):
        card = api.pretrain_general(
            out, sources, setting, cross_lab=Path(cross_lab) if cross_lab else None,
            progress=_show_progress(progress), echo=click.echo, install=install,
            **{k: v for k, v in common.items() if v is not None},
        )  # fmt: skip
        click.echo(json.dumps(card["figures"]))


def _real_sources(real: tuple[str, ...]) -> dict[str, Path]:
    """``--real NAME=PATH`` items as ``{name: path}``; a malformed item is a usage error."""
    sources = {}
    for item in real:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"{item!r}: expected NAME=PATH", param_hint="--real")
        sources[name] = Path(path)
    return sources
