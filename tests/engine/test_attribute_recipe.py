"""The attribute recipe (issue #23): the detector alone, the AttriHead on it frozen, then both at a lower LR,
as three resumable stages of one ``train --protocol attributes`` call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from leukodet import api
from leukodet.cli import main
from leukodet.config import ConfigError
from leukodet.engine.attribute_recipe import AttributeRecipe
from leukodet.model.checkpoint import load_checkpoint


def _args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "--model", "test_tiny", "--imgsz", "128", "--batch", "4",
            "--protocol", "attributes", "--detector-epochs", "1", "--head-epochs", "1", "--epochs", "1",
            "--out", str(out), "--set", "train.plots=false", "--set", "train.nominal_batch=4",
            "--set", "train.warmup_epochs=0", "--no-progress", *extra]  # fmt: skip


def test_three_stages_each_from_the_last(tmp_path: Path) -> None:
    data = api.synth(tmp_path / "data", images=8, seed=3, size=128, progress=False)
    out = tmp_path / "recipe"
    result = CliRunner().invoke(main, _args(data, out))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert list(summary["stages"]) == ["detector", "head", "joint"] and summary["schedule"]["joint_lr"] == 0.1
    cfg = {s: yaml.safe_load((out / s / "config.yaml").read_text()) for s in ("detector", "head", "joint")}
    assert cfg["detector"]["train"]["attributes"] is False
    assert cfg["head"]["model"] == str(out / "detector" / "weights" / "last.pt")
    assert cfg["head"]["train"]["freeze_detector"] is True and cfg["head"]["train"]["attributes"] is True
    assert cfg["joint"]["model"] == str(out / "head" / "weights" / "last.pt")
    assert cfg["joint"]["train"]["freeze_detector"] is False and cfg["joint"]["train"]["finetune_lr"] == 0.1
    detector, head, joint = (load_checkpoint(out / s / "weights" / "last.pt") for s in cfg)
    assert not any(k.startswith("attribute_head.") for k in detector["model"])
    backbone = next(k for k in head["model"] if not k.startswith("attribute_head.") and "weight" in k)
    assert torch.equal(head["model"][backbone], detector["ema"][backbone])  # frozen in the head stage
    assert not torch.equal(joint["model"][backbone], head["model"][backbone])  # trained in the joint stage
    again = CliRunner().invoke(main, _args(data, out))  # every stage finished: kept, nothing retrained
    assert again.exit_code == 0 and json.loads(again.output.strip().splitlines()[-1])["kept"]


def test_refused_combinations(tmp_path: Path) -> None:
    for extra in (["--time", "1"], ["--no-attributes"], ["--freeze-detector"]):
        result = CliRunner().invoke(main, _args(tmp_path / "d.yaml", tmp_path / "o", *extra))
        assert result.exit_code == 2 and "--protocol attributes" in result.output, result.output
    result = CliRunner().invoke(
        main, [*_args(tmp_path / "d.yaml", tmp_path / "o")[:-1], "--head-epochs", "0"]
    )
    assert result.exit_code == 2 and "at least one epoch" in result.output
    with pytest.raises(ConfigError, match="joint_lr"):
        AttributeRecipe(joint_lr=0)
    assert [s[0] for s in AttributeRecipe(detector_epochs=0).stages()] == ["head", "joint"]
