"""The review audit log of an analysis: ``audit.jsonl`` in its folder, one JSON object per change, oldest first.

Each line is ``{"time", "reviewer", "cell", "action", "field", "before", "after"}`` (time: UTC ISO 8601 with
milliseconds). The log only grows: lines are never changed or removed. It is written crash-safe: the whole new
file (old lines + new ones) goes to a temporary file that is flushed to disk and then renamed over the old one,
so after a crash the log is either the old one or the new one, never a torn line.

The log is also the record of the review itself: the reviewed cells are the model's cells
(``model_report.json``, kept unchanged from the first review on) with the log's changes replayed in order
(:func:`leukodet.serve.review.replay`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["AUDIT_FILE", "AuditEntry", "append_audit", "read_audit"]

AUDIT_FILE = "audit.jsonl"


@dataclass(frozen=True)
class AuditEntry:
    """One change to one cell.

    Attributes:
        time: ISO 8601 time (UTC) of the change.
        reviewer: the name the reviewer gave.
        cell: the cell's id in the report (an added box's id, or -1 for a row about a whole field).
        action: ``reclassify``, ``attribute``, ``not_wbc`` or ``confirm``; patch labelling (:mod:`.labels`):
            ``patch_move``, ``patch_draw``, ``box_add``, ``resize``, ``reject``, ``patch_complete``, ``undo``.
        field: what changed: ``class``, ``attributes.<name>``, ``reviewed`` (a confirmation), ``box`` or
            ``patch.<field index>``.
        before: the value before the change.
        after: the value after it.
    """

    time: str
    reviewer: str
    cell: int
    action: str
    field: str
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditEntry:
        return cls(
            str(data["time"]),
            str(data["reviewer"]),
            int(data["cell"]),
            str(data["action"]),
            str(data["field"]),
            data.get("before"),
            data.get("after"),
        )


def read_audit(folder: Path) -> list[AuditEntry]:
    """The log of the analysis in ``folder``, oldest first (empty when nothing was reviewed)."""
    path = folder / AUDIT_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [AuditEntry.from_json(json.loads(line)) for line in text.splitlines() if line.strip()]


def _durable_replace(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, fsync it, rename it over ``path``, fsync the folder."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # a platform without directory handles
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def append_audit(folder: Path, entries: Sequence[AuditEntry]) -> None:
    """Add ``entries`` at the end of the log in ``folder`` (one crash-safe replace of the whole file)."""
    if not entries:
        return
    path = folder / AUDIT_FILE
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        old = b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    new = "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in entries)
    _durable_replace(path, old + new.encode("utf-8"))
