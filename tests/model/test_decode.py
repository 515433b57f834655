"""YOLOv5 box decoding checked against hand-computed values."""

from __future__ import annotations

import math

import torch

from leukodet.model import DetectorOutput, box_from_logits, decode_boxes, decode_level, make_grid
from leukodet.model.decode import unravel_prediction_index

LOG3 = math.log(3.0)  # sigmoid(log 3) = 0.75


def test_make_grid() -> None:
    g = make_grid(2, 3)
    assert g.shape == (2, 3, 2)
    assert g[1, 2].tolist() == [2.0, 1.0]  # (gx, gy)


def test_box_from_logits_hand_case() -> None:
    t = torch.tensor([[0.0, 0.0, 0.0, 0.0], [LOG3, -LOG3, LOG3, 0.0]])
    grid = torch.tensor([[2.0, 3.0], [0.0, 1.0]])
    anchor = torch.tensor([[10.0, 20.0], [4.0, 8.0]])
    boxes = box_from_logits(t, grid, anchor, 8)
    # row 0: xy = (2·0.5 − 0.5 + g)·8 = (2.5, 3.5)·8; wh = (2·0.5)²·a = a
    # row 1: x = (1.5 − 0.5 + 0)·8 = 8; y = (0.5 − 0.5 + 1)·8 = 8; w = 1.5²·4 = 9; h = 1·8 = 8
    expected = torch.tensor([[20.0, 28.0, 10.0, 20.0], [8.0, 8.0, 9.0, 8.0]])
    assert torch.allclose(boxes, expected, atol=1e-5)
    per_row = box_from_logits(t, grid, anchor, torch.tensor([8.0, 8.0]))
    assert torch.allclose(per_row, expected, atol=1e-5)


def _output(nc: int = 2) -> DetectorOutput:
    anchors = torch.tensor([[[10.0, 13.0], [16.0, 30.0]], [[30.0, 61.0], [62.0, 45.0]]])
    levels = [torch.zeros(1, 2, 4, 4, 5 + nc), torch.zeros(1, 2, 2, 2, 5 + nc)]
    return DetectorOutput(levels=levels, strides=(8, 16), anchors=anchors, image_size=(32, 32))


def test_decode_level_and_order() -> None:
    out = _output()
    out.levels[1][0, 1, 1, 0, :4] = torch.tensor([LOG3, LOG3, LOG3, LOG3])
    dec = decode_boxes(out)
    assert dec.shape == (1, 2 * 16 + 2 * 4, 7)
    assert torch.allclose(dec[..., 4:], torch.full_like(dec[..., 4:], 0.5))
    # level 0, anchor 1, row 2, col 3 → index 16 + 2·4 + 3
    assert torch.allclose(dec[0, 16 + 11, :4], torch.tensor([3.5 * 8, 2.5 * 8, 16.0, 30.0]))
    # level 1, anchor 1, row 1, col 0 → 32 + 4 + 2 ; x = (1 + 0)·16, y = (1 + 1)·16, wh = 2.25·anchor
    assert torch.allclose(dec[0, 38, :4], torch.tensor([16.0, 32.0, 2.25 * 62, 2.25 * 45]))
    assert torch.equal(decode_level(out.levels[1], out.anchors[1], 16), dec[:, 32:])
    idx = torch.tensor([0, 27, 38, 39])
    expected = [[0, 0, 0, 0], [0, 1, 2, 3], [1, 1, 1, 0], [1, 1, 1, 1]]
    assert unravel_prediction_index(out, idx).tolist() == expected
