"""Checkpoints load with weights_only=True and refuse tampered or foreign files with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from leukodet.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


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
    with pytest.raises(CheckpointError, match="does not match its digest"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["model"]["a.weight"].__setitem__((0, 0), 42.0),  # the training weights --resume reads
        lambda c: c["train_state"].__setitem__("epoch", 4),
        lambda c: c["train_state"]["optimizer"]["param_groups"][0].__setitem__("lr", 1.0),
        lambda c: c.__setitem__("metadata", c["metadata"].replace("WBC", "RBC")),
    ],
)
def test_a_change_anywhere_is_refused(tmp_path: Path, change: object) -> None:
    ema = {k: v + 1 for k, v in _weights().items()}
    state = {"epoch": 3, "optimizer": {"param_groups": [{"lr": 0.01}], "state": {0: {"m": torch.ones(2)}}}}
    path = save_checkpoint(tmp_path / "x.pt", _weights(), {"classes": ["WBC"]}, ema=ema, train_state=state)
    assert load_checkpoint(path)["train_state"]["epoch"] == 3
    ckpt = torch.load(path, weights_only=True)
    change(ckpt)  # type: ignore[operator]
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="does not match its digest"):
        load_checkpoint(path)


def test_a_checkpoint_from_before_the_full_digest_still_loads(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "x.pt", _weights(), {})
    ckpt = torch.load(path, weights_only=True)
    del ckpt["full_digest"]
    torch.save(ckpt, path)
    assert torch.equal(load_checkpoint(path)["model"]["a.bias"], torch.zeros(2))


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
