"""FCOS on leukodet's backbone (docs/detectors.md): the feature adapter, the points, leukodet's decoding against
torchvision's own forward, the loss learning, the config round trip and the names."""

from __future__ import annotations

import json

import pytest
import torch

from leukodet.engine.fcos_train import FcosObjective
from leukodet.model.fcos import (
    FcosConfig,
    FcosNet,
    LeukodetFeatures,
    fcos_config,
    fcos_name,
    fcos_targets,
    is_fcos_config,
)
from leukodet.model.registry import UnknownModelError, resolve_model_name

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def net() -> FcosNet:
    torch.manual_seed(0)
    return FcosNet(fcos_config("fcos-n", 3))


def test_config_follows_the_n_backbone_and_round_trips() -> None:
    cfg = fcos_config("FCOS-N", 3)
    assert (cfg.name, cfg.backbone, cfg.depth_multiple, cfg.width_multiple) == (
        "fcos_n",
        "yolo_n",
        0.33,
        0.25,
    )
    assert cfg.head_width == 64 and cfg.strides == (8, 16, 32) and cfg.num_convs == 4
    saved = json.loads(json.dumps(cfg.to_dict()))
    assert is_fcos_config(saved) and FcosConfig.from_dict(saved) == cfg
    with pytest.raises(ValueError, match="bogus"):
        FcosConfig.from_dict({**saved, "bogus": 1})
    with pytest.raises(ValueError, match="multiple of 32"):
        FcosConfig("fcos_n", 3, head_width=48)


def test_names_and_a_clear_error_for_an_unknown_one() -> None:
    assert fcos_name("fcos-n") == fcos_name("fcos_n") == "fcos_n"
    assert fcos_name("n") is None and fcos_name("runs/x/weights/best.pt") is None
    with pytest.raises(ValueError, match=r"unknown FCOS model 'fcos-x'; available: fcos_n \(fcos-n\)"):
        fcos_name("fcos-x")
    with pytest.raises(UnknownModelError, match="fcos-n") as err:
        resolve_model_name("nonsense")
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)
    assert str(err.value).startswith("unknown model 'nonsense'")


def test_adapter_gives_three_equal_width_levels_at_strides_8_16_32() -> None:
    body = LeukodetFeatures(fcos_config("fcos_n", 3))
    maps = body(torch.rand(2, 3, 128, 96))
    assert list(maps) == ["p3", "p4", "p5"] and body.out_channels == 64
    assert [tuple(m.shape) for m in maps.values()] == [(2, 64, 16, 12), (2, 64, 8, 6), (2, 64, 4, 3)]
    assert len(body.backbone.channels) == 4 and tuple(body.neck.channels) == (64, 128, 256)


def test_head_outputs_and_points(net: FcosNet) -> None:
    net.eval()
    head, points, counts = net(torch.rand(2, 3, 128, 128))
    assert counts == [256, 64, 16]
    assert tuple(head["cls_logits"].shape) == (2, 336, 3)
    assert tuple(head["bbox_regression"].shape) == (2, 336, 4) and tuple(head["bbox_ctrness"].shape) == (
        2,
        336,
        1,
    )
    sides = points[:, 2] - points[:, 0]
    assert sides[:256].eq(8).all() and sides[256:320].eq(16).all() and sides[320:].eq(32).all()
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.rand(1, 3, 100, 128))


def test_detect_equals_torchvision_forward_with_the_letterbox_transform(net: FcosNet) -> None:
    torch.manual_seed(1)
    x = torch.rand(2, 3, 128, 128)
    net.eval()
    net.fcos.score_thresh, net.fcos.nms_thresh, net.fcos.detections_per_img = 0.05, 0.6, 300
    with torch.no_grad():
        theirs = net.fcos(list(x))  # torchvision's transform (mean 0, std 1, no resize) and postprocess
    mine = net.detect(x, 0.05, 0.6, 300)
    for t, m in zip(theirs, mine):
        assert len(m) == len(t["scores"]) > 0
        assert torch.allclose(m.scores, t["scores"]) and torch.equal(m.labels, t["labels"])
        assert torch.allclose(m.boxes, t["boxes"])
    one = net.detect(x, 0.05, 0.6, 300, multi_label=False)
    for d in one:
        assert d.keep_index.unique().numel() == len(d)  # one class per location
        assert len(d) and (d.scores[:-1] >= d.scores[1:]).all()


def test_targets_drop_empty_boxes() -> None:
    rows = torch.tensor([[0, 1, 10, 10, 50, 60], [1, 2, 5, 5, 5.5, 40], [1, 0, 0, 0, 30, 30]])
    out = fcos_targets(rows, 3)
    assert [len(t["boxes"]) for t in out] == [1, 1, 0]
    assert out[1]["labels"].tolist() == [0] and out[0]["labels"].dtype == torch.int64


def test_loss_goes_down_on_one_image() -> None:
    from leukodet.data.sample import Batch

    torch.manual_seed(0)
    model = FcosNet(fcos_config("fcos_n", 2)).train()
    image = torch.full((1, 3, 128, 128), 0.8)
    image[:, :, 20:70, 30:90] = 0.2  # a dark "cell" of class 0, a grey one of class 1
    image[:, :, 90:120, 10:40] = 0.5
    targets = torch.tensor([[0, 0, 30, 20, 90, 70], [0, 1, 10, 90, 40, 120]], dtype=torch.float32)
    batch = Batch(image, targets, torch.zeros((2, 0), dtype=torch.long), [None], ["x"], [(128, 128)], [1.0],
                  [(0.0, 0.0)])  # fmt: skip
    objective = FcosObjective()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(25):
        loss, terms = objective(model, batch, 0.0)
        assert set(terms) == {"loss_cls", "loss_box", "loss_ctr"}
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.6 * losses[0], losses
