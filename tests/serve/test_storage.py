"""The storage layer alone: id shapes, atomic commit, and repair of the index after an unclean stop."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from leukodet.serve.storage import AnalysisRecord, Storage, UnknownAnalysis, new_id, valid_id


def _stored(storage: Storage, created: str = "2025-01-01T00:00:00+00:00") -> AnalysisRecord:
    record = AnalysisRecord(new_id(), created, 2, 5)
    staged = storage.staging(record.id)
    (staged / "report.json").write_text("{}")
    storage.commit(staged, record)
    return record


def test_ids() -> None:
    ids = {new_id() for _ in range(200)}
    assert len(ids) == 200 and all(valid_id(i) for i in ids)
    for bad in [
        "",
        "short",
        "x" * 65,
        "../../etc/passwd",
        "abc/defghi",
        "abcdefgh\x00",
        "abcdéfghij",
        None,
        12345678,
    ]:
        assert not valid_id(bad)
    assert valid_id("A" * 8) and valid_id("a-b_c" * 12)


def test_malformed_ids_are_refused_before_any_path(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    for call in (storage.folder, storage.staging, storage.get, storage.delete):
        with pytest.raises(UnknownAnalysis):
            call("../../etc")
    with pytest.raises(UnknownAnalysis):
        storage.file("../../etc", "report.json")


def test_commit_is_visible_only_complete(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    record = _stored(storage)
    folder = storage.folder(record.id)
    assert (folder / "analysis.json").is_file() and (folder / "report.json").is_file()
    assert not any(storage.staging_root.iterdir())
    assert storage.get(record.id) == record and storage.page(10, 0) == ([record], 1)
    assert storage.file(record.id, "report.json") == folder / "report.json"
    with pytest.raises(UnknownAnalysis):
        storage.file(record.id, "missing.txt")


def test_reconcile_after_an_unclean_stop(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    lost_row, lost_folder, kept = _stored(storage), _stored(storage), _stored(storage)
    with sqlite3.connect(storage.index) as db:  # crash between rename and index insert
        db.execute("DELETE FROM analyses WHERE id = ?", (lost_row.id,))
    shutil.rmtree(storage.folder(lost_folder.id))  # folder gone by hand
    (storage.staging_root / new_id()).mkdir()  # an analysis that never finished
    (storage.analyses / "not-an-id!").mkdir()
    again = Storage(tmp_path)
    (storage.folder(kept.id) / ".report.html.abc123.tmp").write_text("half")  # an interrupted atomic write
    assert again.reconcile() == {"reindexed": 1, "dropped": 1, "temporary_files_removed": 1}
    assert {r.id for r in again.page(10, 0)[0]} == {lost_row.id, kept.id}
    assert not any(again.staging_root.iterdir()) and not list(storage.folder(kept.id).glob(".*.tmp"))
    assert again.reconcile() == {"reindexed": 0, "dropped": 0, "temporary_files_removed": 0}


def test_a_crash_inside_delete_never_brings_the_analysis_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = Storage(tmp_path)
    record = _stored(storage)

    def crash(analysis_id: str) -> bool:
        raise KeyboardInterrupt("killed")  # the process dies between the two steps of a delete

    monkeypatch.setattr(storage, "_unindex", crash)
    with pytest.raises(KeyboardInterrupt):
        storage.delete(record.id)
    again = Storage(tmp_path)  # the restart
    again.reconcile()
    assert again.page(10, 0) == ([], 0) and not again.folder(record.id).exists()
    with pytest.raises(UnknownAnalysis):
        again.get(record.id)


def test_delete_unindexes_then_removes(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    record = _stored(storage)
    storage.delete(record.id)
    assert not storage.folder(record.id).exists() and storage.page(10, 0) == ([], 0)
    with pytest.raises(UnknownAnalysis):
        storage.delete(record.id)
