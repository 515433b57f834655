"""A tiny train → val → predict run on synthetic fields, and exact resume equivalence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from leukodet import api
from leukodet.infer.predictor import Detector
from leukodet.model.checkpoint import full_digest, load_checkpoint


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "data"
    return api.synth(out, images=10, seed=3, size=160)


def _train(data: Path, out: Path, epochs: int, resume: bool = False) -> dict:
    return api.train(
        data,
        model="test_tiny",
        epochs=epochs,
        imgsz=160,
        batch=4,
        out=out,
        resume=resume,
        progress=False,
        overrides=["augment.mosaic=0.5", "train.warmup_epochs=0.5"],
    )


def test_train_val_predict_end_to_end(synth_data: Path, tmp_path: Path) -> None:
    summary = _train(synth_data, tmp_path / "run", epochs=1)
    run = tmp_path / "run"
    assert (run / "weights" / "best.pt").is_file() and (run / "weights" / "last.pt").is_file()
    assert (run / "config.yaml").is_file() and (run / "results.png").is_file()
    assert (run / "pr_curve.png").is_file()
    assert (run / "results.csv").read_text().splitlines()[0].startswith("epoch,train/loss_box")
    assert summary["epochs"] == 1 and 0.0 <= summary["metrics"]["map50"] <= 1.0
    meta = load_checkpoint(run / "weights" / "best.pt")["metadata"]
    assert meta["classes"][1] == "Myeloblast" and meta["imgsz"] == 160 and meta["data"]["train_images"] == 8
    metrics = api.val(run / "weights" / "best.pt", synth_data, split="test", json_out=tmp_path / "m.json")
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["map50"] == metrics["map50"] and "yolov5" in saved and "operating_point" in saved
    threads = torch.get_num_threads()
    det = Detector.load(run / "weights" / "best.pt")
    image = next((synth_data.parent / "images" / "test").iterdir())
    preds = det.predict([image, str(image)], conf=0.0001)
    assert torch.get_num_threads() == threads
    assert len(preds) == 2 and preds[0].width == 160
    assert (preds[0].boxes >= 0).all() and (preds[0].boxes[:, 2] <= 160).all()
    api.predict(run / "weights" / "best.pt", [str(image.parent)], tmp_path / "pred", conf=0.0001)
    doc = json.loads((tmp_path / "pred" / f"{image.stem}.json").read_text())
    assert set(doc) == {"image", "width", "height", "model", "cells"}
    assert (tmp_path / "pred" / "predictions.csv").is_file() and (
        tmp_path / "pred" / f"{image.stem}.png"
    ).is_file()


def test_resume_continues_exactly(synth_data: Path, tmp_path: Path) -> None:
    _train(synth_data, tmp_path / "straight", epochs=2)
    _train(synth_data, tmp_path / "split", epochs=1)
    cfg = (tmp_path / "split" / "config.yaml").read_text().replace("epochs: 1", "epochs: 2")
    (tmp_path / "split" / "config.yaml").write_text(cfg)
    ckpt = torch.load(tmp_path / "split" / "weights" / "last.pt", weights_only=True)
    ckpt["train_state"]["planned"] = 2
    ckpt["full_digest"] = full_digest(ckpt)  # an honest edit: the digest follows it
    torch.save(ckpt, tmp_path / "split" / "weights" / "last.pt")
    _train(synth_data, tmp_path / "split", epochs=2, resume=True)
    a = load_checkpoint(tmp_path / "straight" / "weights" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "weights" / "last.pt")
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert len((tmp_path / "split" / "results.csv").read_text().splitlines()) == 3


def test_resume_of_a_copied_run_writes_into_the_copy(synth_data: Path, tmp_path: Path) -> None:
    import shutil

    _train(synth_data, tmp_path / "a", epochs=1)
    cfg = (tmp_path / "a" / "config.yaml").read_text().replace("epochs: 1", "epochs: 2")
    (tmp_path / "a" / "config.yaml").write_text(cfg)
    ckpt = torch.load(tmp_path / "a" / "weights" / "last.pt", weights_only=True)
    ckpt["train_state"]["planned"] = 2
    ckpt["full_digest"] = full_digest(ckpt)
    torch.save(ckpt, tmp_path / "a" / "weights" / "last.pt")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    stamp = (tmp_path / "a" / "weights" / "last.pt").stat().st_mtime_ns
    _train(synth_data, tmp_path / "b", epochs=2, resume=True)
    assert len((tmp_path / "b" / "results.csv").read_text().splitlines()) == 3
    assert len((tmp_path / "a" / "results.csv").read_text().splitlines()) == 2  # the original is untouched
    assert (tmp_path / "a" / "weights" / "last.pt").stat().st_mtime_ns == stamp
    assert f"out: {tmp_path / 'b'}" in (tmp_path / "b" / "config.yaml").read_text()


def test_cli_refuses_existing_run_and_bad_data(synth_data: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("names: [a]\nval: .\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "leukodet.cli",
            "train",
            "--data",
            str(tmp_path / "empty.yaml"),
            "--out",
            str(tmp_path / "r"),
            "--model",
            "test_tiny",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "no 'train' split" in proc.stderr and "Traceback" not in proc.stderr


def _lr(run: Path) -> float:
    """The LR logged at the end of the first epoch."""
    head, first = (run / "results.csv").read_text().splitlines()[:2]
    return float(first.split(",")[head.split(",").index("lr")])


def test_fine_tune_from_a_checkpoint_scales_the_lr(synth_data: Path, tmp_path: Path) -> None:
    """Starting from trained weights, every LR is ``train.finetune_lr`` (0.1) times the from-scratch one, so a
    fresh optimiser does not wreck the trained detector; ``finetune_lr=1`` restores the from-scratch LR."""
    _train(synth_data, tmp_path / "scratch", epochs=1)
    best = str(tmp_path / "scratch" / "weights" / "best.pt")
    for scale, name in ((None, "ft"), (1.0, "ft1")):
        extra = [] if scale is None else [f"train.finetune_lr={scale}"]
        api.train(synth_data, model=best, epochs=1, imgsz=160, batch=4, out=tmp_path / name, progress=False,
                  overrides=["augment.mosaic=0.5", "train.warmup_epochs=0.5", *extra])  # fmt: skip
    assert _lr(tmp_path / "ft") == pytest.approx(0.1 * _lr(tmp_path / "scratch"), rel=1e-6)
    assert _lr(tmp_path / "ft1") == pytest.approx(_lr(tmp_path / "scratch"), rel=1e-6)


def test_eval_every_validates_every_kth_and_the_last_epoch_and_best_follows_validation(
    tmp_path: Path,
) -> None:
    import csv

    data = api.synth(tmp_path / "data", images=6, seed=2, size=128)
    out = tmp_path / "run"
    api.train(
        data, model="test_tiny", epochs=5, imgsz=128, batch=3, out=out, progress=False, recipe="short",
        overrides=["train.attributes=false", "train.eval_every=2", "train.plots=false"],
    )  # fmt: skip
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 5
    validated = [int(r["epoch"]) for r in rows if r.get("val/map50")]
    assert validated == [2, 4, 5]
    best = load_checkpoint(out / "weights" / "best.pt")["metadata"]
    assert best["metrics"] and best["epoch"] in validated
