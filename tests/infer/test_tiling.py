"""Tiled prediction: the tile grid, the cross-tile merge (hand-made seams), and tiling end to end.

The end-to-end tests replace the network by a deterministic "model" that returns the exact boxes of the dark
blobs in each network input (``Detector._detect`` is the seam), so they check cropping, shifting and merging
of real tiles rather than a trained detector.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from leukodet.data.sample import collate
from leukodet.data.transforms import PAD_VALUE, letterbox
from leukodet.infer.predictor import Detector, _as_sample, to_predictions
from leukodet.infer.tiling import (
    crop_tile,
    cut_boxes,
    merge_tiles,
    needs_tiling,
    overlap_pixels,
    tile_grid,
)
from leukodet.model.postprocess import Detections, postprocess
from leukodet.model.registry import create_model
from leukodet.synth import RBC_CLASS_ID, render_field

CLASSES = ["None", "Myeloblast", "Lymphoblast"]


def _axis(origins: list[tuple[int, int]], axis: int) -> list[int]:
    return sorted({o[axis] for o in origins})


@pytest.mark.parametrize(
    ("width", "height", "tile", "overlap"),
    [
        (4000, 3000, 640, 128),
        (1920, 1080, 640, 96),
        (1281, 641, 640, 128),
        (700, 650, 64, 13),
        (97, 1000, 32, 0),
    ],
)
def test_tile_grid_covers_image_with_overlap(width: int, height: int, tile: int, overlap: int) -> None:
    origins = tile_grid(width, height, tile, overlap)
    covered = np.zeros((height, width), bool)
    for x, y in origins:
        assert 0 <= x and 0 <= y and (x + tile <= width or x == 0) and (y + tile <= height or y == 0)
        covered[y : y + tile, x : x + tile] = True
    assert covered.all()
    for axis, length in ((0, width), (1, height)):
        starts = _axis(origins, axis)
        assert starts[0] == 0 and (starts[-1] + tile == length or length <= tile)
        assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))  # overlap respected
        # any interval no longer than the overlap lies wholly inside some tile
        for a in range(0, max(length - overlap, 0) + 1, 7):
            assert any(s <= a and a + overlap <= s + tile for s in starts)
    assert len(origins) == len(_axis(origins, 0)) * len(_axis(origins, 1))


def test_tile_grid_small_image_and_padding() -> None:
    assert tile_grid(50, 30, 64, 13) == [(0, 0)]
    assert tile_grid(64, 64, 64, 13) == [(0, 0)]
    assert _axis(tile_grid(200, 40, 64, 13), 1) == [0]
    image = np.random.default_rng(0).integers(0, 255, (30, 50, 3), dtype=np.uint8)
    crop = crop_tile(image, 0, 0, 64)
    assert crop.shape == (64, 64, 3) and np.array_equal(crop[:30, :50], image)
    assert (crop[30:] == PAD_VALUE).all() and (crop[:, 50:] == PAD_VALUE).all()
    boxes = torch.tensor([[0.0, 0.0, 64.0, 64.0]])  # a padded tile has no internal edge
    assert not cut_boxes(boxes, (0, 0), 64, (50, 30)).any()
    with pytest.raises(ValueError):
        tile_grid(100, 100, 64, 64)


def test_overlap_and_auto_rule() -> None:
    assert overlap_pixels(640, 0.2) == 128 and overlap_pixels(640, 0.0) == 96  # floor MIN_OVERLAP
    with pytest.raises(ValueError, match="tile overlap"):
        overlap_pixels(640, 0.6)
    assert not needs_tiling(1280, 900, 640, None) and needs_tiling(1281, 900, 640, None)
    assert needs_tiling(100, 100, 640, True) and not needs_tiling(5000, 5000, 640, False)


def _dets(rows: list[tuple[float, float, float, float, float, int]]) -> Detections:
    t = torch.tensor([r[:5] for r in rows], dtype=torch.float32).reshape(-1, 5)
    labels = torch.tensor([r[5] for r in rows], dtype=torch.long)
    return Detections(t[:, :4], t[:, 4], labels, torch.arange(len(rows)))


# Image 1000x600, tiles of 400 with 100 px overlap: origins x 0/300/600, y 0/200. Rows are hand-written
# per-tile detections in *tile* pixels: (x1, y1, x2, y2, score, label).
SEAM_TILES = {
    (0, 0): [
        (370, 150, 400, 250, 0.90, 1),  # A: right part cut by the seam at x=400 (confident, other class)
        (320, 50, 380, 100, 0.80, 0),  # C: whole here and in tile (300, 0)
        (100, 380, 160, 400, 0.90, 0),  # E: top part, cut by the seam at y=400
        (100, 320, 160, 378, 0.80, 0),  # F: E's neighbour, whole here and in tile (0, 200)
    ],
    (300, 0): [
        (70, 150, 130, 250, 0.70, 0),  # A: the complete view
        (21, 51, 81, 101, 0.75, 0),  # C again (1 px off)
    ],
    (600, 0): [(360, 10, 400, 60, 0.60, 2)],  # D: ends on the image border (not a seam)
    (0, 200): [
        (370, 0, 400, 50, 0.95, 1),  # A: corner piece, cut by two seams
        (100, 180, 160, 240, 0.70, 0),  # E: complete
        (100, 120, 160, 178, 0.80, 0),  # F again
    ],
    (300, 200): [
        (70, 0, 130, 50, 0.85, 0),  # A: bottom part cut by the seam at y=200
        (280, 220, 340, 280, 0.60, 0),  # B: straddles the x=600 seam, seen whole here
    ],
    (600, 200): [(0, 220, 40, 280, 0.90, 0)],  # B: cut by this tile's left edge
}
SEAM_CELLS = {
    "A": (370, 150, 430, 250),
    "B": (580, 420, 640, 480),
    "C": (320, 50, 380, 100),
    "D": (960, 10, 1000, 60),
    "E": (100, 380, 160, 440),
    "F": (100, 320, 160, 378),
}


def test_merge_returns_each_seam_cell_once() -> None:
    origins = tile_grid(1000, 600, 400, 100)
    assert origins == list(SEAM_TILES)
    dets = [_dets(SEAM_TILES[o]) for o in origins]
    merged = merge_tiles(dets, origins, 400, (1000, 600), iou=0.45)
    assert len(merged) == len(SEAM_CELLS)
    for name, box in SEAM_CELLS.items():
        err = (merged.boxes - torch.tensor(box, dtype=torch.float32)).abs().amax(1)
        assert int((err <= 1.0).sum()) == 1, name
    a = int(torch.argmin((merged.boxes - torch.tensor(SEAM_CELLS["A"], dtype=torch.float32)).abs().sum(1)))
    assert merged.labels[a] == 0 and merged.scores[a] == pytest.approx(0.70)  # the complete view wins
    assert torch.all(merged.scores[:-1] >= merged.scores[1:])
    unmerged = merge_tiles(dets, origins, 400, (1000, 600), iou=0.45, cover=1.01)  # no partial-view rule
    assert len(unmerged) > len(SEAM_CELLS)
    assert len(merge_tiles([Detections.empty()] * 2, origins[:2], 400, (1000, 600))) == 0


class BlobModel:
    """Stand-in for ``Detector._detect``: every dark 8-connected blob of an input is one exact box."""

    def __init__(self) -> None:
        self.inputs: list[tuple[int, ...]] = []

    def __call__(self, images: torch.Tensor, cfg: object, select: object = None) -> tuple:
        """Detections per input and (no AttriHead) empty attribute calls, as ``Detector._detect`` returns."""
        self.inputs.append(tuple(images.shape))
        out = []
        for img in images:
            dark = (img.mean(0).numpy() < 0.3).astype(np.uint8)
            n, _, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
            rows = [(x, y, x + w, y + h, 0.9, 0) for x, y, w, h, a in stats[1:n].tolist() if a >= 20]
            out.append(_dets(rows))
        return out, [[{} for _ in range(len(d.scores))] for d in out]


def _blob_detector(imgsz: int) -> tuple[Detector, BlobModel]:
    det = Detector(create_model("test_tiny", len(CLASSES)), {"classes": CLASSES, "imgsz": imgsz})
    stub = BlobModel()
    det._detect = stub  # type: ignore[method-assign]
    return det, stub


def _cell_masks() -> list[np.ndarray]:
    """Single-blob leukocyte masks from synthetic fields (not touching the field border)."""
    masks = []
    for seed in range(6):
        field = render_field(seed, "HCM_100x_C2", size=640)
        for cell, mask in zip(field.cells, field.masks):
            x1, y1, x2, y2 = cell.box
            if cell.class_id >= RBC_CLASS_ID or min(x1, y1) <= 0 or max(x2, y2) >= 640:
                continue
            if cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] == 2:
                masks.append(mask)
    return masks


def _compose_film(width: int = 4000, height: int = 3000, crop: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Two leukocyte silhouettes per ``crop`` square (one per half), each wholly inside its square."""
    rng = np.random.default_rng(5)
    masks = _cell_masks()
    image = np.full((height, width, 3), 230, np.uint8)
    boxes = []
    for cy in range(0, height, crop):
        for cx in range(0, width, crop):
            for half in (0, 1):
                mask = masks[int(rng.integers(len(masks)))]
                mask = mask[:, ::-1] if rng.random() < 0.5 else mask
                h, w = mask.shape
                x = cx + half * crop // 2 + int(rng.integers(3, crop // 2 - w - 3))
                y = cy + int(rng.integers(3, crop - h - 3))
                image[y : y + h, x : x + w][mask] = 10
                ys, xs = np.nonzero(mask)
                boxes.append([x + xs.min(), y + ys.min(), x + xs.max() + 1, y + ys.max() + 1])
    return image, np.array(boxes, np.float64)


