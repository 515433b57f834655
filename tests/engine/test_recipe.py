"""The optimiser recipe ``auto`` chooses, and its warning when ``paper`` would get too few steps."""

from __future__ import annotations

import logging
from pathlib import Path

from leukodet import api
from leukodet.config import TrainConfig
from leukodet.engine.optim import PAPER_MIN_STEPS, choose_recipe, recipe_warning


def test_auto_picks_short_for_a_short_time_budget_and_paper_otherwise() -> None:
    assert choose_recipe(TrainConfig(time_minutes=15)) == "short"
    assert choose_recipe(TrainConfig(time_minutes=90)) == "paper"
    assert choose_recipe(TrainConfig(epochs=40)) == "paper"
    assert choose_recipe(TrainConfig(recipe="short", epochs=400)) == "short"


def test_warning_only_when_auto_gives_paper_too_few_steps() -> None:
    auto = TrainConfig(epochs=40)
    message = recipe_warning(auto, "paper", 130)
    assert message is not None and "130 optimiser steps" in message and "--recipe short" in message
    assert recipe_warning(auto, "paper", PAPER_MIN_STEPS) is None
    assert recipe_warning(TrainConfig(recipe="paper", epochs=40), "paper", 130) is None  # asked for by name
    assert recipe_warning(auto, "short", 130) is None


def test_a_short_fixed_epoch_run_says_so_in_its_log(tmp_path: Path, caplog) -> None:
    data = api.synth(tmp_path / "data", images=4, seed=2, size=96)
    common = {"model": "test_tiny", "epochs": 1, "imgsz": 96, "batch": 2, "progress": False,
              "overrides": ["train.attributes=false", "train.plots=false"]}  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="leukodet"):
        api.train(data, out=tmp_path / "auto", **common)
    assert any("recipe auto chose paper" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="leukodet"):
        api.train(data, out=tmp_path / "short", recipe="short", **common)
    assert not any("recipe auto chose paper" in r.getMessage() for r in caplog.records)
