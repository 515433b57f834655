"""Labelled-region membership by box centre."""

from __future__ import annotations

import numpy as np

from leukodet.eval.regions import in_regions


def test_in_regions_inclusive_centres() -> None:
    boxes = np.array([[0, 0, 20, 20], [90, 90, 110, 110], [95, 0, 125, 10], [300, 300, 310, 310]], float)
    regions = ((0.0, 0.0, 100.0, 100.0), (200.0, 200.0, 400.0, 400.0))
    assert in_regions(boxes, regions).tolist() == [True, True, False, True]  # (100, 100) on the border: in
    assert in_regions(boxes, None).all()
    assert not in_regions(boxes, ()).any()
    assert in_regions(np.zeros((0, 4)), regions).shape == (0,)
