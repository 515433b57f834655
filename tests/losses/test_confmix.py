"""ConfMix pieces on constructed inputs: schedule, box uncertainty, region confidence, mixing of images and labels."""

from __future__ import annotations

import math

import pytest
import torch

from leukodet.losses.confmix import (
    box_uncertainty,
    mix_images,
    mix_targets,
    outside_cell,
    progressive_delta,
    pseudo_confidence,
    region_boxes,
    region_confidence,
)


def test_progressive_delta_rises_from_zero() -> None:
    values = [progressive_delta(r / 10, 5.0) for r in range(11)]
    assert values[0] == 0.0 and all(b > a for a, b in zip(values, values[1:]))
    assert values[-1] == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert progressive_delta(2.0, 5.0) == values[-1]  # clamped to the run


def test_box_uncertainty_known_spread() -> None:
    kept = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    agree = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
    assert box_uncertainty(kept, agree, torch.ones(2)).item() == pytest.approx(0.0, abs=1e-6)
    # two equally scored candidates 2 px apart in x: std of x1 and x2 = 1 px = 0.1 of the width
    spread = torch.tensor([[0.0, 0.0, 10.0, 10.0], [2.0, 0.0, 12.0, 10.0], [50.0, 50.0, 60.0, 60.0]])
    u = box_uncertainty(kept, spread, torch.ones(3))
    assert u.item() == pytest.approx((0.1 + 0.0 + 0.1 + 0.0) / 4, abs=1e-5)  # the far box is ignored
    assert box_uncertainty(kept[:0], spread, torch.ones(3)).shape == (0,)


def test_pseudo_confidence_moves_from_loose_to_strict() -> None:
    c, u = torch.tensor([0.8, 0.8]), torch.tensor([0.0, 0.5])
    assert torch.allclose(pseudo_confidence(c, u, 0.0), c)
    assert torch.allclose(pseudo_confidence(c, u, 1.0), torch.tensor([0.8, 0.4]))
    assert torch.allclose(pseudo_confidence(c, u, 0.5), torch.tensor([0.8, 0.6]))


def test_region_confidence_means_per_quarter() -> None:
    cells = region_boxes((100, 200), 2)
    assert cells.tolist() == [[0, 0, 100, 50], [100, 0, 200, 50], [0, 50, 100, 100], [100, 50, 200, 100]]
    boxes = torch.tensor([[10.0, 10, 20, 20], [30, 5, 40, 15], [150, 60, 170, 80]])
    conf = torch.tensor([0.9, 0.5, 0.6])
    assert region_confidence(boxes, conf, cells).tolist() == pytest.approx([0.7, 0.0, 0.0, 0.6])


def test_mix_images_pastes_the_chosen_cell() -> None:
    src, tgt = torch.zeros(2, 3, 8, 8), torch.ones(2, 3, 8, 8)
    cells = torch.tensor([[0.0, 0.0, 4.0, 4.0], [4.0, 4.0, 8.0, 8.0]])
    mixed = mix_images(src, tgt, cells)
    assert mixed[0, :, :4, :4].eq(1).all() and mixed[0].sum() == 3 * 16
    assert mixed[1, :, 4:, 4:].eq(1).all() and mixed[1].sum() == 3 * 16
    assert src.sum() == 0  # the source batch is not modified


def test_mix_targets_keeps_outside_source_and_inside_pseudo() -> None:
    cells = torch.tensor([[0.0, 0.0, 50.0, 50.0], [50.0, 50.0, 100.0, 100.0]])
    source = torch.tensor(
        [
            [0, 1, 10, 10, 20, 20],  # image 0, inside its cell: replaced by target pixels → dropped
            [0, 2, 60, 60, 80, 80],  # image 0, outside: kept
            [1, 1, 10, 10, 20, 20],  # image 1, outside its cell: kept
        ],
        dtype=torch.float32,
    )
    pseudo = torch.tensor(
        [
            [0, 3, 40, 40, 60, 60],  # centre (50, 50) is outside cell 0 (right/bottom edges exclusive)
            [0, 4, 30, 30, 56, 56],  # centre (43, 43) inside cell 0: kept, clipped to the cell
            [1, 5, 10, 10, 20, 20],  # outside cell 1: dropped
        ],
        dtype=torch.float32,
    )
    out = mix_targets(source, pseudo, cells)
    assert out.tolist() == [[0, 2, 60, 60, 80, 80], [1, 1, 10, 10, 20, 20], [0, 4, 30, 30, 50, 50]]
    assert mix_targets(source, pseudo[:0], cells).shape == (2, 6)


def test_outside_cell_is_the_complement_of_the_cell() -> None:
    """The labelled region of a mixed image when the pasted cell is unlabelled: on every detection level a grid
    cell is masked in exactly when its centre lies outside the pasted cell."""
    from leukodet.losses.sparse import region_masks

    cell = torch.tensor([32.0, 0.0, 64.0, 32.0])  # the top-right quarter of a 64 × 64 image
    rects = outside_cell(cell, (64, 64))
    areas = (rects[:, 2] - rects[:, 0]).clamp(min=0) * (rects[:, 3] - rects[:, 1]).clamp(min=0)
    assert float(areas.sum()) == 64 * 64 - 32 * 32
    for mask, stride in zip(region_masks([rects], [(8, 8), (4, 4), (2, 2)], [8, 16, 32], 3), [8, 16, 32]):
        centres = (torch.arange(64 // stride) + 0.5) * stride
        inside = (centres[None, :] >= 32) & (centres[:, None] < 32)  # [y, x]: in the top-right quarter
        assert torch.equal(mask[0, 0].bool(), ~inside)
