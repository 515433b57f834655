"""Sparse-annotation training runs end to end with every method; auto picks SLA-Det on region data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from leukodet import api
from leukodet.losses.build import resolve_method
from leukodet.losses.sladet import SLADetObjective
from leukodet.model.checkpoint import load_checkpoint

OVERRIDES = ["train.plots=false", "sparse.burn_in=0", "sparse.t0=0.0", "train.attr_dropout=0"]
"""Pseudo-labels from the first step, and every prediction a candidate (an untrained model is never sure)."""


@pytest.fixture(scope="module")
def sparse_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sparse")
    return api.synth(root / "data", images=10, seed=2, size=128, sparse=0.2, progress=False)


@pytest.mark.parametrize("method", ["auto", "naive", "region+pl", "crop", "ema-teacher"])
def test_each_method_trains(sparse_data: Path, tmp_path: Path, method: str) -> None:
    extra = [] if method == "auto" else [f"sparse.method={method}"]
    if method == "ema-teacher":
        method, extra = "region+pl", ["sparse.method=region+pl", "sparse.teacher=ema"]
    api.train(
        sparse_data, model="test_tiny", epochs=1, imgsz=128, batch=4, out=tmp_path / "run", progress=False,
        overrides=[*OVERRIDES, *extra, "sparse.t1=0.0", "sparse.t2=99"],
    )  # fmt: skip
    meta = load_checkpoint(tmp_path / "run" / "weights" / "last.pt")["metadata"]
    assert meta["sparse_method"] == ("sladet" if method == "auto" else method)
    header = (tmp_path / "run" / "results.csv").read_text().splitlines()[0]
    if method in ("naive", "crop"):
        assert "n_pseudo" not in header
        if method == "crop":  # trained on one canvas per labelled patch
            assert len(list((tmp_path / "run" / "patches").glob("*.png"))) == meta["data"]["train_images"]
    else:  # pseudo-labelling ran, its filter counts and its terms are logged
        assert "train/n_t0_nms" in header and "train/n_pseudo" in header and "train/loss_pl_box" in header
    if method == "auto":
        assert "train/loss_tri" in header


def test_method_resolution_and_schedule(sparse_data: Path) -> None:
    assert resolve_method("auto", True) == "sladet" and resolve_method("auto", False) == "naive"
    assert resolve_method("region", True) == "region"
    from leukodet.config import load_config
    from leukodet.engine.trainer import Trainer

    cfg = load_config(None, [f"data={sparse_data}", "model=test_tiny", "train.imgsz=128", "out=/tmp/unused"])
    trainer = Trainer(cfg, progress=False)
    assert isinstance(trainer.objective, SLADetObjective) and trainer.objective.method == "sladet"
    assert trainer.objective.area_min > 0
    batch = next(iter(trainer.train_loader))
    trainer.net.train()
    _, terms = trainer.objective(
        trainer.net, batch, 0.1
    )  # inside the burn-in: only the labelled-region terms
    assert "loss_pl_box" not in terms and "n_pseudo" not in terms
    assert torch.isfinite(terms["loss_obj"])
    ema_cfg = load_config(
        None, [f"data={sparse_data}", "model=test_tiny", "train.imgsz=128", "sparse.teacher=ema"]
    )
    with_teacher = Trainer(ema_cfg, progress=False)
    assert trainer.objective.teacher is None and with_teacher.objective.teacher is with_teacher.ema.module


def test_two_phase_protocol_trains_phase2_from_phase1_without_augmentation(
    sparse_data: Path, tmp_path: Path
) -> None:
    import json

    import yaml
    from click.testing import CliRunner

    from leukodet.cli import main

    out = tmp_path / "tp"
    args = ["train", "--data", str(sparse_data), "--model", "test_tiny", "--imgsz", "128", "--batch", "4",
            "--protocol", "two-phase", "--phase1-epochs", "1", "--epochs", "1", "--out", str(out),
            "--set", "train.plots=false", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["protocol"]["phase1_method"] == "crop" and summary["phase1"]["epochs"] == 1
    one = yaml.safe_load((out / "phase1" / "config.yaml").read_text())
    two = yaml.safe_load((out / "phase2" / "config.yaml").read_text())
    assert (
        one["sparse"]["method"] == "crop" and one["augment"]["mosaic"] == 1.0 and one["loss"]["fl_gamma"] == 0
    )
    assert two["model"] == str(out / "phase1" / "weights" / "last.pt")
    assert two["sparse"]["method"] == "sladet" and two["sparse"]["burn_in"] == 0
    assert two["loss"]["fl_gamma"] == 1.5 and two["loss"]["fl_alpha"] == 0.25
    assert all(
        two["augment"][k] == 0 for k in ("mosaic", "mixup", "scale", "translate", "fliplr", "hsv_v", "hed")
    )
    header = (out / "phase2" / "results.csv").read_text().splitlines()[0]
    assert "train/n_pseudo" in header  # pseudo-labelling ran in phase 2's first epoch (no burn-in)
    again = CliRunner().invoke(main, args)  # both phases finished: kept, nothing retrained
    assert again.exit_code == 0 and json.loads(again.output.strip().splitlines()[-1])["kept"]
