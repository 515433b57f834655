"""Run the service with uvicorn on one host and port (one process: the model is loaded once)."""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..config import PREDICT_CONF
from .app import create_app
from .guards import parse_tokens
from .uploads import Limits, MiB

__all__ = ["run_server"]

TOKENS_ENV = "LEUKODET_TOKENS"
"""Environment variable with more API tokens, comma-separated ``NAME:SECRET``."""

_log = logging.getLogger(__name__)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_server(
    weights: str | Path,
    data_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    conf: float = PREDICT_CONF,
    flags: str | Path | None = None,
    imgsz: int | None = None,
    device: str = "cpu",
    backend: str = "torch",
    crop_model: str | Path | None = None,
    queue_size: int = 16,
    workers: int = 1,
    max_file_mb: float = 20.0,
    max_files: int = 64,
    max_megapixels: float = 50.0,
    max_request_megapixels: float = 400.0,
    roles: Mapping[str, str] | None = None,
    allowed_hosts: Sequence[str] = (),
    tokens: Sequence[str] = (),
) -> None:
    """Load ``weights``, open ``data_dir`` and serve until interrupted (see :func:`~.app.create_app`).

    Listens on ``host`` only (default: loopback). ``tokens`` (``NAME:SECRET``; also the comma-separated
    ``LEUKODET_TOKENS`` environment variable) are required for a host that is not loopback. The options are
    checked before the model is loaded.
    """
    import uvicorn

    from ..infer.backends import check_backend
    from ..report.flags import load_rules

    if not 0 < port < 65536:
        raise ValueError(f"--port must be in 1-65535, got {port}")
    limits = Limits(
        round(max_file_mb * MiB), max_files, round(max_megapixels * 1e6), round(max_request_megapixels * 1e6)
    )
    rules = load_rules(flags)
    check_backend(backend)
    env = [t for t in os.environ.get(TOKENS_ENV, "").split(",") if t.strip()]
    token_map = parse_tokens([*tokens, *env])
    if not _loopback(host) and not token_map:
        raise ValueError(
            f"--host {host} lets other machines reach the service: give it API tokens (--token NAME:SECRET "
            f"or {TOKENS_ENV}), or bind to 127.0.0.1 behind a reverse proxy"
        )
    app = create_app(
        weights, data_dir, limits=limits, queue_size=queue_size, workers=workers, conf=conf, imgsz=imgsz,
        rules=rules, device=device, backend=backend, crop_model=crop_model, roles=roles, tokens=token_map,
        allowed_hosts=[*allowed_hosts, *([] if host in ("0.0.0.0", "::", "") else [host])],
    )  # fmt: skip
    if not _loopback(host):
        _log.warning("listening on %s with API tokens but no TLS; put a TLS proxy in front of it", host)
    uvicorn.run(app, host=host, port=port, workers=1, log_level="info", access_log=True)
