"""Annotated images: boxes with class and score drawn on the source image (OpenCV's built-in Hershey font)."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from ..records.prediction import Prediction

__all__ = ["class_colour", "draw_prediction"]


def class_colour(index: int) -> tuple[int, int, int]:
    """A stable, well-separated RGB colour per class index (golden-ratio hue steps)."""
    h = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_prediction(image: np.ndarray, pred: Prediction) -> np.ndarray:
    """Return a copy of the RGB ``image`` with every box of ``pred`` and its ``class score`` label."""
    out = np.ascontiguousarray(image.copy())
    scale = max(out.shape[:2]) / 1000.0
    thick = max(1, round(2 * scale))
    for box, score, cid in zip(pred.boxes, pred.scores, pred.class_ids):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        colour = class_colour(int(cid))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick)
        label = f"{pred.class_names[int(cid)]} {score:.2f}"
        font_scale = max(0.35, 0.5 * scale)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        ty = max(y1, th + base)
        cv2.rectangle(out, (x1, ty - th - base), (x1 + tw, ty), colour, -1)
        cv2.putText(
            out, label, (x1, ty - base), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 1, cv2.LINE_AA
        )
    return out
