"""A hematologist's review of an analysis: changes checked against the model, logged, then the report rebuilt.

A :class:`~leukodet.serve.schemas.ReviewRequest` lists changes (reclassify a cell, set one attribute, mark a
cell not-a-WBC, confirm a cell as it stands). They are checked against the model's vocabulary and applied in
order, all or none: an unknown cell is :class:`ReviewRefused` 404, an unknown class, attribute or value 422,
each with a message that names the allowed values. A change that changes nothing (the cell already has that
class or value, or is already reviewed) is left out of the log. The kept changes are appended to the audit log
(:mod:`.audit`) and only then is the report rebuilt (:mod:`.rebuild`); the model's own report is copied to
``model_report.json`` once, before the first change is logged, and never touched again.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..report.flags import RuleSet
from .audit import AuditEntry, append_audit, read_audit
from .labels import next_time, report_rows
from .rebuild import MODEL_REPORT, apart_class, apply_entry, load_json, rebuild_report, replay
from .schemas import Change, Confirm, NotWbc, Reclassify, ReviewRequest, SetAttribute

__all__ = [
    "REVIEW_LOCK",
    "ReviewRefused",
    "apply_review",
    "keep_model_report",
    "model_report",
    "plan_changes",
    "repair_reviews",
    "report_is_current",
]

REVIEW_LOCK = threading.Lock()
"""One review (or labelling action) at a time (one service process per data directory), so no change is lost
to a race."""


class ReviewRefused(Exception):
    """A change that cannot be applied: ``status`` is the HTTP status, ``message`` the JSON ``detail``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def model_report(folder: Path) -> dict[str, Any]:
    """The report as the model made it: ``model_report.json`` once reviewed, else ``report.json``."""
    kept = folder / MODEL_REPORT
    return load_json(kept if kept.is_file() else folder / "report.json")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _listed(values: Sequence[str]) -> str:
    return ", ".join(values) if values else "none"


def _class_target(
    change: Reclassify, cell: Mapping[str, Any], classes: Sequence[str]
) -> tuple[str, Any, Any]:
    if change.class_ not in classes:
        raise ReviewRefused(
            422,
            f"cell {change.cell}: unknown class {change.class_!r} (the model's classes: {_listed(classes)})",
        )
    return "class", cell["class"], change.class_


def _attribute_target(
    change: SetAttribute, cell: Mapping[str, Any], schema: Mapping[str, Sequence[str]]
) -> tuple[str, Any, Any]:
    where = f"cell {change.cell}"
    if change.attribute not in schema:
        known = f"the model's attributes: {_listed(list(schema))}" if schema else "the model predicts none"
        raise ReviewRefused(422, f"{where}: unknown attribute {change.attribute!r} ({known})")
    values = schema[change.attribute]
    if change.value not in values:
        raise ReviewRefused(
            422,
            f"{where}: attribute {change.attribute!r} has no value {change.value!r} (allowed: {_listed(values)})",
        )
    before = (cell["attributes"].get(change.attribute) or {}).get("value")
    return f"attributes.{change.attribute}", before, change.value


def _target(
    change: Change, cell: Mapping[str, Any], model: Mapping[str, Any], reviewed: bool
) -> tuple[str, Any, Any]:
    """``(field, before, after)`` of one change to ``cell``."""
    if isinstance(change, Reclassify):
        return _class_target(change, cell, model["classes"])
    if isinstance(change, SetAttribute):
        return _attribute_target(change, cell, model["attributes"])
    if isinstance(change, NotWbc):
        return "class", cell["class"], apart_class(model["classes"], model.get("roles") or ())
    assert isinstance(change, Confirm)
    return "reviewed", reviewed, True


def plan_changes(
    request: ReviewRequest,
    model: Mapping[str, Any],
    cells: Sequence[Mapping[str, Any]],
    reviewed: set[int],
    when: str | None = None,
) -> list[AuditEntry]:
    """The audit entries of ``request`` on the current ``cells`` (no-op changes left out).

    Raises :class:`ReviewRefused` (404 unknown cell, 422 unknown class, attribute or value) before anything
    is written.
    """
    time = when or _now()
    current = replay(cells, [])
    seen = set(reviewed)
    entries = []
    for change in request.changes:
        if change.cell >= len(current):
            ids = f"cell ids are 0-{len(current) - 1}" if current else "it has no cells"
            raise ReviewRefused(404, f"no cell {change.cell} in this analysis ({ids})")
        field, before, after = _target(change, current[change.cell], model, change.cell in seen)
        seen.add(change.cell)
        if before == after:
            continue
        entry = AuditEntry(time, request.reviewer, change.cell, change.action, field, before, after)
        apply_entry(current[change.cell], entry)
        entries.append(entry)
    return entries


def apply_review(folder: Path, request: ReviewRequest, rules: RuleSet | None) -> dict[str, Any]:
    """Check, log and apply ``request`` to the analysis in ``folder``; returns its (rebuilt) report.

    Nothing is written when a change is refused or when no change changes anything (except to bring a report
    that a crash left behind its log up to date).
    """
    with REVIEW_LOCK:
        original = model_report(folder)
        log = read_audit(folder)
        _, kept = report_rows(log, len(original["cells"]))
        cells = replay(original["cells"], kept)
        entries = plan_changes(request, original["model"], cells, {e.cell for e in kept}, next_time(log))
        if not entries:
            current = load_json(folder / "report.json")
            if report_is_current(current, original, log):
                return current
            return rebuild_report(folder, original, log, rules)  # a crash came between log and report
        keep_model_report(folder)
        append_audit(folder, entries)
        return rebuild_report(folder, original, log + entries, rules)


def report_is_current(
    current: Mapping[str, Any], original: Mapping[str, Any], log: Sequence[AuditEntry]
) -> bool:
    """Whether the stored report ``current`` holds every row of ``log`` that concerns it (a crash between
    writing the log and rebuilding the report leaves it behind)."""
    rows, _ = report_rows(log, len(original["cells"]))
    return bool((current.get("review") or {}).get("changes", 0) == len(rows))


def repair_reviews(folders: Sequence[Path], rules: RuleSet | None) -> int:
    """Rebuild every report that a crash left behind its audit log (the log is the record of what was
    done; the report, pages and exports are rebuilt from it); returns how many were rebuilt."""
    repaired = 0
    for folder in folders:
        log = read_audit(folder)
        if not log:
            continue
        current = load_json(folder / "report.json")
        original = model_report(folder)
        if not report_is_current(current, original, log):
            with REVIEW_LOCK:
                rebuild_report(folder, original, log, rules)
            repaired += 1
    return repaired


def keep_model_report(folder: Path) -> None:
    """Copy ``report.json`` (the model's) to ``model_report.json``, complete or not at all, unless it is there."""
    if (folder / MODEL_REPORT).is_file():
        return
    tmp = folder / f".{MODEL_REPORT}.tmp"
    shutil.copyfile(folder / "report.json", tmp)
    tmp.replace(folder / MODEL_REPORT)
