"""Anchor assignment and each detection loss term on hand-computed cases."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from leukodet.config import LossConfig
from leukodet.losses.assign import assign_targets
from leukodet.losses.criterion import DetectionCriterion, LossGains
from leukodet.losses.detection import loss_box, loss_cls, loss_obj

ANCHORS = torch.tensor([[[10.0, 13.0], [16.0, 30.0], [33.0, 23.0]]])  # one level, stride 8
STRIDES = torch.tensor([8.0])


def test_assignment_centre_and_two_neighbours() -> None:
    # box 16x16 px centred at (36, 20) px -> grid (4.5, 2.5) at stride 8: frac 0.5 exactly -> only right/down?
    targets = torch.tensor([[0.0, 2.0, 26.0, 10.0, 42.0, 26.0]])  # centre (34, 18) -> grid (4.25, 2.25)
    (lt,) = assign_targets(targets, [(10, 10)], ANCHORS, STRIDES, anchor_t=4.0)
    # anchors (in cells): (1.25,1.625) (2,3.75) (4.125,2.875); box 2x2 cells -> all ratios < 4 -> 3 anchors
    assert sorted(set(lt.anchor.tolist())) == [0, 1, 2]
    cells = sorted(set(zip(lt.gx.tolist(), lt.gy.tolist())))
    # centre cell (4, 2) and, since frac < 0.5 on both axes, the left (3, 2) and upper (4, 1) neighbours
    assert cells == [(3, 2), (4, 1), (4, 2)]
    assert len(lt) == 9
    centre = (lt.gx == 4) & (lt.gy == 2)
    assert torch.allclose(lt.xy[centre], torch.tensor([0.25, 0.25]).expand(3, 2))
    left = (lt.gx == 3) & (lt.gy == 2)
    assert torch.allclose(lt.xy[left], torch.tensor([1.25, 0.25]).expand(3, 2))
    assert torch.all(lt.cls == 2) and torch.all(lt.target == 0)


def test_assignment_rejects_badly_shaped_anchors() -> None:
    targets = torch.tensor(
        [[0.0, 0.0, 0.0, 0.0, 200.0, 8.0]]
    )  # 25 x 1 cells: every ratio test fails but none
    (lt,) = assign_targets(targets, [(40, 40)], ANCHORS, STRIDES, anchor_t=4.0)
    assert len(lt) == 0


def _levels(logit_value: float = 0.0, nc: int = 3) -> list[torch.Tensor]:
    return [torch.full((1, 3, 10, 10, 5 + nc), logit_value, requires_grad=True)]


def test_box_term_is_one_minus_ciou() -> None:
    targets = torch.tensor([[0.0, 1.0, 26.0, 10.0, 42.0, 26.0]])
    levels = _levels()
    assigned = assign_targets(targets, [(10, 10)], ANCHORS, STRIDES)
    terms, ious = loss_box(levels, assigned)
    lt = assigned[0]
    # logits 0 -> centre 2*0.5-0.5 = 0.5 cell, size (2*0.5)^2 * anchor = anchor
    pred_c = torch.full((len(lt), 2), 0.5)
    from torchvision.ops import complete_box_iou_loss

    pred = torch.cat([pred_c - lt.anchor_wh / 2, pred_c + lt.anchor_wh / 2], 1)
    tgt = torch.cat([lt.xy - lt.wh / 2, lt.xy + lt.wh / 2], 1)
    expected = complete_box_iou_loss(pred, tgt, reduction="mean")
    assert torch.allclose(terms["loss_box"], expected)
    assert torch.all((ious[0] >= 0) & (ious[0] <= 1))


def test_objectness_term_balance_and_weights() -> None:
    levels = _levels(0.0)
    assigned = assign_targets(torch.zeros(0, 6), [(10, 10)], ANCHORS, STRIDES)
    # no targets: every cell has target 0, BCE(0 logit, 0) = ln 2, times balance 4
    out = loss_obj(levels, assigned, [torch.zeros(0)], (4.0,))
    assert math.isclose(out["loss_obj"].item(), 4.0 * math.log(2.0), rel_tol=1e-6)
    # weights: zero everywhere except 10 cells -> still the mean over those cells
    w = torch.zeros(1, 3, 10, 10)
    w[0, 0, :, 0] = 1
    out = loss_obj(levels, assigned, [torch.zeros(0)], (1.0,), weights=[w])
    assert math.isclose(out["loss_obj"].item(), math.log(2.0), rel_tol=1e-6)
    out = loss_obj(levels, assigned, [torch.zeros(0)], (1.0,), weights=[torch.zeros(1, 3, 10, 10)])
    assert out["loss_obj"].item() == 0.0


def test_class_term_one_hot_bce() -> None:
    targets = torch.tensor([[0.0, 2.0, 26.0, 10.0, 42.0, 26.0]])
    levels = _levels(0.0, nc=3)
    with torch.no_grad():
        levels[0][..., 5 + 2] = 2.0  # the right class logit
    assigned = assign_targets(targets, [(10, 10)], ANCHORS, STRIDES)
    out = loss_cls(levels, assigned, 3)
    expected = (
        F.softplus(torch.tensor(-2.0)) + 2 * math.log(2.0)
    ) / 3  # BCE(2,1) + 2*BCE(0,0), mean over classes
    assert math.isclose(out["loss_cls"].item(), float(expected), rel_tol=1e-6)


def test_gains_follow_the_paper_scaling() -> None:
    gains = LossGains.from_config(LossConfig(), num_classes=14, imgsz=640)
    assert math.isclose(gains.loss_cls, 0.3 * 14 / 80) and gains.loss_box == 0.05 and gains.loss_obj == 0.7


def test_criterion_backpropagates() -> None:
    crit = DetectionCriterion(LossConfig(), num_classes=3, imgsz=80)
    levels = _levels(0.0)
    total, terms = crit(levels, ANCHORS, STRIDES, torch.tensor([[0.0, 1.0, 26.0, 10.0, 42.0, 26.0]]))
    total.backward()
    assert set(terms) == set(crit.gains) and levels[0].grad is not None and levels[0].grad.abs().sum() > 0


def test_a_vanishing_predicted_size_keeps_the_box_gradient_finite() -> None:
    """A t_wh so negative that the decoded size rounds to zero in xy ± wh/2 once back-propagated NaN through the
    aspect term of torchvision's CIoU loss (found on BCDD, seed 1, iteration 2)."""
    from leukodet.losses.assign import LevelTargets
    from leukodet.losses.detection import loss_box

    logits = torch.zeros(1, 1, 2, 2, 6)
    logits[0, 0, 1, 1, 2:4] = torch.tensor([3.0, -120.0])  # height → 0: atan(w / h) divides by it
    logits.requires_grad_(True)
    one = torch.tensor([0])
    lt = LevelTargets(
        batch=one, anchor=one, gy=one + 1, gx=one + 1,
        xy=torch.tensor([[1.2, 1.3]]), wh=torch.tensor([[1.0, 2.0]]), anchor_wh=torch.tensor([[1.0, 1.5]]),
        cls=one, target=one,
    )  # fmt: skip
    terms, _ = loss_box([logits], [lt])
    terms["loss_box"].backward()
    assert torch.isfinite(terms["loss_box"]) and torch.isfinite(logits.grad).all()


