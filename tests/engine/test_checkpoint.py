"""Checkpoints load with weights_only=True and refuse tampered or foreign files with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from leukodet.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def _weights() -> dict[str, torch.Tensor]:
    return {"a.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3), "a.bias": torch.zeros(2)}


def test_round_trip_with_metadata(tmp_path: Path) -> None:
    path = save_checkpoint(
        tmp_path / "w" / "last.pt",
        _weights(),
        {"classes": ["WBC"], "imgsz": 320},
        train_state={"epoch": 3, "rng": torch.get_rng_state()},
    )
    ckpt = load_checkpoint(path)
    assert ckpt["metadata"] == {"classes": ["WBC"], "imgsz": 320}
    assert torch.equal(ckpt["model"]["a.weight"], _weights()["a.weight"])
    assert ckpt["train_state"]["epoch"] == 3
    assert not list((tmp_path / "w").glob(".*.tmp"))  # atomic: no temporary left


def test_tampered_weights_refused(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "x.pt", _weights(), {})
    ckpt = torch.load(path, weights_only=True)
    ckpt["model"]["a.weight"][0, 0] = 42.0
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="do not match their digest"):
        load_checkpoint(path)


def test_truncated_file_refused(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "x.pt", _weights(), {})
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="not a loadable"):
        load_checkpoint(path)


class Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


def test_foreign_pickle_refused_without_running_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "leukodet-checkpoint", "x": Evil()}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert "pwned" not in capsys.readouterr().out
    other = tmp_path / "plain.pt"
    torch.save({"state_dict": _weights()}, other)
    with pytest.raises(CheckpointError, match="not a leukodet checkpoint"):
        load_checkpoint(other)
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "text.pt")
