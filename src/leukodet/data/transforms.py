"""Geometric and colour augmentation that keeps boxes, attributes and labelled regions consistent.

Every geometric transform maps boxes and labelled regions with the same affine map (no rotation or shear,
so rectangles stay rectangles), clips them to the output image, and drops boxes that lost most of their
area. A fully labelled image (``regions is None``) stays fully labelled under scale/translate/flip; mosaic and
mixup combine the tiles' regions (a fully labelled tile contributes its placed rectangle).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .sample import Sample

__all__ = [
    "PAD_VALUE",
    "letterbox",
    "resize_long_side",
    "affine",
    "Zoom",
    "random_affine",
    "flip_lr",
    "flip_ud",
    "augment_hsv",
    "mosaic",
    "mixup",
    "box_candidates",
]

PAD_VALUE = 114
"""Grey used for letterbox padding and empty mosaic canvas."""


def _map(xyxy: np.ndarray, scale: float, dx: float, dy: float) -> np.ndarray:
    out = xyxy.astype(np.float32).copy()
    out[:, [0, 2]] = out[:, [0, 2]] * scale + dx
    out[:, [1, 3]] = out[:, [1, 3]] * scale + dy
    return out


def _clip(xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
    out = xyxy.copy()
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


def box_candidates(
    before: np.ndarray, after: np.ndarray, min_side: float = 2.0, min_area: float = 0.1
) -> np.ndarray:
    """Boolean mask of boxes that keep sides ``> min_side`` px and ``> min_area`` of their (scaled) area."""
    wa, ha = after[:, 2] - after[:, 0], after[:, 3] - after[:, 1]
    wb, hb = before[:, 2] - before[:, 0], before[:, 3] - before[:, 1]
    return (wa > min_side) & (ha > min_side) & (wa * ha > min_area * np.maximum(wb * hb, 1e-9))


def _regions_after(
    regions: np.ndarray | None, scale: float, dx: float, dy: float, w: int, h: int
) -> np.ndarray | None:
    if regions is None:
        return None
    out = _clip(_map(regions, scale, dx, dy), w, h)
    return out[(out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])]


def affine(sample: Sample, scale: float, dx: float, dy: float, out_w: int, out_h: int) -> Sample:
    """Apply ``x' = scale * x + dx`` (same for y) to the image, boxes and regions; output ``out_w x out_h``."""
    m = np.array([[scale, 0, dx], [0, scale, dy]], np.float32)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = cv2.warpAffine(sample.image, m, (out_w, out_h), flags=interp, borderValue=(PAD_VALUE,) * 3)
    mapped = _map(sample.boxes.reshape(-1, 4), scale, dx, dy)
    clipped = _clip(mapped, out_w, out_h)
    keep = box_candidates(mapped, clipped)
    moved = sample.with_(
        image=image, boxes=clipped, regions=_regions_after(sample.regions, scale, dx, dy, out_w, out_h)
    )
    return moved.keep(keep)


def resize_long_side(sample: Sample, size: int) -> Sample:
    """Resize keeping the aspect ratio so the long side is ``size`` (no padding)."""
    h, w = sample.image.shape[:2]
    r = size / max(h, w)
    out = affine(sample, r, 0.0, 0.0, max(1, round(w * r)), max(1, round(h * r)))
    return out.with_(ratio=sample.ratio * r)


def letterbox(sample: Sample, size: int) -> Sample:
    """Resize keeping the aspect ratio so the long side is ``size`` and pad to ``size x size`` (centred)."""
    h, w = sample.image.shape[:2]
    r = size / max(h, w)
    dx, dy = (size - w * r) / 2, (size - h * r) / 2
    out = affine(sample, r, dx, dy, size, size)
    return out.with_(ratio=sample.ratio * r, pad=(dx, dy))


