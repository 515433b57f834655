"""Bundled checkpoints load by name, only after their SHA-256 check; a changed file is refused clearly; a release
checkpoint (fp16, card inside) predicts what its training checkpoint predicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import leukodet.bundled as bundled
from leukodet import api
from leukodet.bundled import BundleError, file_sha256, install_bundled, resolve_weights
from leukodet.engine.release import pack_release
from leukodet.infer.predictor import Detector
from leukodet.model.checkpoint import CheckpointError, load_checkpoint


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
    entry = install_bundled(name, checkpoint, card=f"docs/models.md#{name}", root=folder)
    assert json.loads((folder / "models.json").read_text())[name]["sha256"] == file_sha256(entry.path)
    return entry.path


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


def test_a_release_checkpoint_is_half_precision_with_its_card_and_predicts_the_same(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    checkpoint, data = trained
    card = {"name": "tiny-n", "epochs": 1}
    release = pack_release(checkpoint, tmp_path / "tiny-n.pt", card)
    ckpt = load_checkpoint(release)
    assert ckpt["ema"] is None and ckpt["train_state"] is None and ckpt["metadata"]["card"] == card
    floats = [t for t in ckpt["model"].values() if t.is_floating_point()]
    assert floats and all(t.dtype == torch.float16 for t in floats)
    assert release.stat().st_size < 0.5 * checkpoint.stat().st_size  # no optimiser, no raw copy, 2 bytes
    source = load_checkpoint(checkpoint)["ema"]  # the inference weights, rounded to fp16
    assert set(ckpt["model"]) == set(source)
    for name, value in source.items():
        torch.testing.assert_close(ckpt["model"][name], value.half() if value.is_floating_point() else value)
    x = torch.rand(2, 3, 160, 160, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full, half = (Detector.load(p).model(x).levels for p in (checkpoint, release))
    for a, b in zip(full, half):  # an untrained net's logits reach hundreds: compare against their scale
        assert float((b - a).abs().max()) <= 0.03 * float(a.abs().max())
