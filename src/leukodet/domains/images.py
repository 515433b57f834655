"""Image files for annotation transfer: decode to RGB, write PNGs atomically."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..records.diagnostics import DataError
from ..records.files import atomic_write_bytes

__all__ = ["read_rgb", "write_png"]


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file as RGB ``uint8[H, W, 3]``; ``DataError`` naming the file if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    data = np.fromfile(str(path), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise DataError(f"{path}: not an image OpenCV can decode")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB image as PNG (atomically)."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    atomic_write_bytes(path, buf.tobytes())
