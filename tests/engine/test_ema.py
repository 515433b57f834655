"""The weight EMA averages over a window fitted to the run's length (issue #16), long runs keep YOLOv5's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from leukodet.config import ConfigError, TrainConfig
from leukodet.engine.optim import ModelEMA


def _ema(horizon: float, total: int) -> ModelEMA:
    ema = ModelEMA(nn.Linear(2, 1), decay=0.9999, tau=2000.0)
    ema.plan(total, horizon)
    return ema


def test_long_run_keeps_the_yolov5_decay_and_ramp() -> None:
    ema = _ema(0.1, 1_000_000)
    assert (ema.decay, ema.tau) == (0.9999, 2000.0)


def test_short_run_gets_a_window_of_the_horizon() -> None:
    ema = _ema(0.1, 180)  # a 36-epoch BCDD run: 5 steps an epoch
    assert ema.tau == pytest.approx(18.0)
    assert ema.decay == pytest.approx(1 - 1 / 18)
    ema.updates = 180
    # by the end of the run the EMA really averages (the fixed ramp was still at 0.085 here)
    assert ema.current_decay() > 0.9
    fixed = _ema(0.0, 180)
    fixed.updates = 180
    assert fixed.current_decay() == pytest.approx(0.9999 * (1 - torch.e ** (-180 / 2000)), rel=1e-6)


def _track(horizon: float, steps: int, weight_at) -> list[float]:
    """The EMA of a one-weight model whose weight is ``weight_at(step)``, after every update."""
    model = nn.Linear(1, 1, bias=False)
    ema = ModelEMA(model, decay=0.9999, tau=2000.0)
    ema.plan(steps, horizon)
    out = []
    for step in range(steps):
        with torch.no_grad():
            model.weight.fill_(weight_at(step))
        ema.update(model)
        out.append(float(ema.module.weight))
    return out


def test_short_run_ema_averages_then_catches_up() -> None:
    """A weight that steps from 0 to 1 half-way through a 200-step run (window 20 steps)."""
    planned = _track(0.1, 200, lambda s: float(s >= 100))
    fixed = _track(0.0, 200, lambda s: float(s >= 100))
    assert planned[104] < 0.4  # five steps after the jump the planned EMA still averages the old weights
    assert fixed[104] > 0.9  # the fixed ramp (decay ~0.05 at 105 updates) is the raw weight
    assert planned[-1] > 0.99  # and within its window it has caught up


def test_planned_ema_smooths_noise_the_fixed_one_passes_on() -> None:
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(300, generator=gen).tolist()
    planned = torch.tensor(_track(0.1, 300, lambda s: noise[s])[200:])
    fixed = torch.tensor(_track(0.0, 300, lambda s: noise[s])[200:])
    assert planned.std() < 0.3  # window 30: sd about 0.13 for a raw sd of 1
    assert fixed.std() > 0.7


def test_horizon_is_validated() -> None:
    with pytest.raises(ConfigError, match="ema_horizon"):
        TrainConfig(ema_horizon=1.5)


def test_training_validates_with_the_configured_protocol(tmp_path, monkeypatch) -> None:
    """``train.val_conf`` / ``val_iou`` / ``max_det`` reach validation, and the trainer plans its EMA."""
    from leukodet import api
    from leukodet.engine import hooks as hooks_module

    data = api.synth(tmp_path / "data", images=10, seed=0, size=96, progress=False)
    seen: list[tuple[float, float, int, bool]] = []
    real = hooks_module.evaluate_detector

    def spy(*args, **kwargs):
        cfg = kwargs["cfg"]
        seen.append((cfg.conf, cfg.iou, cfg.max_det, cfg.multi_label))
        return real(*args, **kwargs)

    monkeypatch.setattr(hooks_module, "evaluate_detector", spy)
    overrides = ["train.plots=false", "train.val_conf=0.2", "train.val_iou=0.5", "train.max_det=7"]
    api.train(
        data, model="test_tiny", epochs=1, imgsz=96, batch=2, out=tmp_path / "run", progress=False,
        overrides=overrides,
    )  # fmt: skip
    assert seen == [(0.2, 0.5, 7, True)]
