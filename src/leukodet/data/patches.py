"""The ``crop`` baseline's training data: only the labelled patches, each at the scale of its whole field.

Every labelled region of a training image becomes one ``imgsz × imgsz`` canvas: the patch, scaled by the ratio
that letterboxing the whole image to ``imgsz`` would apply, pasted at the top-left corner of a grey (114)
canvas, with the boxes whose centre lies in the patch (clipped to it). Nothing outside the patch is seen, and
cells keep the pixel size they have when whole fields are letterboxed for validation and prediction, so the
model trained on patches predicts whole fields at its training scale (a fully convolutional detector; tiling
the field at that scale would show it the same pixels). The grey margin is true background, so the canvas is
fully labelled. Fully labelled training images are kept as they are.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..records.files import atomic_write_bytes
from ..records.schema import Cell, ImageRecord
from .dataset import load_image

__all__ = ["patch_records"]


def _patch_cells(cells: tuple[Cell, ...], region: tuple[float, ...], scale: float) -> tuple[Cell, ...]:
    x0, y0, x1, y1 = region
    out = []
    for c in cells:
        cx, cy = (c.box[0] + c.box[2]) / 2, (c.box[1] + c.box[3]) / 2
        if not (x0 <= cx < x1 and y0 <= cy < y1):
            continue
        bx0, by0 = max(c.box[0], x0) - x0, max(c.box[1], y0) - y0
        bx1, by1 = min(c.box[2], x1) - x0, min(c.box[3], y1) - y0
        out.append(Cell((bx0 * scale, by0 * scale, bx1 * scale, by1 * scale), c.class_id, c.attributes))
    return tuple(out)


def patch_records(records: list[ImageRecord], dest: Path, imgsz: int) -> list[ImageRecord]:
    """Write one canvas per labelled region under ``dest`` and return the records of the new training set."""
    out: list[ImageRecord] = []
    for rec in records:
        if rec.labeled_regions is None:
            out.append(rec)
            continue
        if not rec.labeled_regions:
            continue  # nothing of this image is labelled: the crop baseline never sees it
        image = load_image(str(rec.path))
        h, w = image.shape[:2]
        scale = imgsz / max(w, h)
        for k, region in enumerate(rec.labeled_regions):
            x0, y0, x1, y1 = (int(round(v)) for v in region)
            patch = image[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)]
            pw, ph = max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale))
            canvas = np.full((imgsz, imgsz, 3), 114, np.uint8)
            canvas[: min(ph, imgsz), : min(pw, imgsz)] = cv2.resize(patch, (pw, ph))[:imgsz, :imgsz]
            ok, png = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
            if not ok:
                raise OSError(f"{rec.path}: could not encode patch {k}")
            path = dest / f"{rec.path.stem}_patch{k}.png"
            atomic_write_bytes(path, np.asarray(png).tobytes())
            cells = _patch_cells(rec.cells, (x0, y0, x1, y1), scale)
            out.append(rec.with_(path=path, width=imgsz, height=imgsz, cells=cells, labeled_regions=None))
    return out
