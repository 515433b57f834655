"""Bundled checkpoints load by name, only after their SHA-256 check; a changed file is refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import leukodet.bundled as bundled
from leukodet import api
from leukodet.bundled import BundleError, file_sha256, resolve_weights
from leukodet.engine.checkpoint import CheckpointError, load_checkpoint
from leukodet.engine.predict import Detector


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("bundle")
    data = api.synth(root / "data", images=6, seed=2, size=160)
    summary = api.train(
        data, model="test_tiny", epochs=1, imgsz=160, batch=3, out=root / "run", progress=False,
        recipe="short", overrides=["train.attributes=false", "train.plots=false"],
    )  # fmt: skip
    return Path(summary["best"]), data


def _bundle(folder: Path, checkpoint: Path, name: str = "tiny-n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.pt"
    target.write_bytes(checkpoint.read_bytes())
    entry = {"file": target.name, "sha256": file_sha256(target), "card": f"docs/models.md#{name}"}
    (folder / "models.json").write_text(json.dumps({name: entry}))
    return target


def test_a_bundled_name_loads_everywhere_a_path_does(
    trained: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint, data = trained
    target = _bundle(tmp_path / "b", checkpoint)
    monkeypatch.setattr(bundled, "BUNDLE_DIR", tmp_path / "b")
    assert resolve_weights("tiny-n") == target
    assert (
        load_checkpoint("tiny-n")["metadata"]["classes"] == load_checkpoint(checkpoint)["metadata"]["classes"]
    )
    assert Detector.load("tiny-n").class_names == Detector.load(checkpoint).class_names
    summary = api.train(
        data, model="tiny-n", epochs=1, imgsz=160, batch=3, out=tmp_path / "ft", progress=False,
        recipe="short", overrides=["train.attributes=false", "train.plots=false"],
    )  # fmt: skip
    assert summary["epochs"] == 1  # fine-tuned from the bundled weights (not a preset name)
    assert load_checkpoint(summary["last"])["train_state"]["optimizer"]["param_groups"][0]["lr_scale"] == 0.1


def test_a_changed_bundled_file_is_refused_naming_it(
    trained: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _bundle(tmp_path / "b", trained[0])
    monkeypatch.setattr(bundled, "BUNDLE_DIR", tmp_path / "b")
    with open(target, "ab") as f:
        f.write(b"\0")
    with pytest.raises(CheckpointError, match=r"bundled model tiny-n: .*tiny-n\.pt has SHA-256 .* expected"):
        load_checkpoint("tiny-n")
    target.unlink()
    with pytest.raises(BundleError, match="is missing"):
        resolve_weights("tiny-n")


def test_an_unknown_name_lists_the_bundled_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundled, "BUNDLE_DIR", tmp_path)
    (tmp_path / "models.json").write_text(json.dumps({"synth-n": {"file": "s.pt", "sha256": "0" * 64}}))
    with pytest.raises(
        CheckpointError, match=r"general-x: no checkpoint file and no bundled model .*synth-n"
    ):
        load_checkpoint("general-x")
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")  # a path stays a path
    (tmp_path / "models.json").write_text("{oops")
    with pytest.raises(BundleError, match=r"models.json: not valid JSON \(line 1"):
        resolve_weights("x")
