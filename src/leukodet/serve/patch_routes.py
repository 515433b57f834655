"""The patch labelling endpoints (``/v1``): one field's patch and boxes, undo, and the export's summary.

* ``GET  /analyses/{id}/fields/{n}/patch``: the field's labelling state (the proposed patch until moved);
* ``PUT  /analyses/{id}/fields/{n}/patch``: move or draw the patch;
* ``POST /analyses/{id}/fields/{n}/patch/complete``: the patch is labelled completely;
* ``POST /analyses/{id}/fields/{n}/boxes``: add a box for a missed cell (201);
* ``POST /analyses/{id}/fields/{n}/boxes/{box}``: confirm, reclassify, reject or resize a box;
* ``POST /analyses/{id}/fields/{n}/undo``: take back the field's last action;
* ``GET  /analyses/{id}/export/summary``: what the COCO export holds, and the retrain command.

Each action answers the field's new state; refusals are ``{"detail": "one line"}`` (:mod:`.patch`). With API
tokens the reviewer is the name of the request's token, whatever the body says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request

from .audit import read_audit
from .export import NothingReviewed, export_summary, reviewed_dataset
from .guards import REVIEWER_KEY
from .patch import Plan, apply_labelling, plan_add, plan_box, plan_complete, plan_patch, plan_undo, read_state
from .patch_schemas import BoxAdd, BoxChange, ExportSummary, FieldLabelState, PatchComplete, PatchSet, Undo
from .patch_state import analysis_labels
from .rebuild import load_json
from .review import ReviewRefused, model_report
from .review_routes import OneLineErrors
from .routes import Id, Svc
from .schemas import Error
from .storage import UnknownAnalysis

__all__ = ["router"]

router = APIRouter(prefix="/v1", route_class=OneLineErrors)

_FIELD = "/analyses/{analysis_id}/fields/{n:int}"
_REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"model": Error, "description": "no such analysis, field or box"},
    409: {"model": Error, "description": "the patch is complete (undo first), or nothing to undo"},
    422: {"model": Error, "description": "malformed body, a rectangle outside the image or without area, or an "
          "unknown class"},
}  # fmt: skip

Body = TypeVar("Body", PatchSet, PatchComplete, BoxAdd, BoxChange, Undo)


def _signed(body: Body, request: Request) -> Body:
    """``body`` with the token's name as reviewer when the service has API tokens."""
    name = request.scope.get(REVIEWER_KEY)
    return body.model_copy(update={"reviewer": name}) if name else body


def _act(svc: Svc, analysis_id: str, n: int, plan: Plan) -> dict[str, Any]:
    svc.storage.get(analysis_id)
    try:
        state = apply_labelling(svc.storage.folder(analysis_id), n, plan, svc.settings.rules)
    except ReviewRefused as exc:
        raise HTTPException(exc.status, exc.message) from None
    except FileNotFoundError:  # deleted meanwhile
        raise UnknownAnalysis(analysis_id) from None
    return state.to_json()


@router.get(f"{_FIELD}/patch", response_model=FieldLabelState, responses=_REFUSALS, summary="A field's patch")
def get_patch(analysis_id: Id, n: int, svc: Svc) -> dict[str, Any]:
    """The field's patch (proposed until a reviewer moves or draws it) and its boxes."""
    svc.storage.get(analysis_id)
    try:
        return read_state(svc.storage.folder(analysis_id), n).to_json()
    except ReviewRefused as exc:
        raise HTTPException(exc.status, exc.message) from None


@router.put(
    f"{_FIELD}/patch", response_model=FieldLabelState, responses=_REFUSALS, summary="Move or draw the patch"
)
def set_patch(analysis_id: Id, n: int, body: PatchSet, svc: Svc, request: Request) -> dict[str, Any]:
    return _act(svc, analysis_id, n, plan_patch(_signed(body, request)))


@router.post(
    f"{_FIELD}/patch/complete",
    response_model=FieldLabelState,
    responses=_REFUSALS,
    summary="Mark the patch complete (its untouched model boxes are confirmed)",
)
def complete_patch(
    analysis_id: Id, n: int, body: PatchComplete, svc: Svc, request: Request
) -> dict[str, Any]:
    return _act(svc, analysis_id, n, plan_complete(_signed(body, request)))


@router.post(
    f"{_FIELD}/boxes",
    status_code=201,
    response_model=FieldLabelState,
    responses=_REFUSALS,
    summary="Add a box for a cell the model missed",
)
def add_box(analysis_id: Id, n: int, body: BoxAdd, svc: Svc, request: Request) -> dict[str, Any]:
    return _act(svc, analysis_id, n, plan_add(_signed(body, request)))


@router.post(
    f"{_FIELD}/boxes/{{box:int}}",
    response_model=FieldLabelState,
    responses=_REFUSALS,
    summary="Confirm, reclassify, reject or resize a box",
)
def change_box(
    analysis_id: Id, n: int, box: int, body: BoxChange, svc: Svc, request: Request
) -> dict[str, Any]:
    return _act(svc, analysis_id, n, plan_box(box, _signed(body, request)))


@router.post(
    f"{_FIELD}/undo",
    response_model=FieldLabelState,
    responses=_REFUSALS,
    summary="Undo the field's last action",
)
def undo(analysis_id: Id, n: int, body: Undo, svc: Svc, request: Request) -> dict[str, Any]:
    return _act(svc, analysis_id, n, plan_undo(_signed(body, request)))


@router.get(
    "/analyses/{analysis_id}/export/summary",
    response_model=ExportSummary,
    responses={404: {"model": Error, "description": "no such analysis"}},
    summary="What the COCO export holds (fields with a complete patch, boxes per class, labelled area share)",
)
def get_export_summary(analysis_id: Id, svc: Svc) -> dict[str, Any]:
    svc.storage.get(analysis_id)
    folder: Path = svc.storage.folder(analysis_id)
    try:
        doc = load_json(folder / "report.json")
        labels = analysis_labels(model_report(folder), read_audit(folder), propose=False)
    except FileNotFoundError:  # deleted meanwhile
        raise UnknownAnalysis(analysis_id) from None
    try:
        ds = reviewed_dataset(doc, folder, analysis_id, None, labels)
    except NothingReviewed:
        ds = None
    weights = svc.settings.checkpoint or svc.settings.weights or "WEIGHTS.pt"
    return export_summary(ds, labels, weights, f"leukodet-{analysis_id}-coco")