@dataclass(frozen=True)
class Zoom:
    """The zoom range of a random affine view: uniform in ``[lo, hi]``, or log-uniform (every octave of cell size
    drawn as often) when ``log``."""

    lo: float
    hi: float
    log: bool = False

    @classmethod
    def uniform(cls, scale: float) -> Zoom:
        """The paper's (YOLOv5 ``scale``): uniform in ``[1 - scale, 1 + scale]``."""
        return cls(1 - scale, 1 + scale)

    @classmethod
    def for_cells(cls, median_px: float, band: tuple[float, float]) -> Zoom:
        """Derived from the data (``augment.cell_px``): the zoom that takes a cell of the training set's median
        size ``median_px`` (at the input) anywhere in ``band`` px, log-uniformly."""
        return cls(band[0] / median_px, band[1] / median_px, log=True)

    def draw(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(np.exp(rng.uniform(np.log(self.lo), np.log(self.hi))))
        return float(rng.uniform(self.lo, self.hi))


def random_affine(
    sample: Sample, rng: np.random.Generator, zoom: Zoom, translate: float, size: int
) -> Sample:
    """Random zoom drawn from ``zoom`` about the centre and shift of up to ``translate * size``."""
    h, w = sample.image.shape[:2]
    s = zoom.draw(rng)
    tx, ty = rng.uniform(-translate, translate, 2) * size
    dx = size / 2 - s * w / 2 + tx
    dy = size / 2 - s * h / 2 + ty
    return affine(sample, s, float(dx), float(dy), size, size)


def _mirror(xyxy: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Reflect xyxy boxes across the image's ``axis`` (0 = x, 1 = y) of extent ``size``."""
    out = xyxy.copy()
    lo, hi = axis, axis + 2
    out[:, [lo, hi]] = size - xyxy[:, [hi, lo]]
    return out


def _flip(sample: Sample, axis: int) -> Sample:
    size = sample.image.shape[1 - axis]
    image = sample.image[:, ::-1] if axis == 0 else sample.image[::-1]
    regions = None if sample.regions is None else _mirror(sample.regions, size, axis)
    return sample.with_(
        image=np.ascontiguousarray(image), boxes=_mirror(sample.boxes, size, axis), regions=regions
    )


def flip_lr(sample: Sample) -> Sample:
    """Mirror left-right (boxes and labelled regions with the image)."""
    return _flip(sample, 0)


def flip_ud(sample: Sample) -> Sample:
    """Mirror top-bottom (boxes and labelled regions with the image)."""
    return _flip(sample, 1)


def augment_hsv(sample: Sample, rng: np.random.Generator, hgain: float, sgain: float, vgain: float) -> Sample:
    """Random hue/saturation/value gains through lookup tables (geometry untouched)."""
    if not (hgain or sgain or vgain):
        return sample
    r = rng.uniform(-1, 1, 3) * [hgain, sgain, vgain] + 1
    hue, sat, val = cv2.split(cv2.cvtColor(sample.image, cv2.COLOR_RGB2HSV))
    x = np.arange(256, dtype=np.float32)
    lut_h = ((x * r[0]) % 180).astype(np.uint8)
    lut_s = np.clip(x * r[1], 0, 255).astype(np.uint8)
    lut_v = np.clip(x * r[2], 0, 255).astype(np.uint8)
    hsv = cv2.merge((cv2.LUT(hue, lut_h), cv2.LUT(sat, lut_s), cv2.LUT(val, lut_v)))
    return sample.with_(image=cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))


def _tile_regions(tile: Sample, x0: float, y0: float, w: int, h: int) -> np.ndarray:
    """A placed tile's labelled rectangles in canvas pixels (the whole tile when fully labelled)."""
    th, tw = tile.image.shape[:2]
    if tile.regions is None:
        return _clip(np.array([[x0, y0, x0 + tw, y0 + th]], np.float32), w, h)
    return _regions_after(tile.regions, 1.0, x0, y0, w, h)  # type: ignore[return-value]


def mosaic(tiles: list[Sample], rng: np.random.Generator, size: int) -> Sample:
    """Place four samples (each already letterboxed to ``size``) around a random centre on a ``2size`` canvas."""
    canvas = np.full((2 * size, 2 * size, 3), PAD_VALUE, np.uint8)
    xc, yc = (int(v) for v in rng.uniform(0.5 * size, 1.5 * size, 2))
    boxes, labels, attrs, regions = [], [], [], []
    for i, tile in enumerate(tiles[:4]):
        th, tw = tile.image.shape[:2]
        x0 = xc - tw if i in (0, 2) else xc
        y0 = yc - th if i in (0, 1) else yc
        cx1, cy1, cx2, cy2 = max(x0, 0), max(y0, 0), min(x0 + tw, 2 * size), min(y0 + th, 2 * size)
        canvas[cy1:cy2, cx1:cx2] = tile.image[cy1 - y0 : cy2 - y0, cx1 - x0 : cx2 - x0]
        boxes.append(_map(tile.boxes.reshape(-1, 4), 1.0, x0, y0))
        labels.append(tile.labels)
        attrs.append(tile.attributes)
        regions.append(_tile_regions(tile, x0, y0, 2 * size, 2 * size))
    first = tiles[0]
    all_full = all(t.regions is None for t in tiles[:4])
    merged = Sample(
        image=canvas,
        boxes=np.concatenate(boxes, 0),
        labels=np.concatenate(labels, 0),
        attributes=np.concatenate(attrs, 0),
        regions=None if all_full else np.concatenate(regions, 0),
        path=first.path,
        orig_size=first.orig_size,
    )
    clipped = _clip(merged.boxes, 2 * size, 2 * size)
    return merged.with_(boxes=clipped).keep(box_candidates(merged.boxes, clipped))


def _intersect(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """Pairwise intersections of two region sets (``None`` = everything)."""
    if a is None or b is None:
        return b if a is None else a
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    out = np.stack([x1, y1, x2, y2], -1).reshape(-1, 4).astype(np.float32)
    return out[(out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])]


def mixup(a: Sample, b: Sample, rng: np.random.Generator) -> Sample:
    """Blend two same-size samples (beta(32, 32) ratio); labelled where both are labelled."""
    r = float(rng.beta(32.0, 32.0))
    image = (a.image.astype(np.float32) * r + b.image.astype(np.float32) * (1 - r)).astype(np.uint8)
    return a.with_(
        image=image,
        boxes=np.concatenate([a.boxes, b.boxes], 0),
        labels=np.concatenate([a.labels, b.labels], 0),
        attributes=np.concatenate([a.attributes, b.attributes], 0),
        regions=_intersect(a.regions, b.regions),
    )
