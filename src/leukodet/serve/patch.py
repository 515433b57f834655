"""Patch labelling: a reviewer's actions on one field's patch and boxes, checked, logged, and (when they change
the model's cells) folded into the film report.

Every action is one request, checked against the field's state (:mod:`.patch_state`) before anything is written,
and becomes rows of the analysis's audit log (:mod:`.audit`) with the reviewer and one time per request
(:func:`~.labels.next_time`): ``patch_move`` / ``patch_draw``, ``box_add``, ``resize``, ``confirm`` /
``reclassify`` / ``not_wbc`` of a model cell (the review's own rows, so the report is rebuilt), ``reclassify`` /
``reject`` of an added box, ``patch_complete`` (with a ``confirm`` row for every model box in the patch the
reviewer left as it was) and ``undo`` (the rows of the field's latest request in force). A complete patch is
locked: only ``undo`` changes it. Refusals are :class:`~.review.ReviewRefused` (404 unknown field or box, 409 a
complete patch or nothing to undo, 422 a rectangle outside the image, without area, or an unknown class).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..report.flags import RuleSet
from .audit import AuditEntry, append_audit, read_audit
from .labels import field_key, next_time, report_rows
from .patch_schemas import BoxAdd, BoxChange, PatchComplete, PatchSet, Undo
from .patch_state import FieldLabels, LabelBox, analysis_labels, inside
from .rebuild import apart_class, rebuild_report, replay
from .review import REVIEW_LOCK, ReviewRefused, keep_model_report, model_report, plan_changes
from .schemas import Confirm, NotWbc, Reclassify, ReviewRequest

__all__ = [
    "Plan",
    "apply_labelling",
    "check_rect",
    "field_state",
    "plan_add",
    "plan_box",
    "plan_complete",
    "plan_patch",
    "plan_undo",
    "read_state",
]

Plan = Callable[[FieldLabels, Mapping[str, Any], Sequence[AuditEntry], str], list[AuditEntry]]
"""``plan(state, model report, log, time)``: the rows of one action (empty: it changes nothing)."""


def _number(v: float) -> str:
    return f"{v:g}"


def check_rect(values: Sequence[float], width: int, height: int, what: str, digits: int = 2) -> list[float]:
    """``values`` rounded to ``digits`` decimals when they are a rectangle of positive size inside the image;
    :class:`ReviewRefused` 422 with one message otherwise."""
    shown = "[" + ", ".join(_number(float(v)) for v in values) + "]"
    if not all(math.isfinite(float(v)) for v in values):
        raise ReviewRefused(422, f"{what} {shown}: coordinates must be finite numbers")
    x1, y1, x2, y2 = (round(float(v), digits) if digits else float(round(float(v))) for v in values)
    if x2 <= x1 or y2 <= y1:
        raise ReviewRefused(422, f"{what} {shown} has no area: it needs x1 < x2 and y1 < y2")
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        raise ReviewRefused(
            422, f"{what} {shown} is not inside the {width}x{height} image (0 <= x1 < x2 <= {width}, "
            f"0 <= y1 < y2 <= {height})",
        )  # fmt: skip
    return [x1, y1, x2, y2]


def _check_class(name: str, classes: Sequence[str], where: str) -> str:
    if name not in classes:
        listed = ", ".join(classes) or "none"
        raise ReviewRefused(422, f"{where}: unknown class {name!r} (the model's classes: {listed})")
    return name


def _open(state: FieldLabels) -> None:
    if state.complete:
        raise ReviewRefused(
            409, f"the patch of field {state.index} is complete; undo the completion to change it"
        )


def _row(time: str, reviewer: str, cell: int, action: str, field: str, before: Any, after: Any) -> AuditEntry:
    return AuditEntry(time, reviewer, cell, action, field, before, after)


def plan_patch(body: PatchSet) -> Plan:
    """Move or draw the field's patch (integer pixels, inside the image)."""

    def plan(
        state: FieldLabels, _: Mapping[str, Any], log: Sequence[AuditEntry], time: str
    ) -> list[AuditEntry]:
        _open(state)
        region = check_rect(body.region, state.width, state.height, "patch", digits=0)
        if region == state.region:
            return []
        action = "patch_move" if body.how == "move" else "patch_draw"
        return [_row(time, body.reviewer, -1, action, field_key(state.index), state.region, region)]

    return plan


def plan_complete(body: PatchComplete) -> Plan:
    """Complete the patch: a ``confirm`` row for each model box in it not reviewed yet, then ``patch_complete``."""

    def plan(
        state: FieldLabels, _: Mapping[str, Any], log: Sequence[AuditEntry], time: str
    ) -> list[AuditEntry]:
        if state.complete:
            raise ReviewRefused(409, f"the patch of field {state.index} is already complete")
        rows = [
            _row(time, body.reviewer, b.id, "confirm", "reviewed", False, True)
            for b in state.live()
            if b.source == "model" and not b.reviewed and inside(b.box, state.region)
        ]
        before, after = (
            {"status": "open", "region": state.region},
            {"status": "complete", "region": state.region},
        )
        return rows + [_row(time, body.reviewer, -1, "patch_complete", field_key(state.index), before, after)]

    return plan


