"""Image pairs related by a known homography, and how far an estimate's boxes are from the truth.

Used by the tests and by ``benchmarks/transfer_accuracy.py`` to measure :mod:`leukodet.domains.transfer` on
real and synthetic fields warped with transforms whose truth is known.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from ..records.schema import Box
from .homography import centre_to_edge
from .mapping import map_box

__all__ = ["box_errors", "known_homography", "warp"]


def known_homography(
    width: int,
    height: int,
    scale: float = 1.0,
    rotation_deg: float = 0.0,
    shift: tuple[float, float] = (0.0, 0.0),
    perspective: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Pixel-centre homography: scale and rotate about the image centre, mild perspective, then shift."""
    a = math.radians(rotation_deg)
    to_centre = np.array([[1, 0, -width / 2], [0, 1, -height / 2], [0, 0, 1.0]])
    rot = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1.0]])
    persp = np.array([[1, 0, 0], [0, 1, 0], [perspective[0], perspective[1], 1.0]])
    back = np.array([[1, 0, width / 2 + shift[0]], [0, 1, height / 2 + shift[1]], [0, 0, 1.0]])
    return back @ persp @ np.diag([scale, scale, 1.0]) @ rot @ to_centre


def warp(image: np.ndarray, h: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """``image`` seen through the pixel-centre homography ``h`` (uncovered target pixels: its median colour)."""
    fill = tuple(float(v) for v in np.median(image.reshape(-1, 3), axis=0))
    w, hh = size or (image.shape[1], image.shape[0])
    return cv2.warpPerspective(image, h, (w, hh), flags=cv2.INTER_LINEAR, borderValue=fill)


def box_errors(
    boxes: Sequence[Box], true_h: np.ndarray, est_h: np.ndarray, width: int, height: int
) -> list[float]:
    """Largest coordinate error (px) of each box that the true map puts wholly inside the target.

    ``true_h`` is pixel-centre (as built for :func:`warp`); ``est_h`` is in box (pixel-edge) coordinates.
    """
    edge = centre_to_edge(true_h)
    out = []
    for box in boxes:
        truth = map_box(box, edge, width, height)
        if truth.kept_fraction < 1.0:
            continue
        est = map_box(box, est_h, width, height)
        out.append(float(np.abs(np.subtract(truth.unclipped, est.unclipped)).max()))
    return out
