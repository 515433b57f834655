"""Boxes are the exact tight bounds of the drawn instance masks."""

from __future__ import annotations

import numpy as np
import pytest

from leukodet.synth.field import RBC_CLASS_ID, render_field


@pytest.mark.parametrize("domain,size", [("HCM_100x_C2", 640), ("LCM_40x_C1", 320), ("HCM_10x_C2", 256)])
def test_boxes_tight_around_masks(domain: str, size: int) -> None:
    f = render_field(11, domain, size)
    assert len(f.cells) == len(f.masks) and len(f.cells) > 0
    assert any(c.class_id < RBC_CLASS_ID for c in f.cells)
    for cell, m in zip(f.cells, f.masks):
        x1, y1, x2, y2 = cell.box
        assert 0 <= x1 < x2 <= size and 0 <= y1 < y2 <= size
        assert m.shape == (y2 - y1, x2 - x1)
        # every border row/column of the box touches the mask: the box cannot shrink
        assert m[0].any() and m[-1].any() and m[:, 0].any() and m[:, -1].any()


def test_wbc_box_contains_its_dark_pixels() -> None:
    """The drawn nucleus (darkest pixels near a WBC) lies inside that WBC's box."""
    f = render_field(5, "HCM_100x_C2", 640)
    grey = f.image.astype(np.float32).mean(-1)
    for cell, m in zip(f.cells, f.masks):
        if cell.class_id >= RBC_CLASS_ID:
            continue
        x1, y1, x2, y2 = (int(v) for v in cell.box)
        inside = grey[y1:y2, x1:x2][m]
        assert inside.min() < np.median(grey) - 40
