"""What the AttriHead pools of a cell (issue #23's switches): ROI size, tapped maps and context margin, from the
run config to the model config, the head's shapes and the pooled windows, and back from a checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from leukodet import api
from leukodet.cli import main
from leukodet.config import RunConfig, apply_overrides
from leukodet.infer.attributes import attach_attributes
from leukodet.infer.predictor import Detector
from leukodet.model.attrihead import ROI_SIZE, TAPS, AttriHead, mirror_boxes, widen_boxes
from leukodet.model.checkpoint import load_checkpoint
from leukodet.model.config import ModelConfig
from leukodet.model.detector import create_model_from_config
from leukodet.model.postprocess import Detections
from leukodet.model.registry import create_model

SIZES = (2, 3, 2)


def _images() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(2, 3, 64, 64)


def test_defaults_are_the_papers_head() -> None:
    cfg = RunConfig().attrihead
    assert cfg.model_fields() == {
        "attribute_roi": (24, 30),
        "attribute_taps": ("stem", "c3_p3"),
        "attribute_context": 0.0,
        "attribute_flip": False,
    }
    model = create_model("test_tiny", 3, attribute_sizes=SIZES)
    head = model.attribute_head
    assert head.roi == ROI_SIZE == (24, 30) and head.taps == TAPS and head.context == 0.0
    assert head.classifier[1].in_features == 64 * 3 * 3  # 24x30 -> 12x15 -> 6x7 -> 3x3


def test_overrides_reach_the_model_and_reshape_the_head() -> None:
    cfg = apply_overrides(
        RunConfig(), ["attrihead.roi=[32,32]", "attrihead.taps=stem,c3_p3,c3_p4", "attrihead.context=0.2"]
    )
    fields = cfg.attrihead.model_fields()
    model = create_model("test_tiny", 3, attribute_sizes=SIZES, **fields)
    head = model.attribute_head
    channels = sum(model.feature_channels[k] for k in ("stem", "c3_p3", "c3_p4"))
    assert head.features[0].in_channels == channels
    assert head.classifier[1].in_features == 64 * 4 * 4
    boxes = [torch.tensor([[8.0, 8.0, 40.0, 30.0]]), torch.tensor([[0.0, 0.0, 20.0, 20.0], [30, 30, 60, 62]])]
    out = model(_images(), attribute_boxes=boxes)
    assert out.attribute_logits.shape == (3, sum(SIZES))
    assert set(out.features) >= {"stem", "c3_p3", "c3_p4"}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("attrihead.roi=[4,4]", "attrihead.roi"),
        ("attrihead.taps=stem,neck_p3", "attrihead.taps"),
        ("attrihead.taps=stem,stem", "attrihead.taps"),
        ("attrihead.context=1.5", "attrihead.context"),
    ],
)
def test_bad_values_name_the_key(override: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_overrides(RunConfig(), [override])


def test_widen_boxes_known_answer() -> None:
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    assert torch.equal(widen_boxes(boxes, 0.0), boxes)
    assert widen_boxes(boxes, 0.25).tolist() == [[5.0, 10.0, 35.0, 70.0]]


def test_mirror_boxes_known_answer() -> None:
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    assert mirror_boxes(boxes, 100).tolist() == [[70.0, 20.0, 90.0, 60.0]]
    assert torch.equal(mirror_boxes(mirror_boxes(boxes, 100), 100), boxes)


def _detections(boxes: torch.Tensor) -> Detections:
    n = len(boxes)
    return Detections(boxes, torch.ones(n), torch.zeros(n, dtype=torch.long), torch.arange(n))


def test_flip_tta_calls_are_the_same_for_a_field_and_its_mirror() -> None:
    """With the mirror view, a cell's probabilities are the mean over both views, so the field and its mirror
    (with mirrored boxes) get identical calls; without it they differ (the network is not mirror-symmetric)."""
    model = create_model("test_tiny", 3, attribute_sizes=SIZES, attribute_flip=True).eval()
    images = _images()[:1]
    boxes = torch.tensor([[6.0, 10.0, 30.0, 40.0], [34.0, 20.0, 60.0, 50.0]])
    det, det_m = _detections(boxes), _detections(mirror_boxes(boxes, 64))
    schema = {f"a{i}": [f"v{j}" for j in range(k)] for i, k in enumerate(SIZES)}
    with torch.no_grad():
        feats, feats_m = model(images).features, model(images.flip(3)).features
    both = attach_attributes(model, feats, [det], schema, mirrored=(feats_m, 64))[0]
    both_m = attach_attributes(model, feats_m, [det_m], schema, mirrored=(feats, 64))[0]
    assert both == both_m
    one, one_m = (attach_attributes(model, f, [d], schema)[0] for f, d in ((feats, det), (feats_m, det_m)))
    assert one != one_m and one != both


def test_context_pools_the_widened_box() -> None:
    """Pooling a box with a context margin is pooling the widened box without one; and it differs from the box."""
    torch.manual_seed(1)
    features = {"stem": torch.randn(1, 4, 16, 16), "c3_p3": torch.randn(1, 6, 8, 8)}
    box = torch.tensor([[12.0, 16.0, 36.0, 40.0]])
    with_context = AttriHead(10, SIZES, context=0.25).pool(features, [box])
    plain = AttriHead(10, SIZES).pool(features, [widen_boxes(box, 0.25)])
    assert torch.allclose(with_context, plain)
    assert not torch.allclose(with_context, AttriHead(10, SIZES).pool(features, [box]))


def test_checkpoint_config_round_trip_and_old_configs() -> None:
    cfg = ModelConfig(
        name="test_tiny", num_classes=3, depth_multiple=0.33, width_multiple=0.125, attribute_sizes=SIZES,
        attribute_roi=(16, 20), attribute_taps=("c3_p3", "c3_p4"), attribute_context=0.1,
    )  # fmt: skip
    again = ModelConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.attribute_taps == ("c3_p3", "c3_p4")
    model = create_model_from_config(again)
    assert model.config == cfg and model.attribute_head.roi == (16, 20)
    old = {
        k: v
        for k, v in cfg.to_dict().items()
        if not k.startswith(("attribute_roi", "attribute_taps", "attribute_context"))
    }
    legacy = ModelConfig.from_dict(old)  # a checkpoint saved before the switches: the paper's head
    assert legacy.attribute_roi == (24, 30) and legacy.attribute_taps == ("stem", "c3_p3")


def test_a_run_trains_and_predicts_with_the_view_it_was_given(tmp_path: Path) -> None:
    """`--set attrihead.*` reaches the trained checkpoint, and prediction rebuilds that head from it."""
    data = api.synth(tmp_path / "data", images=6, seed=3, size=128, progress=False)
    args = ["train", "--data", str(data), "--model", "test_tiny", "--imgsz", "128", "--batch", "3", "--epochs",
            "1", "--out", str(tmp_path / "run"), "--set", "train.plots=false", "--set", "train.nominal_batch=3",
            "--set", "attrihead.roi=[16,16]", "--set", "attrihead.taps=stem,c3_p4", "--set",
            "attrihead.context=0.1", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    weights = tmp_path / "run" / "weights" / "last.pt"
    config = load_checkpoint(weights)["metadata"]["model_config"]
    assert (config["attribute_roi"], config["attribute_taps"], config["attribute_context"]) == (
        [16, 16], ["stem", "c3_p4"], 0.1,
    )  # fmt: skip
    detector = Detector.load(weights)
    assert detector.model.attribute_head.taps == ("stem", "c3_p4")
    image = next((tmp_path / "data").rglob("*.png"))
    prediction = detector.predict([str(image)], conf=0.0)[0]
    calls = [call for call in prediction.attributes or [] if call]  # "None" cells get no attribute calls
    assert calls and all(set(call) == set(detector.attributes) for call in calls)
