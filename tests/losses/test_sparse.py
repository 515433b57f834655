"""SLA-Det terms on hand-built cases: level masks, pseudo-label filters, the similarity loss, masked gradients."""

from __future__ import annotations

import math

import pytest
import torch

from leukodet.config import LossConfig
from leukodet.losses.criterion import DetectionCriterion
from leukodet.losses.sparse import (
    loss_tri,
    max_other_sim,
    min_same_sim,
    prediction_entropy,
    region_masks,
    select_pseudo_labels,
    triplet_margin,
)


def test_region_masks_per_level_follow_cell_centres() -> None:
    # a 64x64 input: level strides 8 and 16 give 8x8 and 4x4 grids
    regions = [torch.tensor([[10.0, 3.0, 37.0, 30.0]]), None, torch.zeros((0, 4))]
    m8, m16 = region_masks(regions, [(8, 8), (4, 4)], [8, 16], anchors=3)
    assert m8.shape == (3, 3, 8, 8) and m16.shape == (3, 3, 4, 4)
    # stride 8: cell centres 4, 12, 20, 28, 36 ...; x in [10, 37) -> columns 1..4, y in [3, 30) -> rows 0..3
    expected = torch.zeros(8, 8)
    expected[0:4, 1:5] = 1
    assert torch.equal(m8[0, 0], expected) and torch.equal(m8[0, 2], expected)
    # stride 16: centres 8, 24, 40, 56 -> x columns 1 (24) and... 8 < 10 is out, 40 >= 37 out; y rows 0, 1
    expected16 = torch.zeros(4, 4)
    expected16[0:2, 1] = 1
    assert torch.equal(m16[0, 1], expected16)
    assert m8[1].min() == 1 and m16[1].min() == 1  # no regions recorded: fully labelled
    assert m8[2].max() == 0  # an empty region list: nothing labelled


def test_entropy_is_in_bits() -> None:
    uniform = torch.full((1, 4), 0.5)
    assert prediction_entropy(uniform).item() == pytest.approx(2.0)  # log2(4)
    sure = torch.tensor([[0.99, 0.001, 0.001]])
    p = torch.tensor([0.99, 0.001, 0.001]) / 0.992
    assert prediction_entropy(sure).item() == pytest.approx(float(-(p * torch.log2(p)).sum()), rel=1e-5)


def _decoded(rows: list[tuple[float, float, float, float, float, list[float]]]) -> torch.Tensor:
    """Rows of (cx, cy, w, h, objectness, class probabilities) for one image."""
    return torch.tensor([[cx, cy, w, h, obj, *cls] for cx, cy, w, h, obj, cls in rows])[None]


def test_every_pseudo_label_filter() -> None:
    region = [torch.tensor([[0.0, 0.0, 100.0, 100.0]])]
    gt = torch.tensor([[0.0, 1.0, 200.0, 200.0, 240.0, 240.0]])
    sharp, flat = [0.999, 0.001, 0.001], [0.99, 0.6, 0.6]
    dec = _decoded(
        [
            (50, 50, 30, 30, 0.99, sharp),  # centre inside the labelled region: dropped
            (300, 50, 30, 30, 0.99, sharp),  # outside, big, sure, low entropy: pseudo-label
            (300, 300, 4, 4, 0.99, sharp),  # area 16 < area_min 100: dropped
            (215, 215, 30, 30, 0.99, sharp),  # 25x25 = 625 px² of overlap with the gt box: dropped
            (500, 500, 30, 30, 0.99, flat),  # sure but entropy high: neither label nor candidate
            (400, 50, 30, 30, 0.80, [0.95, 0.01, 0.01]),  # conf 0.76: similarity candidate
            (400, 400, 30, 30, 0.60, sharp),  # below t0: dropped
        ]
    )
    found = select_pseudo_labels(dec, region, gt, area_min=100.0)
    assert found.targets.tolist() == [[0.0, 0.0, 285.0, 35.0, 315.0, 65.0]]
    assert found.candidates[:, :6].tolist() == [[0.0, 0.0, 385.0, 35.0, 415.0, 65.0]]
    assert found.counts == {
        "t0_nms": 6, "outside": 5, "area": 4, "gt_overlap": 3, "pseudo": 1, "candidates": 1,
    }  # fmt: skip
    assert prediction_entropy(torch.tensor([flat])).item() > 0.26
    none = select_pseudo_labels(dec, [None], gt, area_min=100.0)  # a fully labelled image has no outside
    assert len(none.targets) == 0 and len(none.candidates) == 0


def test_similarity_terms_on_known_features() -> None:
    # candidate class 0; gt: two of class 0, one of class 1 (other images, so no IoU skip)
    cand_f = torch.tensor([[1.0, 0.0]])
    gt_f = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    cand = torch.tensor([[0.0, 0.0, 0, 0, 10, 10]])
    gt = torch.tensor([[1.0, 0.0, 0, 0, 10, 10], [1.0, 0.0, 20, 20, 30, 30], [2.0, 1.0, 0, 0, 10, 10]])
    sim = cand_f @ gt_f.T
    same, other = gt[None, :, 1] == 0, gt[None, :, 1] == 1
    assert min_same_sim(sim, same).item() == pytest.approx(0.6)
    assert max_other_sim(sim, other).item() == pytest.approx(0.0)
    paper = loss_tri(cand_f, cand, gt_f, gt, margin=0.05, sign="paper")["loss_tri"]
    fixed = loss_tri(cand_f, cand, gt_f, gt, margin=0.05, sign="fixed")["loss_tri"]
    assert paper.item() == pytest.approx(0.6 - 0.05) and fixed.item() == 0.0
    close = torch.tensor([[0.0, 1.0]])  # now closest to the other class
    assert loss_tri(close, cand, gt_f, gt, sign="fixed")["loss_tri"].item() == pytest.approx(1 + 0.05 - 0.0)
    # same image and IoU >= 0.3: that ground-truth cell is not compared; no other class left -> no term
    gt_same_image = torch.tensor([[0.0, 0.0, 0, 0, 10, 10], [0.0, 1.0, 0, 0, 10, 10]])
    assert loss_tri(cand_f, cand, gt_f[:2], gt_same_image)["loss_tri"].item() == 0.0
    assert triplet_margin(torch.tensor([0.2]), torch.tensor([0.5])).item() == 0.0
    with pytest.raises(ValueError, match="paper' or 'fixed"):
        triplet_margin(torch.tensor([0.2]), torch.tensor([0.5]), sign="other")


def test_masked_objectness_has_no_gradient_outside_regions() -> None:
    torch.manual_seed(0)
    levels = [torch.randn(1, 3, 8, 8, 8, requires_grad=True)]  # one level, 3 classes
    anchors = torch.tensor([[[8.0, 8.0], [16.0, 16.0], [24.0, 24.0]]])
    targets = torch.tensor([[0.0, 1.0, 8.0, 8.0, 24.0, 24.0]])
    crit = DetectionCriterion(LossConfig(obj_balance=(1.0, 1.0, 1.0)), num_classes=3, imgsz=64)
    masks = region_masks([torch.tensor([[0.0, 0.0, 32.0, 32.0]])], [(8, 8)], [8], anchors=3)
    total, _ = crit(levels, anchors, torch.tensor([8.0]), targets, masks)
    total.backward()
    grad = levels[0].grad[0, :, :, :, 4].abs()
    assert grad[:, :4, :4].sum() > 0  # inside the region: negatives and the positive are supervised
    assert grad[:, 4:, :].sum() == 0 and grad[:, :, 4:].sum() == 0  # outside: no gradient at all
    assert math.isfinite(total.item())
