"""The audit log read as a labelling record: which rows are in force, which concern the film report, and undo.

The log (:mod:`.audit`) holds two kinds of rows. *Report rows* change the model's cells as the film report
counts them: ``reclassify``, ``attribute``, ``not_wbc`` and ``confirm`` of a model cell (ids ``0 .. n - 1``).
*Labelling rows* only build the training labels of a field (:mod:`.patch`): the patch moved or drawn
(``patch_move``, ``patch_draw``), a box added (``box_add``; the new box's id is ``n + k`` for the ``k``-th
addition of the analysis, so ids never collide or move), a box resized (``resize``), an added box reclassified
(``reclassify`` with an id ``>= n``) or rejected (``reject``), the patch completed (``patch_complete``).

Nothing is ever removed from the log: ``undo`` is a row too, whose ``after`` lists the (0-based) log rows it
takes back. A row is *in force* when it is not an ``undo`` row and no ``undo`` row names it. Rows that concern a
whole field (patch rows, ``undo``) have ``cell`` -1 and ``field`` ``patch.<field index>``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

from .audit import AuditEntry

__all__ = [
    "REPORT_ACTIONS",
    "entry_field",
    "field_key",
    "in_force",
    "is_report_row",
    "next_time",
    "report_rows",
    "undone_rows",
]

REPORT_ACTIONS = ("reclassify", "attribute", "not_wbc", "confirm")
"""Actions that change a model cell as the film report counts it."""


def field_key(index: int) -> str:
    """The ``field`` of a row that concerns field ``index`` as a whole (its patch, an undo)."""
    return f"patch.{index}"


def undone_rows(log: Sequence[AuditEntry]) -> set[int]:
    """Indices of the rows an ``undo`` row takes back."""
    out: set[int] = set()
    for entry in log:
        if entry.action == "undo" and isinstance(entry.after, list):
            out.update(int(i) for i in entry.after)
    return out


def in_force(log: Sequence[AuditEntry]) -> list[tuple[int, AuditEntry]]:
    """``(index, row)`` of every row in force (not an undo row, not taken back), oldest first."""
    undone = undone_rows(log)
    return [(i, e) for i, e in enumerate(log) if e.action != "undo" and i not in undone]


def is_report_row(entry: AuditEntry, n_cells: int) -> bool:
    """Whether ``entry`` changes one of the ``n_cells`` model cells as the report counts them."""
    return entry.action in REPORT_ACTIONS and 0 <= entry.cell < n_cells


def report_rows(log: Sequence[AuditEntry], n_cells: int) -> tuple[list[AuditEntry], list[AuditEntry]]:
    """``(rows, kept)``: the rows that concern the report (report rows and the undo rows taking one back), and
    the report rows in force (what the report replays)."""
    report = {i for i, e in enumerate(log) if is_report_row(e, n_cells)}
    rows = [
        e
        for i, e in enumerate(log)
        if i in report or (e.action == "undo" and report & set(e.after if isinstance(e.after, list) else ()))
    ]
    kept = [e for i, e in in_force(log) if i in report]
    return rows, kept


def entry_field(
    entry: AuditEntry, cells: Sequence[Mapping[str, Any]], added: Mapping[int, int]
) -> int | None:
    """The field a row concerns: its patch's, its model cell's or its added box's (``added``: id -> field)."""
    if entry.cell < 0:
        head, _, tail = entry.field.partition(".")
        return int(tail) if head == "patch" and tail.isdigit() else None
    if entry.cell < len(cells):
        return int(cells[entry.cell]["field"])
    if entry.action == "box_add" and isinstance(entry.after, Mapping):
        return int(entry.after["field"])
    return added.get(entry.cell)


def next_time(log: Sequence[AuditEntry]) -> str:
    """Now (UTC, ISO 8601 with milliseconds), at least 1 ms after the log's last row: each request's rows share
    one time that no other request has, so "the last action" is the rows of the latest time."""
    now = _dt.datetime.now(_dt.timezone.utc)
    if log:
        try:
            last = _dt.datetime.fromisoformat(log[-1].time)
        except ValueError:
            last = None
        if last is not None and last.tzinfo is not None and now <= last:
            now = last + _dt.timedelta(milliseconds=1)
    return now.isoformat(timespec="milliseconds")
