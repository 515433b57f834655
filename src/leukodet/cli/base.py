"""Shared pieces of the command line: the ``leukodet`` group, option decorators and the user-error wrapper.

Every user error (bad input, bad options) ends in one ``error: ...`` line on stderr and exit status 2.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from .._version import __version__
from ..records.diagnostics import DataError

__all__ = [
    "main",
    "backend_option",
    "progress_option",
    "role_option",
    "strict_option",
    "overwrite_option",
    "show_progress",
    "user_errors",
]

progress_option = click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bars on stderr (default: when stderr is a terminal).",
)
strict_option = click.option("--strict", is_flag=True, help="Make the first problem in the input fatal.")
overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Allow writing into a non-empty output folder."
)


def _roles(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str] | None:
    out = {}
    for value in values:
        name, sep, role = value.rpartition("=")
        if not sep or not name.strip() or not role.strip():
            raise click.BadParameter(f"{value!r}: expected NAME=ROLE, e.g. 'Blast cell=wbc'", ctx, param)
        out[name.strip()] = role.strip()
    return out or None


backend_option = click.option(
    "--backend",
    type=click.Choice(["torch", "onnx"]),
    default="torch",
    show_default=True,
    help="torch: --weights is a .pt checkpoint; onnx: an exported model.onnx run by ONNX Runtime.",
)

crop_model_option = click.option(
    "--crop-model",
    default=None,
    metavar="C.pt",
    help="Attributes by this crop classifier (leukodet train-crops) instead of the AttriHead (torch backend).",
)

role_option = click.option(
    "--role",
    "roles",
    multiple=True,
    callback=_roles,
    metavar="NAME=ROLE",
    help="Role of a model class the checkpoint has none for: wbc, rbc, platelet, artefact or other (repeatable).",
)


def show_progress(flag: bool | None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
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
