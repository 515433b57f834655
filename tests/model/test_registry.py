"""Every registered model builds, runs in train and eval, and returns the documented output layout."""

from __future__ import annotations

import json
import math

import pytest
import torch
import yaml

from leukodet.model import (
    DEFAULT_ANCHORS,
    DetectionModel,
    DetectorOutput,
    ModelConfig,
    create_model,
    create_model_from_config,
    list_models,
    model_config,
    resolve_model_name,
)

torch.set_num_threads(1)

EXPECTED_CHANNELS = {  # (stem, c3_p3, neck_p3), documented in leukodet/model/output.py
    "yolo_n": (32, 64, 64),
    "yolo_s": (64, 128, 128),
    "yolo_m": (96, 192, 192),
    "yolo_l": (128, 256, 256),
    "yolo_x": (160, 320, 320),
    "test_tiny": (8, 16, 16),
}


def test_registered_names() -> None:
    assert list_models() == sorted(EXPECTED_CHANNELS)
    assert list_models("yolo_*") == ["yolo_l", "yolo_m", "yolo_n", "yolo_s", "yolo_x"]
    assert resolve_model_name("n") == "yolo_n"
    assert resolve_model_name("yolov5x") == "yolo_x"
    assert resolve_model_name("test_tiny") == "test_tiny"
    with pytest.raises(KeyError, match="yolo_n"):
        resolve_model_name("q")


@pytest.mark.parametrize("name", list_models())
def test_build_and_forward(name: str) -> None:
    torch.manual_seed(0)
    nc = 14
    model = create_model(name, nc)
    assert isinstance(model, DetectionModel) and model.config.name == name
    assert model.anchors.shape == (3, 3, 2) and model.strides.tolist() == [8.0, 16.0, 32.0]
    images = torch.rand(2, 3, 64, 96)
    outputs = []
    for train in (True, False):
        model.train(train)
        with torch.no_grad():
            outputs.append(model(images))
    for out in outputs:
        assert type(out) is DetectorOutput
        assert out.strides == (8, 16, 32) and out.image_size == (64, 96) and out.num_classes == nc
        for level, s in zip(out.levels, out.strides):
            assert level.shape == (2, 3, 64 // s, 96 // s, 5 + nc)
            assert torch.isfinite(level).all()
        stem, c3, neck = EXPECTED_CHANNELS[name]
        assert out.features["stem"].shape == (2, stem, 16, 24)
        assert out.features["c3_p3"].shape == (2, c3, 8, 12)
        assert out.features["neck_p3"].shape == (2, neck, 8, 12)
        assert {k: v.shape[1] for k, v in out.features.items()} == model.feature_channels


def test_head_bias_priors() -> None:
    model = create_model("test_tiny", 14)
    bias = model.head.convs[0].bias.view(3, 19)
    bound = 1 / 4  # default PyTorch bias init: U(±1/sqrt(fan_in)), fan_in = 16 channels
    assert torch.all((bias[:, 4] - math.log(8 / 80**2)).abs() <= bound)  # 8 objects over 80×80 cells
    assert torch.all((bias[:, 5:] - math.log(0.6 / (14 - 0.99))).abs() <= bound)
    bn = model.backbone.conv0[1]
    assert bn.eps == 1e-3 and bn.momentum == 0.03


def test_bad_input_size() -> None:
    model = create_model("test_tiny", 3)
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.rand(1, 3, 50, 64))


def test_config_roundtrip_and_overrides() -> None:
    anchors = torch.arange(1, 19, dtype=torch.float32).view(3, 3, 2)
    cfg = model_config("s", 14, anchors=anchors, depth_multiple=0.5)
    assert cfg.depth_multiple == 0.5 and cfg.width_multiple == 0.5
    for text in (json.dumps(cfg.to_dict()), yaml.safe_dump(cfg.to_dict())):
        assert ModelConfig.from_dict(yaml.safe_load(text)) == cfg
    model = create_model("test_tiny", 5, anchors=anchors)
    assert torch.equal(model.anchors, anchors)
    with pytest.raises(ValueError, match="widht_multiple"):
        create_model("test_tiny", 5, widht_multiple=0.5)
    with pytest.raises(ValueError, match="colour"):
        ModelConfig.from_dict({"name": "x", "num_classes": 2, "colour": 1})


def test_checkpoint_rebuild_and_anchor_sync() -> None:
    torch.manual_seed(0)
    model = create_model("test_tiny", 4)
    new = torch.tensor(DEFAULT_ANCHORS) * 0.5
    model.set_anchors(new)
    assert torch.equal(model.anchors, new)
    assert model.config.anchors == tuple(tuple(tuple(p) for p in lvl) for lvl in new.tolist())
    rebuilt = create_model_from_config(ModelConfig.from_dict(model.config.to_dict()))
    rebuilt.load_state_dict(model.state_dict())
    fresh = create_model("test_tiny", 4)
    fresh.load_state_dict(model.state_dict())
    assert fresh.config == model.config == rebuilt.config
    model.eval(), rebuilt.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x).levels[2], rebuilt(x).levels[2])


def test_seeded_build_is_deterministic() -> None:
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = create_model("test_tiny", 2).eval()
        with torch.no_grad():
            outs.append(model(torch.ones(1, 3, 32, 32)).levels[0])
    assert torch.equal(outs[0], outs[1])


def test_backward_reaches_backbone() -> None:
    model = create_model("test_tiny", 2)
    out = model(torch.rand(1, 3, 64, 64))
    loss = sum(lv.sum() for lv in out.levels) + out.features["stem"].mean()
    loss.backward()
    assert model.backbone.conv0[0].weight.grad is not None


def test_tiny_golden_output() -> None:
    """Seeded ``test_tiny`` output is pinned: any change to architecture or init shows up here."""
    torch.manual_seed(0)
    model = create_model("test_tiny", 14).eval()
    x = torch.linspace(0, 1, 3 * 64 * 64).view(1, 3, 64, 64)
    with torch.no_grad():
        out = model(x)
    sums = [float(level.double().sum()) for level in out.levels]
    assert sums == pytest.approx([-9593.7824, -2313.1305, -562.3782], rel=1e-4)
