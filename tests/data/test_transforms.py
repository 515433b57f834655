"""Augmentations move labelled regions together with boxes; the dataset skips invalid boxes with a count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from leukodet.config import AugmentConfig
from leukodet.data.dataset import DetectionDataset, load_image
from leukodet.data.sample import Sample, collate
from leukodet.data.transforms import affine, flip_lr, letterbox, mixup, mosaic
from leukodet.records import Cell, ImageRecord
from leukodet.records.schema import AttributeSchema

from ..conftest import write_image


def _sample(regions: np.ndarray | None, w: int = 200, h: int = 100) -> Sample:
    return Sample(
        image=np.zeros((h, w, 3), np.uint8),
        boxes=np.array([[10, 10, 30, 40], [150, 50, 190, 90]], np.float32),
        labels=np.array([1, 2]),
        attributes=np.zeros((2, 0), np.int64),
        regions=regions,
    )


def test_flip_moves_regions_with_boxes() -> None:
    s = flip_lr(_sample(np.array([[0, 0, 50, 50]], np.float32)))
    assert np.allclose(s.boxes[0], [170, 10, 190, 40])
    assert np.allclose(s.regions, [[150, 0, 200, 50]])


def test_letterbox_maps_boxes_and_regions_alike() -> None:
    s = letterbox(_sample(np.array([[0, 0, 100, 50]], np.float32)), 400)
    assert s.image.shape == (400, 400, 3) and s.ratio == 2.0 and s.pad == (0.0, 100.0)
    assert np.allclose(s.boxes[0], [20, 120, 60, 180])
    assert np.allclose(s.regions, [[0, 100, 200, 200]])


def test_affine_clips_regions_and_drops_lost_boxes() -> None:
    s = affine(_sample(np.array([[0, 0, 50, 50]], np.float32)), 1.0, -100.0, 0.0, 200, 100)
    assert len(s.boxes) == 1 and np.allclose(s.boxes[0], [50, 50, 90, 90])
    assert s.regions.shape == (0, 4)  # the labelled rectangle left the image: nothing labelled remains
    assert affine(_sample(None), 0.5, 0, 0, 200, 100).regions is None  # fully labelled stays fully labelled


def test_mosaic_turns_fully_labelled_tiles_into_regions() -> None:
    rng = np.random.default_rng(0)
    tiles = [_sample(None, 100, 100), _sample(np.array([[0, 0, 10, 10]], np.float32), 100, 100)] * 2
    m = mosaic(tiles, rng, 100)
    assert m.image.shape == (200, 200, 3)
    assert m.regions is not None
    # tiles 0 and 2 (left column, fully labelled) become their placed rectangles; the 10x10 patches of tiles
    # 1 and 3 move with their tiles (clipped to the canvas, so one may vanish)
    left = m.regions[(m.regions[:, 2] - m.regions[:, 0]) == 100]
    assert len(left) == 2 and np.all(left[:, 2] == left[0, 2])
    small = m.regions[(m.regions[:, 2] - m.regions[:, 0]) == 10]
    assert len(small) >= 1 and np.all(small[:, 0] == left[0, 2])
    assert mosaic([_sample(None, 100, 100)] * 4, rng, 100).regions is None


def test_mixup_labels_where_both_are_labelled() -> None:
    a = _sample(np.array([[0, 0, 100, 100]], np.float32))
    b = _sample(np.array([[50, 50, 200, 100]], np.float32))
    m = mixup(a, b, np.random.default_rng(0))
    assert np.allclose(m.regions, [[50, 50, 100, 100]]) and len(m.boxes) == 4


def test_dataset_skips_invalid_boxes_counted(tmp_path: Path) -> None:
    img = write_image(tmp_path / "a.png", 64, 48)
    cells = (Cell((1, 1, 20, 20), 0), Cell((5, 5, 5, 9), 0), Cell((1, 1, 9, 9), 7))
    rec = ImageRecord(img, 64, 48, "train", cells, ((0.0, 0.0, 32.0, 48.0),))
    ds = DetectionDataset([rec], num_classes=2, schema=AttributeSchema(), imgsz=64)
    assert dict(ds.skipped) == {"zero_size": 1, "unknown_class": 1}
    s = ds[0]
    assert s.image.shape == (64, 64, 3) and len(s.boxes) == 1
    assert np.allclose(s.regions, [[0, 8, 32, 56]])  # letterbox pads 8 px top
    aug = DetectionDataset([rec] * 4, 2, AttributeSchema(), 64, AugmentConfig(), seed=1)
    batch = collate([aug[i] for i in range(4)])
    assert batch.images.shape == (4, 3, 64, 64) and batch.targets.shape[1] == 6
    assert all(r is not None for r in batch.regions)


def test_load_image_says_missing_or_undecodable(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="image file does not exist"):
        load_image(str(tmp_path / "nope.png"))
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(OSError, match="cannot decode image"):
        load_image(str(tmp_path / "bad.png"))
