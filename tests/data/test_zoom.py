"""The zoom of a training view: the paper's uniform range, or a band of white-cell sizes derived from the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from leukodet.config import AugmentConfig, ConfigError, RunConfig, apply_overrides
from leukodet.data.dataset import DetectionDataset
from leukodet.data.transforms import Zoom
from leukodet.engine.run_data import DataBundle, white_cell_median_px
from leukodet.records import Cell, ImageRecord
from leukodet.records.schema import AttributeSchema

from ..conftest import write_image


def test_uniform_zoom_draws_what_the_paper_formula_draws() -> None:
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    zoom = Zoom.uniform(0.9)
    assert [zoom.draw(a) for _ in range(5)] == [float(b.uniform(1 - 0.9, 1 + 0.9)) for _ in range(5)]


def test_cell_band_zoom_is_log_uniform_over_the_band() -> None:
    zoom = Zoom.for_cells(100.0, (20.0, 200.0))
    assert (zoom.lo, zoom.hi, zoom.log) == (0.2, 2.0, True)
    draws = np.array([zoom.draw(np.random.default_rng(i)) for i in range(2000)]) * 100.0
    assert draws.min() >= 20.0 and draws.max() <= 200.0
    # log-uniform: the median cell is the band's geometric mean (63 px), not its middle (110 px)
    assert np.median(draws) == pytest.approx(np.sqrt(20 * 200), rel=0.08)
    assert np.mean(draws < 63.2) == pytest.approx(0.5, abs=0.05)


def test_views_of_a_cell_stay_in_the_band(tmp_path: Path) -> None:
    image = write_image(tmp_path / "a.png", 200, 200)
    rec = ImageRecord(path=image, width=200, height=200, cells=(Cell(box=(90, 90, 110, 110), class_id=0),))
    band = (30.0, 90.0)
    aug = AugmentConfig(mosaic=0.0, translate=0.0, fliplr=0.0, cell_px=band)
    ds = DetectionDataset([rec] * 40, 1, AttributeSchema(), 200, aug, seed=3, cell_median_px=20.0)
    sides = [float(np.max(ds[i].boxes[0, 2:] - ds[i].boxes[0, :2])) for i in range(40)]
    assert min(sides) >= band[0] - 1 and max(sides) <= band[1] + 1
    assert max(sides) - min(sides) > 30  # it does draw across the band
    paper = DetectionDataset([rec] * 40, 1, AttributeSchema(), 200, AugmentConfig(mosaic=0.0, translate=0.0))
    assert min(float(np.max(paper[i].boxes[0, 2:] - paper[i].boxes[0, :2])) for i in range(40)) < band[0]


def test_the_median_is_of_white_cells_and_the_band_is_validated(tmp_path: Path) -> None:
    cells = (Cell(box=(0, 0, 100, 80), class_id=0), Cell(box=(0, 0, 10, 10), class_id=1))
    rec = ImageRecord(path=tmp_path / "a.png", width=400, height=200, cells=cells)
    data = DataBundle("d", ["WBC", "RBC"], AttributeSchema(), [rec], [])
    assert white_cell_median_px(data, 200) == pytest.approx(50.0)  # the WBC's 100 px side at half size
    with pytest.raises(ConfigError, match="augment.cell_px"):
        apply_overrides(RunConfig(), ["augment.cell_px=[90, 30]"])
    assert apply_overrides(RunConfig(), ["augment.cell_px=[16, 200]"]).augment.cell_px == (16.0, 200.0)