def _match(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    """Same number of boxes and each box of ``a`` has its own box of ``b`` within ``tol`` px."""
    if len(a) != len(b):
        return False
    err = np.abs(a[:, None, :] - b[None, :, :]).max(2)
    return bool((err.min(1) <= tol).all() and len(set(err.argmin(1).tolist())) == len(a))


def test_tiled_large_field_matches_truth_and_separate_crops() -> None:
    image, truth = _compose_film()
    det, stub = _blob_detector(640)
    tiled = det.predict(image)[0]  # 4000 > 2 x 640: tiled automatically
    origins = tile_grid(4000, 3000, 640, overlap_pixels(640, 0.2))
    assert sum(s[0] for s in stub.inputs) == len(origins) == 48 and max(s[0] for s in stub.inputs) == 8
    seams = [
        {o[a] for o in origins if o[a] > 0} | {o[a] + 640 for o in origins if o[a] + 640 < n}
        for a, n in ((0, 4000), (1, 3000))
    ]
    straddling = sum(any(b[a] < s < b[a + 2] for a in (0, 1) for s in seams[a]) for b in truth)
    assert straddling >= 20  # the test exercises the merge
    assert _match(truth, tiled.boxes, tol=0.0)
    crops = [(x, y) for y in range(0, 3000, 500) for x in range(0, 4000, 500)]
    parts = det.predict([np.ascontiguousarray(image[y : y + 500, x : x + 500]) for x, y in crops])
    separate = np.concatenate([p.boxes + [x, y, x, y] for p, (x, y) in zip(parts, crops)])
    assert _match(separate, tiled.boxes, tol=2.0)


def test_auto_tiling_threshold() -> None:
    det, stub = _blob_detector(64)
    edge = np.full((100, 128, 3), 230, np.uint8)  # long side exactly 2 x imgsz: letterboxed
    det.predict(edge)
    assert stub.inputs == [(1, 3, 64, 64)]
    stub.inputs.clear()
    det.predict(np.full((100, 129, 3), 230, np.uint8), batch=4)
    n = len(tile_grid(129, 100, 64, overlap_pixels(64, 0.2)))
    assert n > 1 and sum(s[0] for s in stub.inputs) == n and max(s[0] for s in stub.inputs) <= 4
    stub.inputs.clear()
    det.predict([edge, np.full((100, 129, 3), 230, np.uint8)], tile=False)
    assert stub.inputs == [(2, 3, 64, 64)]


def _reference(det: Detector, images: list, size: int, conf: float) -> list:
    """The letterbox path as it was before tiling existed."""
    samples = [letterbox(_as_sample(im, i), size) for i, im in enumerate(images)]
    b = collate(samples)
    with torch.no_grad():
        dets = postprocess(det.model(b.images), conf, 0.45, 300, False)
    return to_predictions(dets, b.ratios, b.pads, b.orig_sizes, b.paths, det.class_names)


def test_untiled_predictions_unchanged_and_tiles_in_bounds(tmp_path: Path) -> None:
    torch.manual_seed(0)
    det = Detector(create_model("test_tiny", len(CLASSES)), {"classes": CLASSES, "imgsz": 64})
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, shape, dtype=np.uint8) for shape in ((100, 128, 3), (64, 40, 3))]
    cv2.imwrite(str(tmp_path / "a.png"), images[0])
    inputs = [images[0], images[1], str(tmp_path / "a.png")]
    got, want = det.predict(inputs, conf=1e-4), _reference(det, inputs, 64, 1e-4)
    assert sum(len(p) for p in want) > 0
    for g, w in zip(got, want):
        assert np.array_equal(g.boxes, w.boxes) and np.array_equal(g.scores, w.scores)
        assert np.array_equal(g.class_ids, w.class_ids) and g.image == w.image
    big = rng.integers(0, 255, (150, 300, 3), dtype=np.uint8)
    (forced,) = det.predict(big, conf=1e-4, tile=False)
    (ref,) = _reference(det, [big], 64, 1e-4)
    assert np.array_equal(forced.boxes, ref.boxes) and np.array_equal(forced.scores, ref.scores)
    (tiled,) = det.predict(big, conf=1e-4)
    assert len(tiled) > 0 and (tiled.width, tiled.height) == (300, 150)
    assert (tiled.boxes >= 0).all() and (tiled.boxes[:, [0, 2]] <= 300).all()
    assert (tiled.boxes[:, [1, 3]] <= 150).all() and math.isfinite(float(tiled.scores.sum()))
