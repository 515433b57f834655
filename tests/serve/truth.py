"""A fake detector for the review tests: it "predicts" the exact labels of synthetic fields.

Fast, torch-free and deterministic: every WBC and artefact of a known field comes back with its true class,
its seven LLD attribute calls and a score, so the page and the review have real cells to show and change.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image

from leukodet.infer.config import InferConfig
from leukodet.records.prediction import AttributeCall, Prediction
from leukodet.records.schema import Cell
from leukodet.records.vocab import LLD_ATTRIBUTES, LLD_CLASSES
from leukodet.synth import RenderedField, render_field


def png(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


class TruthDetector:
    """Predicts the labels of the synthetic fields it was made with (matched by pixels), nothing elsewhere."""

    attributes = {k: list(v) for k, v in LLD_ATTRIBUTES.items()}

    def __init__(self, seeds: Sequence[int], size: int = 640, with_none: bool = True) -> None:
        """``with_none=False``: a model without LLD's ``None`` class (its cells are not predicted)."""
        self.fields: list[RenderedField] = [render_field(s, size=size) for s in seeds]
        self.classes = LLD_CLASSES if with_none else LLD_CLASSES[1:]
        self.metadata: dict[str, Any] = {
            "classes": list(self.classes),
            "attributes": self.attributes,
            "imgsz": size,
            "model_config": {"name": "synthetic-truth"},
            "data": {"source": "leukodet synth", "train_images": 0, "train_boxes": 0, "val_images": 0},
        }

    def field_png(self, index: int) -> bytes:
        return png(self.fields[index].image)

    def _known(self, cell: Cell) -> bool:
        return cell.class_id < len(LLD_CLASSES) and LLD_CLASSES[cell.class_id] in self.classes

    def _truth(self, image: np.ndarray, path: str) -> Prediction:
        field = next((f for f in self.fields if np.array_equal(f.image, image)), None)
        cells = [] if field is None else [c for c in field.cells if self._known(c)]
        calls = [
            {
                name: AttributeCall(LLD_ATTRIBUTES[name][v], 0.9)
                for name, v in c.attributes.items()
                if v is not None
            }
            for c in cells
        ]
        return Prediction(
            np.array([c.box for c in cells], np.float64).reshape(-1, 4),
            np.array([0.95 - 0.03 * i for i in range(len(cells))], np.float64),
            np.array([self.classes.index(LLD_CLASSES[c.class_id]) for c in cells], np.int64),
            self.classes,
            path,
            image.shape[1],
            image.shape[0],
            calls if any(calls) else None,
        )

    def predict(
        self, images: Sequence[Any], cfg: InferConfig | None = None, **changes: Any
    ) -> list[Prediction]:
        """As ``Detector.predict``: paths or RGB arrays, thresholded at ``cfg.conf``."""
        cfg = replace(cfg or InferConfig(), **changes)
        out = []
        for i, item in enumerate(images):
            image = item if isinstance(item, np.ndarray) else np.asarray(Image.open(item).convert("RGB"))
            name = f"image{i}" if isinstance(item, np.ndarray) else str(item)
            out.append(self._truth(image, name).filter(cfg.conf))
        return out
