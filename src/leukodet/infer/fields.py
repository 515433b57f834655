"""Fields in, predictions out: each image decoded once and predicted in batches.

``leukodet predict``, film reports and the service all read their fields through :func:`predict_fields`, which
hands each field's pixels on with its :class:`~leukodet.records.prediction.Prediction`, so annotations, cell crops
and thumbnails are cut from the same decoded image the network saw (before stain normalisation) and no layer
above re-opens the file.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Union

import numpy as np
from tqdm import tqdm

from ..records.prediction import FieldPrediction
from .config import InferConfig
from .sources import read_image

__all__ = ["FieldSource", "decode_field", "predict_fields"]

log = logging.getLogger(__name__)

FieldSource = Union[str, Path, tuple[str, np.ndarray]]
"""An image file, an image's URI (:mod:`leukodet.infer.sources`), or ``(name, HxWx3 uint8 RGB pixels)`` already
decoded (an upload)."""


def decode_field(source: FieldSource) -> tuple[str, np.ndarray | None, str]:
    """``(name, pixels, "")``, or ``(name, None, reason)`` for a file that does not decode."""
    if isinstance(source, tuple):
        return str(source[0]), source[1], ""
    path = str(source)
    try:
        return path, read_image(source), ""
    except (OSError, ValueError) as exc:
        return path, None, str(exc).replace(f"{path}: ", "") or type(exc).__name__


def predict_fields(
    det: Any,
    sources: Sequence[FieldSource],
    cfg: InferConfig | None = None,
    *,
    progress: bool = False,
    desc: str = "predict",
) -> Iterator[FieldPrediction]:
    """Decode and predict ``sources`` ``cfg.batch`` at a time, in order; an unreadable field comes back with its
    reason (and a warning) instead of a prediction.

    Args:
        det: a :class:`~leukodet.infer.predictor.Detector` (anything whose ``predict(images, cfg=...)`` takes
            RGB arrays).
        sources: image files or ``(name, pixels)`` pairs.
        cfg: thresholds, size, tiling and batch (default: the detector's ``infer``).
        progress: a progress bar on stderr (``desc``), one step per field.
    """
    cfg = cfg or getattr(det, "infer", None) or InferConfig()
    with tqdm(total=len(sources), desc=desc, unit="field", file=sys.stderr, disable=not progress) as bar:
        for start in range(0, len(sources), cfg.batch):
            decoded = [decode_field(s) for s in sources[start : start + cfg.batch]]
            arrays = [image for _, image, _ in decoded if image is not None]
            preds = iter(det.predict(arrays, cfg=cfg) if arrays else [])
            for name, image, reason in decoded:
                if image is None:
                    log.warning("%s: unreadable image skipped (%s)", name, reason)
                    yield FieldPrediction(name, None, None, reason)
                else:
                    yield FieldPrediction(name, image, replace(next(preds), image=name))
                bar.update(1)
