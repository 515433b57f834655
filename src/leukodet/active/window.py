"""Window search: the integer-pixel rectangle of a given area fraction that holds the most acquisition score.

A window has the image's aspect ratio and side ``round(side * sqrt(F))`` (so its area is ``F`` of the image up
to one pixel of rounding per side), as :func:`leukodet.records.sparsify.sample_region` draws a labelled region.
Every cell carries a non-negative weight; a window's score is the sum of the weights of the cells whose centre
lies inside it, borders included (the rule of :func:`~leukodet.records.sparsify.restrict_to_region`).

The score of every window position is computed at once: with ``X[i, k] = [x_i <= cx_k <= x_i + w]`` and
``Y[j, k] = [y_j <= cy_k <= y_j + h]`` (cells ``k``, positions ``x_i``, ``y_j``), the score map is
``S = (Y * weights) @ X.T`` -- the count of a summed-area table over cell centres, evaluated exactly at the
centre rule with ``O(positions x cells)`` work, so every integer position (stride 1) is searched on ordinary
fields. Ties (equal up to float rounding) go to the first position in raster order (smallest ``y``, then
smallest ``x``); the window is then slid to the middle of the positions that keep the same scoring cells inside,
so those cells sit away from its edges and the score is unchanged. The runner-up value is the best window score
once the chosen window's cells are taken out (what a second patch of the field could still gain).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..records.schema import Box

__all__ = [
    "MAX_POSITIONS",
    "WindowChoice",
    "check_fraction",
    "window_size",
    "window_positions",
    "score_map",
    "window_value",
    "best_window",
]

MAX_POSITIONS = 4_000_000
"""Most window positions scored per image; a larger image is searched on a coarser grid (see
:func:`window_positions`)."""

_TIE = 1e-9
"""Relative tolerance under which two window scores are equal (float sums in another order)."""


@dataclass(frozen=True)
class WindowChoice:
    """The chosen window of one image.

    Attributes:
        region: absolute-pixel ``(x1, y1, x2, y2)`` with integer corners.
        value: its score (the sum of the weights of the cells whose centre lies inside).
        runner_up: the best window score once the cells counted in ``region`` are taken out: what a second
            patch of the field could still gain (0 when nothing scores outside ``region``).
    """

    region: Box
    value: float
    runner_up: float | None


def check_fraction(fraction: float) -> float:
    """``fraction`` as a float in ``(0, 1]``; a ``ValueError`` naming the value otherwise."""
    value = float(fraction)
    if not 0.0 < value <= 1.0 or math.isnan(value):
        raise ValueError(f"fraction must be an area fraction in (0, 1], got {fraction}")
    return value


def window_size(width: int, height: int, fraction: float) -> tuple[int, int]:
    """Integer ``(w, h)`` of a window of area ``fraction`` with the image's aspect ratio (at least 1 pixel,
    at most the image)."""
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    scale = math.sqrt(check_fraction(fraction))
    w = min(width, max(1, round(width * scale)))
    h = min(height, max(1, round(height * scale)))
    return w, h


def window_positions(extent: int, size: int, stride: int) -> np.ndarray:
    """Left (or top) edges ``0, stride, 2*stride, ...`` of a window of ``size`` in ``extent`` pixels; the last
    position ``extent - size`` is always included so the far edge is reachable."""
    if stride < 1:
        raise ValueError(f"stride must be an integer >= 1, got {stride}")
    last = extent - size
    pos = np.arange(0, last + 1, stride, dtype=np.int64)
    return pos if pos[-1] == last else np.append(pos, last)


def _auto_stride(width: int, height: int, w: int, h: int) -> int:
    """1, or the smallest stride that keeps the positions under :data:`MAX_POSITIONS`."""
    n = (width - w + 1) * (height - h + 1)
    return max(1, math.ceil(math.sqrt(n / MAX_POSITIONS)))


def _inside(starts: np.ndarray, size: int, coords: np.ndarray) -> np.ndarray:
    """``[P, K]`` float: whether coordinate ``k`` lies in ``[start_p, start_p + size]``."""
    return ((starts[:, None] <= coords[None, :]) & (coords[None, :] <= starts[:, None] + size)).astype(
        np.float64
    )


def score_map(
    centres: np.ndarray, weights: np.ndarray, xs: np.ndarray, ys: np.ndarray, w: int, h: int
) -> np.ndarray:
    """``[len(ys), len(xs)]`` window scores: the weight of the cells whose centre lies in each window."""
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if len(centres) != len(weights):
        raise ValueError(f"{len(centres)} cell centres but {len(weights)} weights")
    in_x = _inside(xs, w, centres[:, 0])
    in_y = _inside(ys, h, centres[:, 1])
    return (in_y * weights[None, :]) @ in_x.T


def _inside_region(centres: np.ndarray, region: Box) -> np.ndarray:
    """``[K]`` bool: whether each centre lies in ``region`` (borders included)."""
    x1, y1, x2, y2 = region
    return (x1 <= centres[:, 0]) & (centres[:, 0] <= x2) & (y1 <= centres[:, 1]) & (centres[:, 1] <= y2)


def window_value(centres: np.ndarray, weights: np.ndarray, region: Box) -> float:
    """The score of one rectangle (centre rule, borders included)."""
    inside = _inside_region(np.asarray(centres, dtype=np.float64).reshape(-1, 2), region)
    return float(np.asarray(weights, dtype=np.float64).reshape(-1)[inside].sum())


def _centred(coords: np.ndarray, start: int, size: int, extent: int) -> int:
    """The middle of the window starts that keep every (non-empty) ``coords`` inside (``start`` is one)."""
    lo = int(max(0, np.ceil(coords - size).max()))
    hi = int(min(extent - size, np.floor(coords).min()))
    return (lo + hi) // 2 if lo <= start <= hi else start


def best_window(
    width: int,
    height: int,
    fraction: float,
    centres: np.ndarray,
    weights: np.ndarray,
    stride: int | None = None,
) -> WindowChoice:
    """The window of area ``fraction`` with the largest score (see the module docstring for ties).

    Args:
        width, height: the image size in pixels.
        fraction: the window's area as a fraction of the image, in ``(0, 1]``.
        centres: ``[K, 2]`` cell centres ``(cx, cy)`` in image pixels.
        weights: ``[K]`` non-negative cell weights.
        stride: grid step in pixels (``None``: 1, coarser only above :data:`MAX_POSITIONS` positions).

    Returns:
        The :class:`WindowChoice`; an all-zero score map gives the top-left window with value 0.
    """
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if len(weights) and (weights < 0).any():
        raise ValueError("cell weights must be non-negative")
    w, h = window_size(width, height, fraction)
    step = stride if stride is not None else _auto_stride(width, height, w, h)
    xs, ys = window_positions(width, w, step), window_positions(height, h, step)
    scores = score_map(centres, weights, xs, ys, w, h)
    top = float(scores.max())
    tied = scores >= top - _TIE * max(1.0, abs(top))
    j, i = np.unravel_index(int(np.argmax(tied)), scores.shape)  # first in raster order: smallest y, then x
    x, y = int(xs[i]), int(ys[j])
    c = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    scoring = c[(weights > 0) & _inside_region(c, (x, y, x + w, y + h))]
    if len(scoring):
        x = _centred(scoring[:, 0], x, w, width)
        y = _centred(scoring[:, 1], y, h, height)
    region = (float(x), float(y), float(x + w), float(y + h))
    rest = np.where(_inside_region(c, region), 0.0, weights)
    runner_up = float(score_map(c, rest, xs, ys, w, h).max())
    return WindowChoice(region, window_value(c, weights, region), runner_up)
