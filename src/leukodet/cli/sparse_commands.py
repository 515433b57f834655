"""Sparse-annotation commands: ``ablate`` (the methods compared, paired by seed), and the options of the
two-phase protocol and of the attribute recipe, which ``train`` shares."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from .. import api
from .base import main
from .base import progress_option as _progress
from .base import show_progress as _show_progress
from .base import user_errors as _user_errors


def two_phase_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--protocol``, ``--phase1-epochs`` and ``--phase1-method`` (README, "Two-phase protocol")."""
    fn = click.option(
        "--phase1-method", type=click.Choice(["crop", "region"]), default="crop", show_default=True,
        help="Two-phase: phase 1 on the labelled patches (crop, D12) or with the region loss on whole fields.",
    )(fn)  # fmt: skip
    fn = click.option(
        "--phase1-epochs", type=int, default=100, show_default=True,
        help="Two-phase: phase 1's epochs (D12: 100); --epochs is phase 2's.",
    )(fn)  # fmt: skip
    return click.option(
        "--protocol", type=click.Choice(["one-run", "two-phase", "attributes"]), default="one-run",
        show_default=True, help="one-run: SLA-Det's burn-in inside one run; two-phase: the authors' phase 1 then "
        "phase 2; attributes (train only): the detector, then the AttriHead on it frozen, then both.",
    )(fn)  # fmt: skip


def two_phase(phase1_epochs: int, phase2_epochs: int, phase1_method: str, method: str) -> Any:
    """The :class:`~leukodet.engine.protocol.TwoPhase` of the options (a bad number is a usage error)."""
    from ..config import ConfigError
    from ..engine.protocol import TwoPhase

    try:
        return TwoPhase(phase1_epochs, phase2_epochs, phase1_method, method)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def attribute_recipe_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--detector-epochs`` and ``--head-epochs`` of ``train --protocol attributes``."""
    fn = click.option(
        "--head-epochs", type=int, default=10, show_default=True,
        help="--protocol attributes: the frozen-detector head stage's epochs; --epochs is the joint stage's.",
    )(fn)  # fmt: skip
    return click.option(
        "--detector-epochs", type=int, default=30, show_default=True,
        help="--protocol attributes: the detector stage's epochs (0: start the head from --model itself).",
    )(fn)  # fmt: skip


def attribute_recipe(
    data: str,
    out: str,
    detector: int,
    head: int,
    joint: int,
    time_: float | None,
    resume: bool,
    no_head: bool,
    overrides: list[str],
    common: dict[str, Any],
) -> dict[str, Any]:
    """``train --protocol attributes`` (:mod:`leukodet.engine.attribute_recipe`); refused combinations are usage
    errors."""
    from ..config import ConfigError
    from ..engine.attribute_recipe import AttributeRecipe

    if time_ is not None or resume or no_head:
        raise click.UsageError(
            "--protocol attributes runs fixed epochs, resumes by itself and trains the AttriHead "
            "(no --time, --resume, --no-attributes or --freeze-detector)"
        )
    try:
        recipe = AttributeRecipe(detector, head, joint)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    return api.train_attribute_recipe(data, out=out, schedule=recipe, overrides=overrides, **common)


@main.command()
@click.option("--data", required=True, help="Sparse dataset YAML (training split with labelled regions).")
@click.option("--full-data", default=None, help="The fully labelled dataset: adds full-label training runs.")
@click.option("--attributes", is_flag=True, help="Train the AttriHead too and report attribute F1 (Table 9).")
@click.option("--epochs", type=int, default=None, help="Fixed epochs per run (phase 2's with two-phase).")
@click.option("--time", "time_", type=float, default=None, help="Minutes per run instead of --epochs.")
@click.option("--seeds", default="0,1,2,3,4", show_default=True, help="Comma-separated seeds.")
@click.option(
    "--methods",
    default=None,
    help="Comma-separated subset of naive,region,region+pl,sladet,crop; variants: sladet-paper, sladet-fixed "
    "(the Eq. 10 hinge signs), region+pl-calibrated, sladet-calibrated (pseudo-labels on the calibrated "
    "confidence; sladet-calibrated-d5 the same with the D5 objectness normalisation), sparsedet, comining "
    "(the Table 7 comparators).",
)
@click.option("--model", default="n", show_default=True, help="Every run's start: a preset or a checkpoint.")
@click.option("--imgsz", type=int, default=640, show_default=True)
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--out", required=True, help="Folder for ablation.json and the runs (resumable).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Config override for every run.")
@two_phase_options
@_progress
@_user_errors
def ablate(
    data: str, full_data: str | None, attributes: bool, epochs: int | None, time_: float | None, seeds: str,
    methods: str | None, model: str, imgsz: int, batch: int, device: str, out: str, sets: tuple[str, ...], protocol: str,
    phase1_epochs: int, phase1_method: str, progress: bool | None,
) -> None:  # fmt: skip
    """Compare the sparse-annotation methods (and full labels) on DATA's test split, paired by seed; appends
    to ablation.json."""
    if (epochs is None) == (time_ is None):
        raise click.UsageError("give one budget: --epochs N (fixed, for comparisons) or --time MINUTES")
    if protocol == "attributes":
        raise click.UsageError("ablate compares sparse methods: --protocol one-run or two-phase")
    if protocol == "two-phase" and epochs is None:
        raise click.UsageError("--protocol two-phase needs --epochs (phase 2's)")
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds {seeds!r}: expected comma-separated integers, e.g. 0,1,2") from None
    plan = two_phase(phase1_epochs, epochs or 1, phase1_method, "sladet") if protocol == "two-phase" else None
    doc = api.ablate(
        data, out, full_data=full_data, attributes=attributes, time=time_, epochs=epochs, protocol=plan,
        seeds=seed_list, methods=methods.split(",") if methods else None, model=model, imgsz=imgsz,
        batch=batch, device=device, overrides=sets, progress=_show_progress(progress),
    )  # fmt: skip
    click.echo(json.dumps(doc["summary"]))
