"""The crop baseline's patches: only the labelled region, at the whole field's letterbox scale."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from leukodet.data.patches import patch_records
from leukodet.records.schema import Cell, ImageRecord


def test_patch_canvas_keeps_the_field_scale_and_the_cells_inside(tmp_path: Path) -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    image[20:80, 50:110] = (200, 10, 10)  # the labelled patch is red
    cv2.imwrite(str(tmp_path / "f.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    cells = (
        Cell((60, 30, 80, 50), 1, {}),  # inside
        Cell((100, 60, 130, 90), 2, {}),  # centre (115, 75) outside the patch: not kept
        Cell((40, 25, 70, 45), 3, {}),  # centre (55, 35) inside, box clipped at the patch edge x = 50
    )
    rec = ImageRecord(tmp_path / "f.png", 200, 100, "train", cells, ((50, 20, 110, 80),))
    full = ImageRecord(tmp_path / "g.png", 200, 100, "train", cells, None)
    empty = ImageRecord(tmp_path / "h.png", 200, 100, "train", cells, ())
    out = patch_records([rec, full, empty], tmp_path / "patches", imgsz=100)
    assert len(out) == 2 and out[1] is full  # fully labelled kept, nothing-labelled dropped
    patch = out[0]
    assert patch.labeled_regions is None and (patch.width, patch.height) == (100, 100)
    # letterboxing the 200-px field to 100 halves it: the 60x60 patch becomes 30x30 at the top-left
    assert [c.class_id for c in patch.cells] == [1, 3]
    assert patch.cells[0].box == (5.0, 5.0, 15.0, 15.0) and patch.cells[1].box == (0.0, 2.5, 10.0, 12.5)
    canvas = cv2.cvtColor(cv2.imread(str(patch.path)), cv2.COLOR_BGR2RGB)
    assert canvas.shape == (100, 100, 3)
    assert tuple(canvas[10, 10]) == (200, 10, 10) and tuple(canvas[50, 50]) == (114, 114, 114)
