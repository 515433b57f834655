"""The app factory: one loaded model, one data directory, one bounded queue, the ``/v1`` routes and the error
answers (every refusal is JSON ``{"detail": "..."}``)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from .._version import __version__
from ..config import PREDICT_CONF
from ..infer.config import check_conf
from ..records.roles import model_roles
from ..report.flags import RuleSet
from .analysis import Settings
from .guards import BodyLimit, HostOriginGuard, TokenGuard
from .patch_routes import router as patch_router
from .review import repair_reviews
from .review_routes import router as review_router
from .review_routes import validation_message
from .routes import Service, router
from .storage import Storage, UnknownAnalysis
from .uploads import Limits, UploadError
from .web import router as web_router
from .worker import AnalysisQueue, QueueFull

if TYPE_CHECKING:
    from ..infer.predictor import Detector

__all__ = ["DESCRIPTION", "create_app"]

_log = logging.getLogger(__name__)

DESCRIPTION = """White-blood-cell detection, morphology attributes and film reports for blood-film images.

Decision support only, not a diagnosis: every finding must be checked on the film by a qualified person.
Upload a film's field images to `POST /v1/analyses`; the answer carries the film report (schema
`leukodet.report/2`). Limits and error codes: docs/service.md."""


JSON_BODY_LIMIT = 4 * 1024 * 1024
"""Largest body of every request but the image upload (which has its own limits): a review of the most changes
allowed (10,000) is well under 2 MiB."""


def _errors(app: FastAPI) -> None:
    """The service's own exceptions as JSON answers, every one ``{"detail": "one line"}``."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_message(exc)}, status_code=422)

    @app.exception_handler(UploadError)
    async def refused(request: Request, exc: UploadError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(UnknownAnalysis)
    async def unknown(request: Request, exc: UnknownAnalysis) -> JSONResponse:
        return JSONResponse({"detail": "no such analysis"}, status_code=404)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        _log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error (see the service log)"}, status_code=500)

    @app.exception_handler(QueueFull)
    async def busy(request: Request, exc: QueueFull) -> JSONResponse:
        message = f"the analysis queue is full ({exc}); retry later"
        return JSONResponse({"detail": message}, status_code=503, headers={"Retry-After": "5"})


def _load(
    detector: Detector | str | Path, device: str, backend: str = "torch", crop_model: str | Path | None = None
) -> tuple[Detector, str | None]:
    """The detector, loading a checkpoint path (the one time the model is loaded), and its weights name."""
    if isinstance(detector, (str, Path)):
        from ..infer.backends import load_detector

        return load_detector(detector, backend, device, crop_model), Path(detector).name
    return detector, None


def _open_storage(data_dir: str | Path, rules: RuleSet | None) -> Storage:
    """The data directory, repaired after an unclean stop (index, temporary files, reports behind their log)."""
    storage = Storage(data_dir)
    repaired = storage.reconcile()
    repaired["reports_rebuilt"] = repair_reviews(storage.analysis_folders(), rules)
    if any(repaired.values()):
        _log.warning("data directory %s repaired after an unclean stop: %s", storage.root, repaired)
    return storage


def _guard(app: FastAPI, allowed_hosts: Sequence[str], tokens: Mapping[str, str] | None) -> None:
    """The request guards, outermost first: Host/Origin, then API tokens, then the body limit."""
    app.add_middleware(BodyLimit, limit=JSON_BODY_LIMIT, exempt=(("POST", "/v1/analyses"),))
    if tokens:
        app.add_middleware(TokenGuard, tokens=dict(tokens))
    app.add_middleware(HostOriginGuard, allowed=frozenset(allowed_hosts))  # added last: runs first


def _fastapi(queue: AnalysisQueue) -> FastAPI:
    """The FastAPI app (title, licence, description) whose shutdown stops ``queue``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        queue.shutdown()

    return FastAPI(
        title="leukodet",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
    )


def create_app(
    detector: Detector | str | Path,
    data_dir: str | Path,
    *,
    limits: Limits | None = None,
    queue_size: int = 16,
    workers: int = 1,
    conf: float = PREDICT_CONF,
    imgsz: int | None = None,
    rules: RuleSet | None = None,
    device: str = "cpu",
    backend: str = "torch",
    crop_model: str | Path | None = None,
    weights_name: str | None = None,
    roles: Mapping[str, str] | None = None,
    allowed_hosts: Sequence[str] = (),
    tokens: Mapping[str, str] | None = None,
) -> FastAPI:
    """The leukodet service as an ASGI app (serve it with uvicorn; test it with FastAPI's ``TestClient``).

    Args:
        detector: a loaded detector (``leukodet.infer.predictor.Detector`` or anything with ``predict`` and
            ``metadata``), or a checkpoint path to load once now.
        data_dir: where analyses are stored (created if needed); an existing one is reused as it is.
        limits: upload limits (default: 20 MiB per file, 64 files, 50 megapixels per image).
        queue_size: requests that may wait while every worker is busy; more answer 503.
        workers: analyses run at the same time (threads sharing the one model).
        conf: keep cells with ``score >= conf`` in every report.
        imgsz: network size (default: the checkpoint's).
        rules: flag rules (default: the packaged ones).
        device: where to load a checkpoint path (``cpu``, ``cuda``, ...).
        backend: ``torch`` (a ``.pt`` checkpoint path) or ``onnx`` (an exported ``model.onnx`` path).
        crop_model: a crop classifier checkpoint that predicts the attributes instead of the AttriHead.
        weights_name: the checkpoint name to report (default: the file name of a ``detector`` path).
        roles: ``{class: role}`` for classes whose role the checkpoint does not store and the names do not
            tell (:mod:`leukodet.records.roles`); checked now, so a class without a role fails at start.
        allowed_hosts: host names the service answers to besides its loopback names (``Host`` header; also
            the ``Origin`` of a state-changing browser request), e.g. the name a reverse proxy forwards.
        tokens: ``{secret: name}`` (:func:`~.guards.parse_tokens`): when given, every ``/v1`` request but
            health needs one, and a review's reviewer is the token's name.
    """
    check_conf(conf)
    queue = AnalysisQueue(workers=workers, queue_size=queue_size)
    storage = _open_storage(data_dir, rules)
    model, loaded_name = _load(detector, device, backend, crop_model)
    model_roles(model.metadata, model.metadata.get("classes") or (), roles)
    name = weights_name or loaded_name
    checkpoint = str(detector) if isinstance(detector, (str, Path)) else name
    settings = Settings(conf=conf, imgsz=imgsz, rules=rules, weights=name, roles=roles, checkpoint=checkpoint)
    service = Service(model, storage, queue, limits or Limits(), settings, time.monotonic())

    app = _fastapi(queue)
    app.state.service = service
    _guard(app, allowed_hosts, tokens)
    _errors(app)
    app.include_router(router)
    app.include_router(review_router)
    app.include_router(patch_router)
    app.include_router(web_router)
    return app
