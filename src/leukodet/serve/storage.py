"""Where analyses live: one folder per analysis under ``<data>/analyses/`` and a SQLite index ``<data>/index.sqlite3``.

An analysis folder is written complete under ``<data>/staging/<id>`` and then renamed into place, and only then
indexed, so a reader never sees half an analysis. Each folder also holds ``analysis.json`` (its index row), so
:meth:`Storage.reconcile` (run when a service starts) re-indexes a folder whose row a crash lost and drops rows
whose folder is gone. Ids are server-made (:func:`new_id`); an id that does not match :data:`ID_PATTERN` is
refused before any path is built from it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..records.files import atomic_write_text

__all__ = ["ID_PATTERN", "AnalysisRecord", "Storage", "UnknownAnalysis", "new_id", "valid_id"]

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
"""What a server-made analysis id looks like; anything else is unknown (404) and never touches the disk."""

RECORD_FILE = "analysis.json"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS analyses (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    n_files INTEGER NOT NULL,
    n_cells INTEGER NOT NULL,
    status TEXT NOT NULL
)
"""
_COLUMNS = "id, created, n_files, n_cells, status"


class UnknownAnalysis(LookupError):
    """No analysis with this id (malformed ids included)."""


def new_id() -> str:
    """A fresh, unguessable id (22 URL-safe characters)."""
    return secrets.token_urlsafe(16)


def valid_id(analysis_id: object) -> bool:
    """Whether ``analysis_id`` has the shape of a server-made id (checked before any path is built)."""
    return isinstance(analysis_id, str) and ID_PATTERN.fullmatch(analysis_id) is not None


