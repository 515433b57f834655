"""``train --model fcos-n`` is a leukodet run: results.csv with the val columns, leukodet checkpoints that say
FCOS, ``val`` and ``predict`` on them, resume; and clear errors for what FCOS does not do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from leukodet import api
from leukodet.cli import main
from leukodet.config import apply_overrides, load_config
from leukodet.engine.fcos_train import FcosTrainer, is_fcos_model
from leukodet.engine.hooks import EpochEnd, Hook
from leukodet.engine.trainer import Trainer
from leukodet.infer.predictor import Detector
from leukodet.model.checkpoint import load_checkpoint
from leukodet.model.fcos import FcosNet
from leukodet.records.diagnostics import DataError


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return api.synth(tmp_path_factory.mktemp("fcos") / "data", images=8, seed=3, size=160)


@pytest.fixture(scope="module")
def run(synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A two-epoch FCOS run through the command line (short recipe, as CPU runs use)."""
    out = tmp_path_factory.mktemp("fcos_run") / "run"
    args = ["train", "--data", str(synth_data), "--model", "fcos-n", "--epochs", "2", "--imgsz", "160",
            "--batch", "4", "--recipe", "short", "--out", str(out), "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, json.loads(result.output.strip().splitlines()[-1])


def test_train_writes_a_leukodet_run(run: tuple[Path, dict]) -> None:
    out, summary = run
    assert summary["architecture"] == "fcos" and summary["epochs"] == 2 and summary["recipe"] == "short"
    assert (out / "weights" / "best.pt").is_file() and (out / "weights" / "last.pt").is_file()
    lines = (out / "results.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[:4] == ["epoch", "train/loss_cls", "train/loss_box", "train/loss_ctr"]
    assert {"val/map50", "val/map50_95", "fitness"} <= set(header) and len(lines) == 3
    ckpt = load_checkpoint(out / "weights" / "best.pt")
    meta = ckpt["metadata"]
    assert meta["model_config"]["architecture"] == "fcos" and meta["model_config"]["name"] == "fcos_n"
    assert meta["imgsz"] == 160 and meta["attributes"] == {} and ckpt["ema"] is not None
    assert is_fcos_model(str(out / "weights" / "best.pt")) and not is_fcos_model("n")


def test_val_and_predict_score_an_fcos_checkpoint(
    run: tuple[Path, dict], synth_data: Path, tmp_path: Path
) -> None:
    weights = run[0] / "weights" / "best.pt"
    metrics = api.val(weights, synth_data, split="test")
    assert 0.0 <= metrics["map50"] <= 1.0 and 0.0 <= metrics["map50_95"] <= metrics["map50"]
    assert "yolov5" in metrics and "operating_point" in metrics and metrics["imgsz"] == 160
    det = Detector.load(weights)
    assert isinstance(det.model, FcosNet) and det.attributes == {}
    image = next((synth_data.parent / "images" / "test").iterdir())
    preds = det.predict([image], conf=0.001)
    assert len(preds) == 1 and preds[0].width == 160 and len(preds[0].scores) <= 300
    api.predict(weights, [str(image)], tmp_path / "pred", conf=0.001)
    assert json.loads((tmp_path / "pred" / f"{image.stem}.json").read_text())["image"]


class _Stopped(Exception):
    """Raised by :class:`_StopAfterFirstEpoch` to interrupt a run."""


class _StopAfterFirstEpoch(Hook):
    def after_epoch(self, trainer: Any, end: EpochEnd) -> None:
        raise _Stopped  # after the checkpoint hook: last.pt holds the first epoch of a two-epoch plan


def test_an_interrupted_fcos_run_resumes_exactly(synth_data: Path, tmp_path: Path) -> None:
    kw = dict(model="fcos-n", imgsz=160, batch=4, recipe="short", progress=False)
    api.train(synth_data, epochs=2, out=tmp_path / "straight", **kw)
    values = {"data": str(synth_data), "model": "fcos-n", "out": str(tmp_path / "split"), "train.epochs": 2,
              "train.imgsz": 160, "train.batch": 4, "train.recipe": "short"}  # fmt: skip
    trainer = FcosTrainer(apply_overrides(load_config(None, None), values), progress=False)
    trainer.hooks.append(_StopAfterFirstEpoch())
    with pytest.raises(_Stopped):
        trainer.fit()
    torch.manual_seed(123)  # resume restores the saved RNG state, not this one
    summary = api.train(synth_data, out=tmp_path / "split", resume=True, progress=False)
    assert summary["architecture"] == "fcos" and summary["epochs"] == 2
    a = load_checkpoint(tmp_path / "straight" / "weights" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "weights" / "last.pt")
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert not torch.equal(a["model"]["fcos.head.classification_head.cls_logits.weight"],
                           FcosNet(trainer.model.config).state_dict()["fcos.head.classification_head.cls_logits.weight"])  # fmt: skip
    assert len((tmp_path / "split" / "results.csv").read_text().splitlines()) == 3


def test_fine_tunes_from_an_fcos_checkpoint(run: tuple[Path, dict], synth_data: Path, tmp_path: Path) -> None:
    weights = run[0] / "weights" / "best.pt"
    summary = api.train(synth_data, model=str(weights), epochs=1, imgsz=160, batch=4, recipe="short",
                        out=tmp_path / "ft", progress=False)  # fmt: skip
    assert summary["architecture"] == "fcos" and summary["epochs"] == 1
    meta = load_checkpoint(tmp_path / "ft" / "weights" / "last.pt")["metadata"]
    assert meta["model_config"]["architecture"] == "fcos" and meta["config"]["model"] == str(weights)


def test_clear_errors(run: tuple[Path, dict], synth_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown FCOS model 'fcos-x'"):
        api.train(synth_data, model="fcos-x", epochs=1, imgsz=160, out=tmp_path / "a", progress=False)
    with pytest.raises(DataError, match="sparse-annotation training"):
        api.train(synth_data, model="fcos-n", epochs=1, imgsz=160, out=tmp_path / "b", progress=False,
                  overrides=["sparse.method=region"])  # fmt: skip
    for i, start in enumerate(("fcos-n", str(run[0] / "weights" / "best.pt"))):  # what two-phase, ablate use
        cfg = apply_overrides(load_config(None, []), {"data": str(synth_data), "model": start, "train.epochs": 1,
                                                      "train.imgsz": 160, "out": str(tmp_path / f"d{i}")})  # fmt: skip
        with pytest.raises(DataError, match="FCOS trains through `leukodet train` alone"):
            Trainer(cfg, progress=False)
    bad = CliRunner().invoke(main, ["train", "--data", str(synth_data), "--model", "yolo_q", "--out",
                                    str(tmp_path / "c"), "--epochs", "1"])  # fmt: skip
    assert bad.exit_code == 2 and "unknown model 'yolo_q'" in bad.output and "fcos-n" in bad.output


def test_export_refuses_fcos(run: tuple[Path, dict], tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    with pytest.raises(ValueError, match="no ONNX export"):
        api.export(run[0] / "weights" / "best.pt", tmp_path / "onnx")


def test_propose_refuses_fcos_with_one_line(run: tuple[Path, dict], synth_data: Path, tmp_path: Path) -> None:
    fields = sorted((synth_data.parent / "images").rglob("*.png"))[:1]
    res = CliRunner().invoke(main, ["propose", "--weights", str(run[0] / "weights" / "best.pt"), str(fields[0]),
                                    "--out", str(tmp_path / "p")])  # fmt: skip
    assert res.exit_code == 2 and "an FCOS checkpoint; leukodet propose needs" in res.output
