"""The ``/v1`` endpoints. Each reads the :class:`Service` the app factory put on ``app.state.service``.

Ids in paths are checked against :data:`~leukodet.serve.storage.ID_PATTERN` by :func:`checked_id` before a
handler runs, so a malformed id answers 404 without any path being built from it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from .._version import __version__
from .analysis import Settings, model_section, run_analysis
from .schemas import Analysis, AnalysisList, Created, Error, Health, ModelDescription
from .storage import AnalysisRecord, Storage, UnknownAnalysis, valid_id
from .uploads import FIELD, Limits, read_uploads
from .worker import AnalysisQueue

if TYPE_CHECKING:
    from ..infer.predictor import Detector

__all__ = ["Id", "Service", "Svc", "analysis_links", "router"]

MAX_OFFSET = 1_000_000_000
"""Largest ``offset`` of the analyses list (a larger one is a 422, never an overflow in the index query)."""

HTML_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
"""Content-Security-Policy of report.html: the page is self-contained and may fetch nothing."""


@dataclass
class Service:
    """Everything the endpoints share: the one loaded model, the storage, the queue and the settings."""

    detector: Detector
    storage: Storage
    queue: AnalysisQueue
    limits: Limits
    settings: Settings
    started: float


def service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def checked_id(analysis_id: str) -> str:
    """The path's analysis id, or 404 for anything that is not shaped like a server-made id."""
    if not valid_id(analysis_id):
        raise UnknownAnalysis(analysis_id)
    return analysis_id


Svc = Annotated[Service, Depends(service)]
Id = Annotated[str, Depends(checked_id)]

router = APIRouter(prefix="/v1")

_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FIELD],
                "properties": {
                    FIELD: {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "the film's field images (PNG, JPEG or TIFF), one part each",
                    }
                },
            }
        }
    },
}
_REFUSALS: dict[int | str, dict[str, Any]] = {
    413: {
        "model": Error,
        "description": "a file, the body, the file count or an image's pixels over a limit",
    },
    415: {"model": Error, "description": "not multipart/form-data, or a file that is not PNG, JPEG or TIFF"},
    422: {"model": Error, "description": "no files, malformed form, or an image that does not decode"},
    503: {"model": Error, "description": "the analysis queue is full; retry later (Retry-After)"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Error, "description": "no such analysis"}}


def analysis_links(analysis_id: str) -> dict[str, str]:
    """The addresses of an analysis's resources (``{n}``: a cell or field index)."""
    base = f"/v1/analyses/{analysis_id}"
    return {
        "self": base,
        "report_html": f"{base}/report.html",
        "report_json": f"{base}/report.json",
        "cells_csv": f"{base}/cells.csv",
        "cell": base + "/cells/{n}.png",
        "field_image": base + "/fields/{n}/image",
        "review": f"{base}/review",
        "audit": f"{base}/audit",
        "export_coco": f"{base}/export/coco",
        "export_summary": f"{base}/export/summary",
        "patch": base + "/fields/{n}/patch",
    }


@router.post(
    "/analyses",
    status_code=201,
    response_model=Created,
    responses=_REFUSALS,
    openapi_extra={"requestBody": _UPLOAD_BODY},
    summary="Analyse one film (one or more field images)",
)
async def create_analysis(request: Request, svc: Svc) -> JSONResponse:
    """Detect and describe the WBCs of the uploaded fields as one film; answers once the report is stored."""
    async with svc.queue.place():
        uploads, form = await read_uploads(request, svc.limits)
        try:
            record, doc = await svc.queue.run(
                run_analysis, svc.detector, uploads, svc.storage, svc.limits, svc.settings
            )
        finally:
            await form.close()
    return JSONResponse(
        {"id": record.id, "report": doc},
        status_code=201,
        headers={"Location": analysis_links(record.id)["self"]},
    )


@router.get("/analyses", response_model=AnalysisList, summary="List analyses, newest first")
def list_analyses(
    svc: Svc,
    limit: Annotated[int, Query(ge=1, le=200, description="analyses per page")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="analyses to skip")] = 0,
) -> dict[str, Any]:
    records, total = svc.storage.page(limit, offset)
    return {"items": [r.to_json() for r in records], "total": total, "limit": limit, "offset": offset}


@router.get("/analyses/{analysis_id}", response_model=Analysis, responses=_NOT_FOUND, summary="One analysis")
def get_analysis(analysis_id: Id, svc: Svc) -> dict[str, Any]:
    record: AnalysisRecord = svc.storage.get(analysis_id)
    try:
        report = json.loads(svc.storage.file(analysis_id, "report.json").read_text(encoding="utf-8"))
    except FileNotFoundError:  # deleted meanwhile
        raise UnknownAnalysis(analysis_id) from None
    return {**record.to_json(), "report": report, "links": analysis_links(analysis_id)}


@router.get(
    "/analyses/{analysis_id}/report.html",
    response_class=FileResponse,
    responses={**_NOT_FOUND, 200: {"content": {"text/html": {}}}},
    summary="The film report as a self-contained HTML page",
)
def get_report_html(analysis_id: Id, svc: Svc) -> FileResponse:
    path = svc.storage.file(analysis_id, "report.html")
    return FileResponse(
        path, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": HTML_POLICY}
    )


@router.get(
    "/analyses/{analysis_id}/cells/{n:int}.png",
    response_class=FileResponse,
    responses={**_NOT_FOUND, 200: {"content": {"image/png": {}}}},
    summary="The crop of cell n (its id in the report)",
)
def get_cell(analysis_id: Id, n: int, svc: Svc) -> FileResponse:
    return FileResponse(svc.storage.file(analysis_id, "cells", f"{n}.png"), media_type="image/png")


@router.delete("/analyses/{analysis_id}", status_code=204, responses=_NOT_FOUND, summary="Delete an analysis")
def delete_analysis(analysis_id: Id, svc: Svc) -> Response:
    svc.storage.delete(analysis_id)
    return Response(status_code=204)


@router.get("/health", response_model=Health, summary="Liveness and queue state")
def health(svc: Svc) -> dict[str, Any]:
    _, total = svc.storage.page(1, 0)
    uptime = round(time.monotonic() - svc.started, 3)
    return {"status": "ok", "uptime_s": uptime, "analyses": total, "queue": svc.queue.stats()}


@router.get("/model", response_model=ModelDescription, summary="The loaded model")
def model(svc: Svc) -> dict[str, Any]:
    return {**model_section(svc.detector, svc.settings), "version": __version__, "conf": svc.settings.conf}
