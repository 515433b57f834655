"""Prediction: checkpoint → preprocess (letterbox or tiles) → model → postprocess → :class:`Prediction`.

One :class:`Detector` and one :class:`~leukodet.infer.config.InferConfig` serve every caller: ``predict`` and
reports (:meth:`Detector.predict` on images), validation during and after training (:meth:`Detector.predict_batches`
on a letterboxed loader, the evaluation protocol) and the ONNX backend (a subclass whose one model call is the
ONNX graph). Boxes come back in source pixels. An image is letterboxed to ``imgsz`` unless it is tiled (``tile=True``, or
``tile=None`` and its long side exceeds ``2 * imgsz``): then it is cut into overlapping ``imgsz`` tiles at its
own pixel scale and the tiles' boxes are merged (see :mod:`leukodet.infer.tiling`). No losses are involved.
``Detector.predict`` never changes torch's global thread count.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..data.dataset import load_image
from ..data.sample import Batch, Sample, collate
from ..data.stain import StainNormalizer
from ..data.transforms import letterbox
from ..eval.attributes import match_cells
from ..model.checkpoint import load_checkpoint
from ..model.config import ModelConfig
from ..model.detector import DetectionModel, create_model_from_config
from ..model.fcos import FcosNet, is_fcos_config
from ..model.postprocess import Detections, postprocess
from ..records.prediction import AttributeCall, Prediction
from ..records.schema import ImageRecord
from .attributes import attach_attributes, attribute_schema_of
from .config import InferConfig
from .crop_attributes import crop_calls
from .tiling import crop_tile, merge_tiles, needs_tiling, overlap_pixels, tile_grid

__all__ = ["ImageInput", "to_predictions", "matched_detections", "Detector"]

ImageInput = Union[str, Path, Image.Image, np.ndarray]
Calls = list[list[dict[str, AttributeCall]]]
Select = Callable[[list[Detections]], Sequence[Sequence[int] | None]]
"""Which detections of each image get attribute calls (``None``: every named one)."""


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


def matched_detections(record: ImageRecord, pred: Prediction) -> list[int]:
    """The detections the attribute metrics will read: each ground-truth cell's match (:func:`match_cells`)."""
    return sorted({best for best, _ in match_cells(record, pred) if best >= 0})


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
    """A trained model ready for prediction (``Detector.load(path)``), with its default :class:`InferConfig`."""

    def __init__(
        self,
        model: DetectionModel | FcosNet,
        metadata: dict[str, Any],
        device: str | torch.device = "cpu",
        infer: InferConfig | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.metadata = metadata
        self.class_names: list[str] = list(metadata["classes"])
        self.imgsz: int = int(metadata["imgsz"])
        self.attributes: dict[str, list[str]] = attribute_schema_of(self.model, metadata)
        self.stain = StainNormalizer.from_dict(metadata.get("stain_norm"))
        self.infer = infer or InferConfig()
        self.crops: Any = None  # a CropClassifier once use_crops() is called

    def use_crops(self, classifier: Any) -> Detector:
        """Predict attributes with ``classifier`` (the crop path, :mod:`leukodet.infer.crop_attributes`) instead
        of the AttriHead; its attribute vocabulary becomes the detector's. Returns ``self``."""
        if not classifier.config.attributes:
            raise ValueError(
                "this crop classifier predicts no attributes (it was trained on data without any)"
            )
        self.crops = classifier.to(self.device).eval()
        self.attributes = {k: list(v) for k, v in classifier.config.attributes.items()}
        return self

    @classmethod
    def load(
        cls, path: str | Path, device: str | torch.device = "cpu", infer: InferConfig | None = None
    ) -> Detector:
        """Load a checkpoint (``weights_only=True``); EMA weights are used when present."""
        ckpt = load_checkpoint(path)
        config = ckpt["metadata"]["model_config"]
        if is_fcos_config(config):  # FCOS (docs/detectors.md)
            model: DetectionModel | FcosNet = FcosNet.from_config(config)
        else:
            model = create_model_from_config(ModelConfig.from_dict(config))
        model.load_state_dict(ckpt["ema"] if ckpt.get("ema") is not None else ckpt["model"])
        return cls(model, ckpt["metadata"], device, infer)

    @classmethod
    def of_network(
        cls,
        model: DetectionModel,
        class_names: Sequence[str],
        imgsz: int,
        attributes: Mapping[str, Sequence[str]] | None = None,
        device: str | torch.device = "cpu",
    ) -> Detector:
        """A detector of a network in memory (a training run's EMA weights), without a checkpoint."""
        schema = {k: list(v) for k, v in (attributes or {}).items()}
        meta = {
            "classes": list(class_names),
            "imgsz": imgsz,
            "attributes": schema,
            "attribute_order": list(schema),
        }
        return cls(model, meta, device)

    @torch.no_grad()
    def predict(
        self, images: Sequence[ImageInput] | ImageInput, cfg: InferConfig | None = None, **changes: Any
    ) -> list[Prediction]:
        """One :class:`Prediction` per image (boxes in original-image xyxy pixels).

        Args:
            images: paths, PIL images or ``HxWx3`` uint8 RGB arrays (or one of them).
            cfg: thresholds, size, tiling and batching (default: this detector's ``infer``).
            changes: fields of :class:`InferConfig` to change for this call (``conf=0.5``, ``tile=True``, ...).
        """
        cfg = replace(cfg or self.infer, **changes)
        if isinstance(images, (str, Path, Image.Image, np.ndarray)):
            images = [images]
        size = self.input_size(cfg.imgsz)
        overlap = overlap_pixels(size, cfg.tile_overlap)
        out: list[Prediction] = []
        for start in range(0, len(images), cfg.batch):
            samples = [_as_sample(im, start + i) for i, im in enumerate(images[start : start + cfg.batch])]
            if self.stain.method != "none":
                samples = [replace(s, image=self.stain(s.image)) for s in samples]
            tiled = [needs_tiling(*s.orig_size, size, cfg.tile) for s in samples]
            whole = [letterbox(s, size) for s, t in zip(samples, tiled) if not t]
            flat = iter(self._predict_letterboxed(collate(whole), cfg) if whole else [])
            out += [
                self._predict_tiled(s, size, overlap, cfg) if t else next(flat)
                for s, t in zip(samples, tiled)
            ]
        return out

    @torch.no_grad()
    def predict_batches(
        self,
        loader: DataLoader[Any],
        cfg: InferConfig | None = None,
        records: Sequence[ImageRecord] | None = None,
        attributes: bool = True,
        progress: bool = False,
    ) -> list[Prediction]:
        """Predictions for every batch of ``loader`` (letterboxed to :meth:`input_size` and stain-normalised
        by a :class:`~leukodet.data.dataset.DetectionDataset`), by default at the evaluation protocol.

        With ``records`` (the loader's ground truth, same order) only the detection each ground-truth cell is
        matched to (highest IoU, any class: the attribute metrics' matching) is run through the AttriHead;
        ``attributes=False`` runs it on none.
        """
        cfg = cfg or InferConfig.protocol()
        preds: list[Prediction] = []
        for batch in tqdm(loader, desc="val", file=sys.stderr, disable=not progress, leave=False):
            if not attributes:
                preds += self._predict_letterboxed(batch, cfg, attach=False)
                continue
            mine = None if records is None else records[len(preds) : len(preds) + len(batch.paths)]
            preds += self._predict_letterboxed(batch, cfg, _matches(batch, mine, self.class_names))
        return preds

    def _detect(
        self, images: torch.Tensor, cfg: InferConfig, select: Select | None = None
    ) -> tuple[list[Detections], Calls]:
        """Model + NMS on a ``[B, 3, S, S]`` float batch in [0, 1] (boxes in network pixels), and the attribute
        calls of the detections ``select`` picks (default: every one not of the LLD class ``None``, as the
        authors' detect.py)."""
        if isinstance(self.model, FcosNet):  # its own decoding; no AttriHead (crop attributes only)
            out = None
            dets = self.model.detect(images.to(self.device), cfg.conf, cfg.iou, cfg.max_det, cfg.multi_label)
        else:
            out = self.model(images.to(self.device))
            dets = postprocess(out, cfg.conf, cfg.iou, cfg.max_det, cfg.multi_label)
        if not self.attributes:
            return dets, [[{} for _ in range(len(d.scores))] for d in dets]
        only = select(dets) if select else self._named(dets)
        if self.crops is not None:
            return dets, crop_calls(self.crops, images, dets, only, int(images.shape[-1]))
        mirrored = None
        wanted = any(len(d.boxes) if o is None else len(o) for d, o in zip(dets, only))
        if self.model.config.attribute_flip and wanted:  # the head's mirror view (attrihead.flip_tta)
            mirrored = (self.model(images.flip(3).to(self.device)).features, int(images.shape[-1]))
        return dets, attach_attributes(
            self.model, out.features, dets, self.attributes, only, mirrored=mirrored
        )

    def _named(self, dets: Sequence[Detections]) -> list[Sequence[int] | None]:
        """Per image, the detections whose class is not the LLD class ``None`` (no attributes for those)."""
        return [[i for i, k in enumerate(d.labels.tolist()) if self.class_names[k] != "None"] for d in dets]

    def _predict_letterboxed(
        self, b: Batch, cfg: InferConfig, select: Select | None = None, attach: bool = True
    ) -> list[Prediction]:
        dets, calls = self._detect(b.images, cfg, select if attach else _none)
        preds = to_predictions(dets, b.ratios, b.pads, b.orig_sizes, b.paths, self.class_names)
        return [replace(p, attributes=c) if self.attributes and attach else p for p, c in zip(preds, calls)]

    def _predict_tiled(self, sample: Sample, size: int, overlap: int, cfg: InferConfig) -> Prediction:
        """Detect one image tile by tile (``cfg.batch`` tiles per pass) and merge the tiles' boxes."""
        w, h = sample.orig_size
        origins = tile_grid(w, h, size, overlap)
        dets: list[Detections] = []
        calls: list[dict[str, AttributeCall]] = []
        for start in range(0, len(origins), cfg.batch):
            crops = [crop_tile(sample.image, x, y, size) for x, y in origins[start : start + cfg.batch]]
            x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(255.0)
            found, found_calls = self._detect(x.contiguous(), cfg)
            dets += found
            calls += [c for per_tile in found_calls for c in per_tile]
        merged = merge_tiles(dets, origins, size, (w, h), cfg.iou, cfg.max_det)
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


def _none(dets: list[Detections]) -> list[Sequence[int] | None]:
    """Select no detection (no AttriHead pass)."""
    return [[] for _ in dets]


def _matches(batch: Batch, records: Sequence[ImageRecord] | None, names: Sequence[str]) -> Select | None:
    """The selection of each ground-truth cell's matched detection in ``batch`` (``None`` without records)."""
    if records is None:
        return None

    def select(dets: list[Detections]) -> list[Sequence[int] | None]:
        found = to_predictions(dets, batch.ratios, batch.pads, batch.orig_sizes, batch.paths, names)
        return [matched_detections(r, p) for r, p in zip(records, found)]

    return select
