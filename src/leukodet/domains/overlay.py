"""QA overlay of a transfer: source and target side by side, boxes, regions, footprint and inlier matches.

Left: the source image with its boxes (green) and labelled regions (blue). Right: the target with the mapped
boxes (green), the dropped ones as mapped (red), the mapped regions (blue) and the outline of the source
image as mapped (yellow). Thin cyan lines join a sample of the RANSAC inliers. The title band says whether
the pair was accepted and why not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..records.schema import Box
from .homography import Estimate
from .mapping import map_points

__all__ = ["OverlayContent", "draw_overlay", "image_outline"]

GREEN, RED, BLUE, YELLOW, CYAN = (40, 200, 40), (230, 40, 40), (60, 90, 255), (240, 210, 0), (0, 200, 220)
TITLE_PX = 30
GAP_PX = 10
MAX_MATCH_LINES = 80


@dataclass
class OverlayContent:
    """What to draw. Boxes are in each image's own pixels; ``quad`` is a polygon (N×2) in target pixels."""

    source_boxes: Sequence[Box] = ()
    source_regions: Sequence[Box] = ()
    target_boxes: Sequence[Box] = ()
    dropped_boxes: Sequence[Box] = ()
    target_regions: Sequence[Box] = ()
    quad: np.ndarray | None = None
    title: str = ""
    title_ok: bool = True


def _panel(image: np.ndarray, height: int) -> tuple[np.ndarray, float]:
    s = height / image.shape[0]
    size = (max(1, round(image.shape[1] * s)), height)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR), s


def _boxes(canvas: np.ndarray, boxes: Sequence[Box], s: float, dx: int, colour: tuple[int, int, int]) -> None:
    for x1, y1, x2, y2 in boxes:
        p1 = (round(x1 * s) + dx, round(y1 * s) + TITLE_PX)
        p2 = (round(x2 * s) + dx, round(y2 * s) + TITLE_PX)
        cv2.rectangle(canvas, p1, p2, colour, 2, cv2.LINE_AA)


def _polygon(canvas: np.ndarray, pts: np.ndarray, s: float, dx: int, colour: tuple[int, int, int]) -> None:
    poly = np.round(np.clip(pts * s, -1e5, 1e5) + [dx, TITLE_PX]).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(canvas, [poly], True, colour, 2, cv2.LINE_AA)


def _matches(canvas: np.ndarray, est: Estimate, ss: float, st: float, dx: int) -> None:
    n = len(est.source_points)
    for i in np.linspace(0, n - 1, min(n, MAX_MATCH_LINES)).astype(int) if n else ():
        (xa, ya), (xb, yb) = est.source_points[i], est.target_points[i]
        p1 = (round((xa + 0.5) * ss), round((ya + 0.5) * ss) + TITLE_PX)
        p2 = (round((xb + 0.5) * st) + dx, round((yb + 0.5) * st) + TITLE_PX)
        cv2.line(canvas, p1, p2, CYAN, 1, cv2.LINE_AA)


def draw_overlay(
    source: np.ndarray, target: np.ndarray, content: OverlayContent, est: Estimate | None = None
) -> np.ndarray:
    """The overlay image (RGB uint8): both images scaled to one height (at most 1000 px) side by side."""
    height = min(max(source.shape[0], target.shape[0]), 1000)
    left, ss = _panel(source, height)
    right, st = _panel(target, height)
    dx = left.shape[1] + GAP_PX
    canvas = np.full((height + TITLE_PX, dx + right.shape[1], 3), 255, np.uint8)
    canvas[TITLE_PX:, : left.shape[1]] = left
    canvas[TITLE_PX:, dx:] = right
    _boxes(canvas, content.source_regions, ss, 0, BLUE)
    _boxes(canvas, content.source_boxes, ss, 0, GREEN)
    _boxes(canvas, content.target_regions, st, dx, BLUE)
    _boxes(canvas, content.dropped_boxes, st, dx, RED)
    _boxes(canvas, content.target_boxes, st, dx, GREEN)
    if content.quad is not None:
        _polygon(canvas, content.quad, st, dx, YELLOW)
    if est is not None:
        _matches(canvas, est, ss, st, dx)
    colour = (0, 120, 0) if content.title_ok else (200, 0, 0)
    cv2.putText(canvas, content.title[:160], (6, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.55, colour, 1, cv2.LINE_AA)
    return canvas


def image_outline(h: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """The border of a ``width`` × ``height`` source image mapped by ``h`` (4×2, target pixels), if finite."""
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    return map_points(h, corners)
