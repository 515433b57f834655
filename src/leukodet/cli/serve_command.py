"""``leukodet serve``: the REST API and web page (FastAPI + uvicorn)."""

from __future__ import annotations

from typing import Any

import click

from .. import api
from ..config import PREDICT_CONF
from .base import backend_option as _backend
from .base import crop_model_option as _crop_model
from .base import main
from .base import role_option as _role
from .base import user_errors as _user_errors


@main.command()
@click.option(
    "--weights",
    required=True,
    help="Checkpoint (.pt), bundled model name or model.onnx (--backend onnx), loaded once.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (only this one).")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--data-dir", default="leukodet-data", show_default=True, help="Analyses + SQLite index.")
@click.option(
    "--conf", type=float, default=PREDICT_CONF, show_default=True, help="Keep cells with score >= conf."
)
@click.option("--flags", default=None, help="Flag rules YAML (default: the packaged rules).")
@click.option("--imgsz", type=int, default=None, help="Default: the checkpoint's size.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--queue-size", type=int, default=16, show_default=True, help="Waiting requests; more get 503.")
@click.option("--workers", type=int, default=1, show_default=True, help="Analyses run at the same time.")
@click.option("--max-file-mb", type=float, default=20.0, show_default=True, help="Largest image (MiB).")
@click.option("--max-files", type=int, default=64, show_default=True, help="Most images per request.")
@click.option("--max-megapixels", type=float, default=50.0, show_default=True, help="Largest image (MP).")
@click.option(
    "--token",
    "tokens",
    multiple=True,
    metavar="NAME:SECRET",
    help="API token (repeatable; also LEUKODET_TOKENS): /v1 then needs one; required off loopback.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="A host name the service answers to besides loopback and --host (e.g. behind a proxy; repeatable).",
)
@click.option(
    "--max-request-megapixels",
    type=float,
    default=400.0,
    show_default=True,
    help="Most pixels of one request's images together (MP): bounds one analysis's worker time.",
)
@_role
@_backend
@_crop_model
@_user_errors
def serve(weights: str, data_dir: str, **options: Any) -> None:
    """Serve the REST API on HOST:PORT (docs at /docs; analyses kept in --data-dir) until Ctrl-C."""
    api.serve(weights, data_dir, **options)
