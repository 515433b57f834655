"""Records → tensors: the torch dataset over :class:`~leukodet.records.schema.ImageRecord`.

Invalid boxes (zero size, outside the image, unknown class) are skipped here, counted and warned once;
readers keep them so statistics stay honest. Decoded images can be cached in RAM (resized to the network
size). Training samples go through mosaic/mixup, random affine, flips and HSV; evaluation samples are only
letterboxed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import Dataset

from ..config import AugmentConfig
from ..records.schema import AttributeSchema, ImageRecord
from ..records.validate import box_problem, clip_box
from .optics import augment_optics
from .sample import Sample
from .transforms import (
    Zoom,
    augment_hsv,
    flip_lr,
    flip_ud,
    letterbox,
    mixup,
    mosaic,
    random_affine,
    resize_long_side,
)

__all__ = ["DetectionDataset", "PlainView", "load_image"]

log = logging.getLogger("leukodet.data")


def load_image(path: str, max_side: int | None = None) -> np.ndarray:
    """Decode an image as RGB ``uint8[H, W, 3]``; optionally downscale so the long side is ``max_side``."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(
            f"{path}: {'cannot decode image' if Path(path).is_file() else 'image file does not exist'}"
        )
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if max_side is not None:
        h, w = image.shape[:2]
        r = max_side / max(h, w)
        if r < 1:
            image = cv2.resize(image, (round(w * r), round(h * r)), interpolation=cv2.INTER_AREA)
    return image


class DetectionDataset(Dataset[Sample]):
    """Samples of one split at network size ``imgsz``.

    Args:
        records: image records of the split.
        num_classes: number of dataset classes (boxes with other ids are skipped).
        schema: attribute schema (column order of ``Sample.attributes``).
        imgsz: network input side in pixels.
        augment: augmentation settings, or ``None`` for evaluation (letterbox only).
        cache: keep decoded, resized images in RAM.
        seed: base seed; sample ``i`` of epoch ``e`` uses ``(seed, e, i)``.
        stain: colour normalisation applied to every decoded image (e.g. a fitted
            :class:`~leukodet.data.stain.StainNormalizer`).
        cell_median_px: the training set's median white cell at the input (longest side, px), which
            ``augment.cell_px`` needs to derive the zoom from.
    """

    def __init__(
        self,
        records: Sequence[ImageRecord],
        num_classes: int,
        schema: AttributeSchema,
        imgsz: int,
        augment: AugmentConfig | None = None,
        cache: bool = False,
        seed: int = 0,
        stain: Callable[[np.ndarray], np.ndarray] | None = None,
        cell_median_px: float | None = None,
    ) -> None:
        self.records = list(records)
        self.stain = stain
        self.num_classes = num_classes
        self.schema = schema
        self.imgsz = imgsz
        self.augment = augment
        self.use_mosaic = augment is not None and augment.mosaic > 0
        self.zooms = _zooms(augment or AugmentConfig.none(), cell_median_px)
        self.seed = seed
        self.epoch = 0
        self.skipped: Counter[str] = Counter()
        self._targets = [self._valid_targets(r) for r in self.records]
        self._cache: dict[int, np.ndarray] | None = {} if cache else None
        if self.skipped:
            log.warning("skipped invalid boxes: %s", dict(self.skipped))

    def _valid_targets(self, rec: ImageRecord) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        boxes, labels, attrs = [], [], []
        for cell in rec.cells:
            box = clip_box(cell.box, rec.width, rec.height)
            problem = box_problem(box, rec.width, rec.height)
            if problem is not None or not 0 <= cell.class_id < self.num_classes:
                self.skipped[problem[0] if problem else "unknown_class"] += 1
                continue
            boxes.append(box)
            labels.append(cell.class_id)
            attrs.append(
                [-1 if cell.attributes.get(a.name) is None else cell.attributes[a.name] for a in self.schema]
            )
        return (
            np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(labels, np.int64),
            np.asarray(attrs, np.int64).reshape(len(labels), len(self.schema)),
        )

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int, mosaic_on: bool = True) -> None:
        """Select the epoch's RNG stream; ``mosaic_on=False`` closes mosaic/mixup for the final epochs."""
        self.epoch = epoch
        self.use_mosaic = self.augment is not None and self.augment.mosaic > 0 and mosaic_on

    def _image(self, index: int) -> tuple[np.ndarray, float]:
        """Decoded image (downscaled to at most ``imgsz``) and its scale relative to the source."""
        if self._cache is not None and index in self._cache:
            image = self._cache[index]
        else:
            image = load_image(str(self.records[index].path), self.imgsz)
            image = self.stain(image) if self.stain is not None else image
            if self._cache is not None:
                self._cache[index] = image
        return image, image.shape[1] / self.records[index].width

    def raw(self, index: int) -> Sample:
        """The sample at its (cached) decode size, boxes and regions scaled to match, before letterboxing."""
        rec = self.records[index]
        image, r = self._image(index)
        boxes, labels, attrs = self._targets[index]
        regions = (
            None
            if rec.labeled_regions is None
            else np.asarray(rec.labeled_regions, np.float32).reshape(-1, 4) * r
        )
        return Sample(image, boxes * r, labels, attrs, regions, str(rec.path), (rec.width, rec.height), r)

    def letterboxed(self, index: int) -> Sample:
        return letterbox(self.raw(index), self.imgsz)

    def __getitem__(self, index: int) -> Sample:
        if self.augment is None:
            return self.letterboxed(index)
        rng = np.random.default_rng((self.seed, self.epoch, index))
        aug = self.augment
        if self.use_mosaic and rng.random() < aug.mosaic:
            sample = self._mosaic(index, rng)
            if rng.random() < aug.mixup:
                sample = mixup(sample, self._mosaic(int(rng.integers(len(self))), rng), rng)
        else:
            sample = random_affine(self.letterboxed(index), rng, self.zooms[1], aug.translate, self.imgsz)
        if rng.random() < aug.fliplr:
            sample = flip_lr(sample)
        if rng.random() < aug.flipud:
            sample = flip_ud(sample)
        sample = augment_hsv(sample, rng, aug.hsv_h, aug.hsv_s, aug.hsv_v)
        return augment_optics(sample, rng, aug.hed, aug.blur, aug.blur_sigma, aug.jpeg, aug.jpeg_quality)

    def _mosaic(self, index: int, rng: np.random.Generator) -> Sample:
        others = rng.integers(0, len(self), 3)
        tiles = [resize_long_side(self.raw(int(i)), self.imgsz) for i in (index, *others)]
        assert self.augment is not None
        sample = random_affine(
            mosaic(tiles, rng, self.imgsz), rng, self.zooms[0], self.augment.translate, self.imgsz
        )
        return sample.with_(ratio=1.0, pad=(0.0, 0.0))


def _zooms(augment: AugmentConfig, cell_median_px: float | None) -> tuple[Zoom, Zoom]:
    """The zoom of a mosaic view and of a single-image view: the paper's (half the range for a single image), or
    both from ``augment.cell_px`` and the training set's median white cell."""
    if augment.cell_px is None:
        return Zoom.uniform(augment.scale), Zoom.uniform(augment.scale * 0.5)
    if not cell_median_px:
        raise ValueError(
            "augment.cell_px needs the training set's median white-cell size (no boxes to measure)"
        )
    zoom = Zoom.for_cells(cell_median_px, augment.cell_px)
    return zoom, zoom


class PlainView(Dataset[Sample]):
    """A dataset's samples as validation sees them: letterboxed, without augmentation (same indices)."""

    def __init__(self, dataset: DetectionDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Sample:
        return self.dataset.letterboxed(index)