def plan_add(body: BoxAdd) -> Plan:
    """Add a box for a missed cell; its id is ``n + k`` (``k``: boxes added in the analysis before it)."""

    def plan(
        state: FieldLabels, original: Mapping[str, Any], log: Sequence[AuditEntry], time: str
    ) -> list[AuditEntry]:
        _open(state)
        box = check_rect(body.box, state.width, state.height, "box")
        name = _check_class(body.class_, original["model"]["classes"], "new box")
        new = len(original["cells"]) + sum(1 for e in log if e.action == "box_add")
        after = {"field": state.index, "box": box, "class": name}
        return [_row(time, body.reviewer, new, "box_add", "box", None, after)]

    return plan


def _box(state: FieldLabels, box_id: int) -> LabelBox:
    box = state.boxes.get(box_id)
    if box is None or box.removed:
        ids = ", ".join(str(b.id) for b in state.live()) or "none"
        raise ReviewRefused(404, f"no box {box_id} in field {state.index} (its boxes: {ids})")
    return box


def _model_rows(
    body: BoxChange, box: LabelBox, original: Mapping[str, Any], log: Sequence[AuditEntry], time: str
) -> list[AuditEntry]:
    """Confirm, reclassify or reject a model cell: the review's own rows (a reject is ``not_wbc``, logged even
    when the model already called the cell an artefact)."""
    model = original["model"]
    if body.action == "reject":
        apart = apart_class(model["classes"], model.get("roles") or ())
        if box.class_ == apart and not box.rejected:
            return [_row(time, body.reviewer, box.id, "not_wbc", "class", box.class_, apart)]
        change: Any = NotWbc(action="not_wbc", cell=box.id)
    elif body.action == "reclassify":
        change = Reclassify(action="reclassify", cell=box.id, **{"class": body.class_})
    else:
        change = Confirm(action="confirm", cell=box.id)
    _, kept = report_rows(log, len(original["cells"]))
    request = ReviewRequest(reviewer=body.reviewer, changes=[change])
    return plan_changes(request, model, replay(original["cells"], kept), {e.cell for e in kept}, time)


def plan_box(box_id: int, body: BoxChange) -> Plan:
    """Confirm, reclassify, reject or resize box ``box_id`` of the field."""

    def plan(
        state: FieldLabels, original: Mapping[str, Any], log: Sequence[AuditEntry], time: str
    ) -> list[AuditEntry]:
        _open(state)
        box = _box(state, box_id)
        where = f"box {box_id}"
        if body.action == "resize":
            if body.box is None:
                raise ReviewRefused(422, f"{where}: resize needs 'box' [x1, y1, x2, y2]")
            new = check_rect(body.box, state.width, state.height, "box")
            return (
                [] if new == box.box else [_row(time, body.reviewer, box_id, "resize", "box", box.box, new)]
            )
        if body.action == "reclassify":
            if body.class_ is None:
                raise ReviewRefused(422, f"{where}: reclassify needs 'class'")
            _check_class(body.class_, original["model"]["classes"], where)
        if box.source == "model":
            return _model_rows(body, box, original, log, time)
        if body.action == "reject":
            return [_row(time, body.reviewer, box_id, "reject", "box", box.box, None)]
        if body.action == "reclassify" and body.class_ != box.class_:
            return [_row(time, body.reviewer, box_id, "reclassify", "class", box.class_, body.class_)]
        return []  # confirming an added box (a person drew it) changes nothing

    return plan


def plan_undo(body: Undo) -> Plan:
    """Take back the rows of the latest request in force on the field."""

    def plan(
        state: FieldLabels, _: Mapping[str, Any], log: Sequence[AuditEntry], time: str
    ) -> list[AuditEntry]:
        if not state.rows:
            raise ReviewRefused(409, f"nothing to undo on field {state.index}")
        last = log[state.rows[-1]]
        rows = [i for i in state.rows if log[i].time == last.time and log[i].reviewer == last.reviewer]
        undone = ", ".join(sorted({log[i].action for i in rows}))
        return [_row(time, body.reviewer, -1, "undo", field_key(state.index), undone, rows)]

    return plan


def field_state(original: Mapping[str, Any], log: Sequence[AuditEntry], index: int) -> FieldLabels:
    """The labelling state of field ``index``; :class:`ReviewRefused` 404 when there is no such field."""
    states = analysis_labels(original, log, only={index})
    if index not in states:
        n = len(original["fields"])
        known = f"fields are 0-{n - 1}" if n else "it has no fields"
        raise ReviewRefused(404, f"no field {index} in this analysis ({known})")
    return states[index]


def apply_labelling(folder: Path, index: int, plan: Plan, rules: RuleSet | None) -> FieldLabels:
    """Check ``plan`` on field ``index`` of the analysis in ``folder``, log its rows, rebuild the report when
    they change the model's cells; returns the field's new state. Nothing is written when it is refused or
    changes nothing."""
    with REVIEW_LOCK:
        original = model_report(folder)
        log = read_audit(folder)
        entries = plan(field_state(original, log, index), original, log, next_time(log))
        if not entries:
            return field_state(original, log, index)
        keep_model_report(folder)
        append_audit(folder, entries)
        new = [*log, *entries]
        n_cells = len(original["cells"])
        if len(report_rows(new, n_cells)[0]) != len(report_rows(log, n_cells)[0]):
            rebuild_report(folder, original, new, rules)
        return field_state(original, new, index)


def read_state(folder: Path, index: int) -> FieldLabels:
    """The labelling state of field ``index`` (its patch proposed when nobody moved it)."""
    return field_state(model_report(folder), read_audit(folder), index)