def test_objectness_targets_mix_the_iou_with_one() -> None:
    from leukodet.losses.detection import objectness_targets

    ious = [torch.tensor([0.9, 0.5])]
    assert objectness_targets(ious, 1.0) is ious  # the spec's target, untouched
    assert torch.equal(objectness_targets(ious, 0.0)[0], torch.ones(2))
    assert torch.allclose(objectness_targets(ious, 0.5)[0], torch.tensor([0.95, 0.75]))


def _trained_objectness(ratio: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Objectness at a labelled cell's assigned cells after SGD on the objectness logits alone (boxes fixed), and
    those cells' box IoUs."""
    crit = DetectionCriterion(LossConfig(obj_iou_ratio=ratio), num_classes=3, imgsz=80)
    levels = _levels(0.0)
    targets = torch.tensor([[0.0, 1.0, 26.0, 10.0, 42.0, 26.0]])
    assigned = crit.assign(levels, ANCHORS, STRIDES, targets)
    for _ in range(300):
        levels[0].grad = None
        crit.terms(levels, assigned)["loss_obj"].backward()
        with torch.no_grad():
            levels[0][..., 4] -= 50.0 * levels[0].grad[..., 4]
    lt, ious = assigned[0], loss_box(levels, assigned)[1][0]
    return levels[0][lt.batch, lt.anchor, lt.gy, lt.gx, 4].detach().sigmoid(), ious


def test_objectness_towards_one_reaches_the_pseudo_label_band() -> None:
    """Issue #22: trained towards the IoU (the spec), a labelled cell's objectness levels off at its IoU, under
    SLA-Det's t1 = 0.95 whatever its class score; with ``loss.obj_iou_ratio=0`` it passes t1."""
    (at_iou, ious), (at_one, _) = _trained_objectness(1.0), _trained_objectness(0.0)
    assert len(at_iou) == 9 and torch.allclose(at_iou, ious, atol=0.01) and (at_iou < 0.95).all()
    assert (at_one > 0.95).all()


def test_the_objectness_ratio_must_lie_between_zero_and_one() -> None:
    import pytest

    from leukodet.config import ConfigError, apply_overrides, load_config

    with pytest.raises(ConfigError, match="loss.obj_iou_ratio"):
        apply_overrides(load_config(), ["loss.obj_iou_ratio=1.5"])
