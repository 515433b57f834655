"""The review endpoints (``/v1``): field images, downloads, the review itself, its audit log and the export.

* ``GET /analyses/{id}/fields/{n}/image``: a stored field image (as the detector read it);
* ``GET /analyses/{id}/report.json`` and ``GET /analyses/{id}/cells.csv``: downloads;
* ``POST /analyses/{id}/review``: change cells (:mod:`.review`), answers the updated analysis;
* ``GET /analyses/{id}/audit``: every change, oldest first;
* ``GET /analyses/{id}/export/coco``: the reviewed cells as a COCO dataset zip (:mod:`.export`).

A malformed review body answers 422 with one ``detail`` string, like every other refusal of the service.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from starlette.background import BackgroundTask

from .audit import read_audit
from .export import NothingReviewed, cells_csv, coco_zip
from .guards import REVIEWER_KEY
from .patch_state import analysis_labels
from .rebuild import field_image, load_json
from .review import ReviewRefused, apply_review, model_report
from .routes import Id, Svc, analysis_links
from .schemas import Analysis, AuditLog, Error, ReviewRequest
from .storage import UnknownAnalysis

__all__ = ["OneLineErrors", "router", "validation_message"]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Error, "description": "no such analysis"}}

NOTHING_TO_EXPORT = "nothing to export: review or confirm cells, or complete a field's patch, first"


def validation_message(exc: RequestValidationError) -> str:
    """Pydantic's errors as one line: ``changes.0.class: Field required; ...`` (the first three)."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg", "invalid")))
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


class _OneLineErrors(APIRoute):
    """A route whose body validation errors answer ``{"detail": "one line"}`` (422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return JSONResponse({"detail": validation_message(exc)}, status_code=422)

        return handle


OneLineErrors = _OneLineErrors
"""The route class of every ``/v1`` router whose bodies are JSON (review, patch labelling)."""

router = APIRouter(prefix="/v1", route_class=_OneLineErrors)


def _folder(svc: Svc, analysis_id: str) -> Path:
    svc.storage.get(analysis_id)
    return svc.storage.folder(analysis_id)


@router.get(
    "/analyses/{analysis_id}/fields/{n:int}/image",
    response_class=FileResponse,
    responses={**_NOT_FOUND, 200: {"content": {"image/png": {}, "image/jpeg": {}}}},
    summary="Field image n as stored (PNG or JPEG; a TIFF's PNG copy)",
)
def get_field_image(analysis_id: Id, n: int, svc: Svc) -> FileResponse:
    path = field_image(_folder(svc, analysis_id), n)
    if path is None:
        raise UnknownAnalysis(analysis_id)
    media = "image/png" if path.suffix == ".png" else "image/jpeg"
    return FileResponse(path, media_type=media)


@router.get(
    "/analyses/{analysis_id}/report.json",
    response_class=FileResponse,
    responses={**_NOT_FOUND, 200: {"content": {"application/json": {}}}},
    summary="The film report (schema leukodet.report/2) as a file",
)
def get_report_json(analysis_id: Id, svc: Svc) -> FileResponse:
    return FileResponse(svc.storage.file(analysis_id, "report.json"), media_type="application/json")


@router.get(
    "/analyses/{analysis_id}/cells.csv",
    responses={**_NOT_FOUND, 200: {"content": {"text/csv": {}}}},
    summary="Every cell as a CSV table (box, class, score, review state, attributes)",
)
def get_cells_csv(analysis_id: Id, svc: Svc) -> Response:
    doc = load_json(svc.storage.file(analysis_id, "report.json"))
    name = f"leukodet-{analysis_id}-cells.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(cells_csv(doc), media_type="text/csv; charset=utf-8", headers=headers)


@router.post(
    "/analyses/{analysis_id}/review",
    response_model=Analysis,
    responses={
        404: {"model": Error, "description": "no such analysis, or a change names no cell of it"},
        422: {"model": Error, "description": "malformed body, unknown class, attribute or attribute value"},
    },
    summary="Review cells: reclassify, set an attribute, mark not-a-WBC or confirm; the report is rebuilt",
)
def review(analysis_id: Id, body: ReviewRequest, svc: Svc, request: Request) -> dict[str, Any]:
    """Apply the changes in order (all or none), log them, rebuild differential, flags and text. With API
    tokens the reviewer is the name of the request's token, whatever the body says."""
    record = svc.storage.get(analysis_id)
    if request.scope.get(REVIEWER_KEY):
        body = body.model_copy(update={"reviewer": request.scope[REVIEWER_KEY]})
    try:
        doc = apply_review(svc.storage.folder(analysis_id), body, svc.settings.rules)
    except ReviewRefused as exc:
        raise HTTPException(exc.status, exc.message) from None
    except FileNotFoundError:  # deleted meanwhile
        raise UnknownAnalysis(analysis_id) from None
    return {**record.to_json(), "report": doc, "links": analysis_links(analysis_id)}


@router.get(
    "/analyses/{analysis_id}/audit",
    response_model=AuditLog,
    responses=_NOT_FOUND,
    summary="The review's audit log: who changed which cell, when, before and after",
)
def get_audit(analysis_id: Id, svc: Svc) -> dict[str, Any]:
    entries = read_audit(_folder(svc, analysis_id))
    return {"id": analysis_id, "entries": [e.to_json() for e in entries]}


@router.get(
    "/analyses/{analysis_id}/export/coco",
    response_class=FileResponse,
    responses={
        **_NOT_FOUND,
        409: {
            "model": Error,
            "description": "no cell of the analysis was reviewed and no patch completed yet",
        },
        200: {"content": {"application/zip": {}}},
    },
    summary="The reviewed cells and complete patches as labelled data: a zip of a COCO dataset with labelled "
    "regions",
)
def export_coco(analysis_id: Id, svc: Svc) -> FileResponse:
    folder = _folder(svc, analysis_id)
    doc = load_json(svc.storage.file(analysis_id, "report.json"))
    labels = analysis_labels(model_report(folder), read_audit(folder), propose=False)
    tmp = Path(tempfile.mkdtemp(prefix="leukodet-zip-"))
    name = f"leukodet-{analysis_id}-coco.zip"
    try:
        coco_zip(doc, folder, analysis_id, tmp / name, labels)
    except NothingReviewed:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HTTPException(409, NOTHING_TO_EXPORT) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    cleanup = BackgroundTask(shutil.rmtree, tmp, ignore_errors=True)
    return FileResponse(tmp / name, media_type="application/zip", filename=name, background=cleanup)