@dataclass(frozen=True)
class AnalysisRecord:
    """One row of the index.

    Attributes:
        id: the analysis id.
        created: ISO 8601 time (UTC) of the report.
        n_files: field images analysed.
        n_cells: cells kept in the report (all classes).
        status: ``"done"`` (an analysis is stored only once it has finished).
    """

    id: str
    created: str
    n_files: int
    n_cells: int
    status: str = "done"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Storage:
    """Analysis folders plus their SQLite index under ``root`` (created if needed)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.analyses = self.root / "analyses"
        self.staging_root = self.root / "staging"
        self.analyses.mkdir(parents=True, exist_ok=True)
        self.staging_root.mkdir(parents=True, exist_ok=True)
        self.index = self.root / "index.sqlite3"
        self._lock = threading.Lock()
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection (one per call, so any thread may use the storage); commits on success."""
        db = sqlite3.connect(self.index, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def folder(self, analysis_id: str) -> Path:
        """The folder of an analysis; :class:`UnknownAnalysis` for a malformed id (no path is built)."""
        if not valid_id(analysis_id):
            raise UnknownAnalysis(analysis_id)
        return self.analyses / analysis_id

    def analysis_folders(self) -> list[Path]:
        """The folders of the stored analyses (by valid id), sorted."""
        return sorted(p for p in self.analyses.iterdir() if p.is_dir() and valid_id(p.name))

    def staging(self, analysis_id: str) -> Path:
        """A fresh, empty folder in which to write analysis ``analysis_id`` before :meth:`commit`."""
        if not valid_id(analysis_id):
            raise UnknownAnalysis(analysis_id)
        folder = self.staging_root / analysis_id
        folder.mkdir()
        return folder

    def discard(self, staged: Path) -> None:
        """Remove a staging folder (an analysis that failed)."""
        shutil.rmtree(staged, ignore_errors=True)

    def commit(self, staged: Path, record: AnalysisRecord) -> None:
        """Write ``analysis.json`` into ``staged``, rename it into place and index it."""
        atomic_write_text(staged / RECORD_FILE, json.dumps(record.to_json()) + "\n")
        os.replace(staged, self.folder(record.id))
        self._insert(record)

    def _insert(self, record: AnalysisRecord) -> None:
        with self._lock, self._db() as db:
            db.execute(
                f"INSERT OR REPLACE INTO analyses ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (record.id, record.created, record.n_files, record.n_cells, record.status),
            )

    def get(self, analysis_id: str) -> AnalysisRecord:
        """The index row of an analysis; :class:`UnknownAnalysis` when there is none."""
        if not valid_id(analysis_id):
            raise UnknownAnalysis(analysis_id)
        with self._db() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM analyses WHERE id = ?", (analysis_id,)).fetchone()
        if row is None:
            raise UnknownAnalysis(analysis_id)
        return AnalysisRecord(*row)

    def page(self, limit: int, offset: int) -> tuple[list[AnalysisRecord], int]:
        """Analyses newest first (``limit`` from ``offset``), and how many there are in all."""
        with self._db() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM analyses ORDER BY created DESC, rowid DESC LIMIT ? OFFSET ?",
                (int(limit), int(offset)),
            ).fetchall()
            total = db.execute("SELECT COUNT(*) FROM analyses").fetchone()[0]
        return [AnalysisRecord(*r) for r in rows], int(total)

    def file(self, analysis_id: str, *parts: str) -> Path:
        """An existing file of a stored analysis; :class:`UnknownAnalysis` when the analysis or file is absent.

        ``parts`` are names chosen by the service (never by a client).
        """
        self.get(analysis_id)
        path = self.folder(analysis_id).joinpath(*parts)
        if not path.is_file():
            raise UnknownAnalysis(analysis_id)
        return path

    def delete(self, analysis_id: str) -> None:
        """Move the analysis's folder out (into staging), then unindex it, then remove the folder;
        :class:`UnknownAnalysis` when there is none. A crash after the move leaves a row without a folder,
        which :meth:`reconcile` drops: the analysis stays deleted (never re-indexed from its folder)."""
        self.get(analysis_id)
        trash = self.staging_root / f"deleted-{analysis_id}-{secrets.token_hex(4)}"
        try:
            os.replace(self.folder(analysis_id), trash)
        except FileNotFoundError:
            pass
        if not self._unindex(analysis_id):
            raise UnknownAnalysis(analysis_id)
        shutil.rmtree(trash, ignore_errors=True)

    def _unindex(self, analysis_id: str) -> bool:
        with self._lock, self._db() as db:
            return bool(db.execute("DELETE FROM analyses WHERE id = ?", (analysis_id,)).rowcount)

    def reconcile(self) -> dict[str, int]:
        """Make index and folders agree after a crash; returns what was done.

        Clears the staging area (unfinished analyses and half-deleted folders), removes temporary files an
        interrupted atomic write left in analysis folders, indexes complete folders that have no row, and drops
        rows whose folder is gone.
        """
        for leftover in self.staging_root.iterdir():
            shutil.rmtree(leftover, ignore_errors=True)
        temporary = [p for p in self.analyses.glob("*/**/.*.tmp") if p.is_file()]
        for path in temporary:
            path.unlink(missing_ok=True)
        with self._db() as db:
            indexed = {r[0] for r in db.execute("SELECT id FROM analyses")}
        on_disk = {p.name for p in self.analyses.iterdir() if p.is_dir() and valid_id(p.name)}
        added = 0
        for analysis_id in sorted(on_disk - indexed):
            record = _read_record(self.analyses / analysis_id / RECORD_FILE)
            if record is not None and record.id == analysis_id:
                self._insert(record)
                added += 1
        dropped = sorted(indexed - on_disk)
        with self._lock, self._db() as db:
            db.executemany("DELETE FROM analyses WHERE id = ?", [(i,) for i in dropped])
        return {"reindexed": added, "dropped": len(dropped), "temporary_files_removed": len(temporary)}


def _read_record(path: Path) -> AnalysisRecord | None:
    try:
        data = json.loads(path.read_text())
        return AnalysisRecord(
            str(data["id"]),
            str(data["created"]),
            int(data["n_files"]),
            int(data["n_cells"]),
            str(data["status"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
