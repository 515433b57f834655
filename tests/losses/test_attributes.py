"""Attribute loss: ASL against a hand computation, not-applicable masking, the AttriHead's shapes and gradient."""

from __future__ import annotations

import math

import pytest
import torch

from leukodet.losses.attributes import asymmetric_loss, loss_attr
from leukodet.model.attrihead import AttriHead


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_asymmetric_loss_matches_hand_computation() -> None:
    got = asymmetric_loss(torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1.0, 0.0, 0.0]))
    p1 = _sig(2.0)
    pos = -((1 - p1) ** 1) * math.log(p1)  # γ+ = 1
    pm = _sig(-1.0) - 0.08  # negatives: probability shifted by the clip
    neg = -(pm**4) * math.log(1 - pm)  # γ- = 4
    pm3 = _sig(0.5) - 0.08
    neg3 = -(pm3**4) * math.log(1 - pm3)
    assert got.tolist() == pytest.approx([pos, neg, neg3], rel=1e-5)
    # a negative whose probability is below the clip costs nothing
    assert asymmetric_loss(torch.tensor([-3.0]), torch.tensor([0.0])).item() == 0.0


def test_loss_attr_masks_not_applicable_and_averages_over_valid_boxes() -> None:
    logits = torch.tensor(
        [[2.0, -1.0, 0.3, 0.1, -0.2], [0.5, 0.5, 1.0, -1.0, 0.0], [9.0, 9.0, 9.0, 9.0, 9.0]]
    )
    targets = torch.tensor([[0, 2], [1, -1], [-1, -1]])  # box 3 is "not applicable" throughout (class None)
    sizes = (2, 3)
    got = loss_attr(logits, targets, sizes)["loss_attr"]
    asl = asymmetric_loss
    box1 = (
        asl(logits[0, :2], torch.tensor([1.0, 0.0])).sum()
        + asl(logits[0, 2:], torch.tensor([0.0, 0, 1])).sum()
    )
    box2 = asl(logits[1, :2], torch.tensor([0.0, 1.0])).sum()
    assert got.item() == pytest.approx(((box1 + box2) / 2).item(), rel=1e-6)
    logits.requires_grad_(True)
    loss_attr(logits, targets, sizes)["loss_attr"].backward()
    assert logits.grad[2].abs().sum() == 0 and logits.grad[1, 2:].abs().sum() == 0  # masked: no gradient
    assert logits.grad[0].abs().sum() > 0
    none = loss_attr(logits, torch.full((3, 2), -1), sizes)["loss_attr"]
    assert none.item() == 0.0 and none.requires_grad
    with pytest.raises(ValueError, match="3 attributes, the head predicts 2"):
        loss_attr(logits, torch.zeros((3, 3), dtype=torch.long), sizes)


def test_attrihead_pools_boxes_per_image_and_returns_grouped_logits() -> None:
    torch.manual_seed(0)
    head = AttriHead(in_channels=8 + 16, sizes=(2, 6, 3), dropout=0.2)
    feats = {"stem": torch.randn(2, 8, 32, 32, requires_grad=True), "c3_p3": torch.randn(2, 16, 16, 16)}
    boxes = [torch.tensor([[10.0, 12.0, 60.0, 70.0]]), torch.tensor([[0.0, 0, 128, 128], [30, 30, 50, 44]])]
    out = head(feats, boxes)
    assert out.shape == (3, 11)
    out[0].sum().backward()  # the first box lies in image 0 only
    assert feats["stem"].grad[0].abs().sum() > 0 and feats["stem"].grad[1].abs().sum() == 0
    assert head(feats, [torch.zeros(0, 4), torch.zeros(0, 4)]).shape == (0, 11)
    with pytest.raises(ValueError, match="at least 2 values"):
        AttriHead(24, sizes=(2, 1))
