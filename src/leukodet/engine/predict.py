"""Prediction: checkpoint → preprocess (letterbox) → model → postprocess → :class:`Prediction` in source pixels.

No losses are involved. ``Detector.predict`` never changes torch's global thread count.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from PIL import Image

from ..data.dataset import load_image
from ..data.sample import Sample, collate
from ..data.transforms import letterbox
from ..eval.prediction import Prediction
from ..model.config import ModelConfig
from ..model.detector import Detector as DetectorModel
from ..model.detector import create_model_from_config
from ..model.postprocess import Detections, postprocess
from .checkpoint import load_checkpoint

__all__ = ["ImageInput", "to_predictions", "Detector"]

ImageInput = Union[str, Path, Image.Image, np.ndarray]


def to_predictions(
    detections: Sequence[Detections],
    ratios: Sequence[float],
    pads: Sequence[tuple[float, float]],
    orig_sizes: Sequence[tuple[int, int]],
    paths: Sequence[str],
    class_names: Sequence[str],
) -> list[Prediction]:
    """Map network-pixel detections back to source pixels (undo letterbox, clip) as :class:`Prediction`."""
    out = []
    for det, r, (dx, dy), (w, h), path in zip(detections, ratios, pads, orig_sizes, paths):
        boxes = det.boxes.detach().float().cpu().numpy().astype(np.float64)
        boxes[:, [0, 2]] = ((boxes[:, [0, 2]] - dx) / r).clip(0, w)
        boxes[:, [1, 3]] = ((boxes[:, [1, 3]] - dy) / r).clip(0, h)
        scores = det.scores.detach().float().cpu().numpy()
        labels = det.labels.detach().cpu().numpy()
        out.append(Prediction(boxes, scores, labels, tuple(class_names), path, int(w), int(h)))
    return out


def _as_sample(image: ImageInput, index: int) -> Sample:
    if isinstance(image, (str, Path)):
        array, name = load_image(str(image)), str(image)
    elif isinstance(image, Image.Image):
        array, name = np.asarray(image.convert("RGB")), f"image{index}"
    elif (
        isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    ):
        array, name = np.ascontiguousarray(image), f"image{index}"
    else:
        raise ValueError(f"input {index}: expected a path, a PIL image or an HxWx3 uint8 array")
    h, w = array.shape[:2]
    empty = np.zeros((0, 4), np.float32)
    return Sample(array, empty, np.zeros(0, np.int64), np.zeros((0, 0), np.int64), None, name, (w, h))


class Detector:
    """A trained model ready for prediction (``Detector.load(path)``)."""

    def __init__(
        self, model: DetectorModel, metadata: dict[str, Any], device: str | torch.device = "cpu"
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.metadata = metadata
        self.class_names: list[str] = list(metadata["classes"])
        self.imgsz: int = int(metadata["imgsz"])

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> Detector:
        """Load a checkpoint (``weights_only=True``); EMA weights are used when present."""
        ckpt = load_checkpoint(path)
        model = create_model_from_config(ModelConfig.from_dict(ckpt["metadata"]["model_config"]))
        model.load_state_dict(ckpt["ema"] if ckpt.get("ema") is not None else ckpt["model"])
        return cls(model, ckpt["metadata"], device)

    @torch.no_grad()
    def predict(
        self,
        images: Sequence[ImageInput] | ImageInput,
        imgsz: int | None = None,
        conf: float = 0.25,
        iou: float = 0.45,
        max_det: int = 300,
        batch: int = 8,
        multi_label: bool = False,
    ) -> list[Prediction]:
        """One :class:`Prediction` per image (boxes in original-image xyxy pixels)."""
        if isinstance(images, (str, Path, Image.Image, np.ndarray)):
            images = [images]
        size = self._size(imgsz)
        out: list[Prediction] = []
        for start in range(0, len(images), batch):
            samples = [
                letterbox(_as_sample(im, start + i), size)
                for i, im in enumerate(images[start : start + batch])
            ]
            b = collate(samples)
            dets = postprocess(self.model(b.images.to(self.device)), conf, iou, max_det, multi_label)
            out += to_predictions(dets, b.ratios, b.pads, b.orig_sizes, b.paths, self.class_names)
        return out

    def _size(self, imgsz: int | None) -> int:
        size = imgsz or self.imgsz
        stride = int(self.model.max_stride) if hasattr(self.model, "max_stride") else 32
        return max(stride, (size + stride - 1) // stride * stride)
