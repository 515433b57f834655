"""Prediction: checkpoint → preprocess (letterbox or tiles) → model → postprocess → :class:`Prediction`.

Boxes come back in source pixels. An image is letterboxed to ``imgsz`` unless it is tiled (``tile=True``, or
``tile=None`` and its long side exceeds ``2 * imgsz``): then it is cut into overlapping ``imgsz`` tiles at its
own pixel scale and the tiles' boxes are merged (see :mod:`leukodet.engine.tiling`). No losses are involved.
``Detector.predict`` never changes torch's global thread count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from PIL import Image

from ..config import MAX_DET, PREDICT_CONF, PREDICT_IOU
from ..data.dataset import load_image
from ..data.sample import Sample, collate
from ..data.stain import StainNormalizer
from ..data.transforms import letterbox
from ..eval.prediction import AttributeCall, Prediction
from ..model.config import ModelConfig
from ..model.detector import Detector as DetectorModel
from ..model.detector import create_model_from_config
from ..model.postprocess import Detections, postprocess
from .attributes import attach_attributes, attribute_schema_of
from .checkpoint import load_checkpoint
from .tiling import crop_tile, merge_tiles, needs_tiling, overlap_pixels, tile_grid

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
        self.attributes: dict[str, list[str]] = attribute_schema_of(self.model, metadata)
        self.stain = StainNormalizer.from_dict(metadata.get("stain_norm"))

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
        conf: float = PREDICT_CONF,
        iou: float = PREDICT_IOU,
        max_det: int = MAX_DET,
        batch: int = 8,
        multi_label: bool = False,
        tile: bool | None = None,
        tile_overlap: float = 0.2,
    ) -> list[Prediction]:
        """One :class:`Prediction` per image (boxes in original-image xyxy pixels).

        Args:
            images: paths, PIL images or ``HxWx3`` uint8 RGB arrays (or one of them).
            imgsz: network size (default: the checkpoint's), rounded up to the model stride; also the tile side.
            conf: score threshold.
            iou: NMS IoU threshold (within an image or tile, and across tiles).
            max_det: most detections per image.
            batch: images (or tiles of one image) per forward pass.
            multi_label: one row per class above ``conf`` instead of the best class only.
            tile: ``True`` tiles every image, ``False`` none, ``None`` those with a long side above
                ``2 * imgsz``.
            tile_overlap: least tile overlap as a fraction of the tile (raised to ``tiling.MIN_OVERLAP``).
        """
        if isinstance(images, (str, Path, Image.Image, np.ndarray)):
            images = [images]
        size = self.input_size(imgsz)
        overlap = overlap_pixels(size, tile_overlap)
        out: list[Prediction] = []
        for start in range(0, len(images), batch):
            samples = [_as_sample(im, start + i) for i, im in enumerate(images[start : start + batch])]
            if self.stain.method != "none":
                samples = [replace(s, image=self.stain(s.image)) for s in samples]
            tiled = [needs_tiling(*s.orig_size, size, tile) for s in samples]
            whole = [letterbox(s, size) for s, t in zip(samples, tiled) if not t]
            flat = iter(self._predict_letterboxed(whole, conf, iou, max_det, multi_label) if whole else [])
            for s, t in zip(samples, tiled):
                out.append(
                    self._predict_tiled(s, size, overlap, conf, iou, max_det, batch, multi_label)
                    if t
                    else next(flat)
                )
        return out

    def _detect(
        self, images: torch.Tensor, conf: float, iou: float, max_det: int, multi_label: bool
    ) -> tuple[list[Detections], list[list[dict[str, AttributeCall]]]]:
        """Model + NMS on a ``[B, 3, S, S]`` float batch in [0, 1] (boxes in network pixels), and each kept
        detection's attribute calls (none for cells of the LLD class ``None``, as the authors' detect.py)."""
        out = self.model(images.to(self.device))
        dets = postprocess(out, conf, iou, max_det, multi_label)
        named = [[i for i, k in enumerate(d.labels.tolist()) if self.class_names[k] != "None"] for d in dets]
        return dets, attach_attributes(self.model, out.features, dets, self.attributes, named)

    def _predict_letterboxed(
        self, samples: list[Sample], conf: float, iou: float, max_det: int, multi_label: bool
    ) -> list[Prediction]:
        b = collate(samples)
        dets, calls = self._detect(b.images, conf, iou, max_det, multi_label)
        preds = to_predictions(dets, b.ratios, b.pads, b.orig_sizes, b.paths, self.class_names)
        return [replace(p, attributes=c) if self.attributes else p for p, c in zip(preds, calls)]

    def _predict_tiled(
        self,
        sample: Sample,
        size: int,
        overlap: int,
        conf: float,
        iou: float,
        max_det: int,
        batch: int,
        multi_label: bool,
    ) -> Prediction:
        """Detect one image tile by tile (``batch`` tiles per pass) and merge the tiles' boxes."""
        w, h = sample.orig_size
        origins = tile_grid(w, h, size, overlap)
        dets: list[Detections] = []
        calls: list[dict[str, AttributeCall]] = []
        for start in range(0, len(origins), batch):
            crops = [crop_tile(sample.image, x, y, size) for x, y in origins[start : start + batch]]
            x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(255.0)
            found, found_calls = self._detect(x.contiguous(), conf, iou, max_det, multi_label)
            dets += found
            calls += [c for per_tile in found_calls for c in per_tile]
        merged = merge_tiles(dets, origins, size, (w, h), iou, max_det)
        pred = to_predictions([merged], [1.0], [(0.0, 0.0)], [(w, h)], [sample.path], self.class_names)[0]
        if not self.attributes:
            return pred
        return replace(pred, attributes=[calls[int(i)] for i in merged.keep_index])

    def input_size(self, imgsz: int | None) -> int:
        """The network input size for a requested ``imgsz`` (``None``: the training size), rounded up to a
        multiple of the model's largest stride."""
        size = imgsz or self.imgsz
        stride = int(self.model.max_stride) if hasattr(self.model, "max_stride") else 32
        return max(stride, (size + stride - 1) // stride * stride)
