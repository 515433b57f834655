"""What is scored on one image: valid ground truth and mapped detections, both restricted to labelled regions.

Every evaluator (COCO, YOLOv5 101-point, operating point) reads these sets, so they all see the same
ground truth and the same detections (spec §6; region restriction per Rehman et al. 2025 §3).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from leukodet.eval.class_map import ClassMap
from leukodet.eval.regions import in_regions
from leukodet.records.boxes import as_boxes
from leukodet.records.prediction import Prediction
from leukodet.records.schema import ImageRecord

__all__ = ["ScoredImage", "PrepareStats", "prepare_images"]


@dataclass(frozen=True, eq=False)
class ScoredImage:
    """Scored sets of one image; class ids are dataset indices.

    Attributes:
        width, height: image size in pixels.
        gt_boxes: ``[G, 4]`` xyxy ground truth.  gt_classes: ``[G]`` int64.
        det_boxes: ``[D, 4]`` xyxy detections.  det_scores: ``[D]``.  det_classes: ``[D]`` int64.
        labeled: ``False`` when the image has no labelled region at all (``labeled_regions == ()``).
    """

    width: int
    height: int
    gt_boxes: np.ndarray
    gt_classes: np.ndarray
    det_boxes: np.ndarray
    det_scores: np.ndarray
    det_classes: np.ndarray
    labeled: bool = True


@dataclass
class PrepareStats:
    """Counts gathered while preparing the scored sets.

    Attributes:
        invalid_gt_skipped: ground-truth boxes skipped (non-finite, zero size or unknown class).
        dropped_by_class: detections of model classes the dataset lacks, by model class name.
    """

    invalid_gt_skipped: int = 0
    dropped_by_class: Counter[str] = field(default_factory=Counter)


def _valid_gt(record: ImageRecord, num_classes: int) -> tuple[np.ndarray, np.ndarray, int]:
    boxes = as_boxes([c.box for c in record.cells])
    classes = np.array([c.class_id for c in record.cells], dtype=np.int64)
    ok = np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    ok &= (classes >= 0) & (classes < num_classes)
    return boxes[ok], classes[ok], int((~ok).sum())


def _check_pair(record: ImageRecord, pred: Prediction) -> None:
    if not pred.image:
        return
    path = Path(record.path)
    if pred.image not in (str(path), path.name) and Path(pred.image).name != path.name:
        raise ValueError(f"prediction for {pred.image!r} is paired with record {str(path)!r}")


def _one_image(
    record: ImageRecord, pred: Prediction, cmap: ClassMap, num_classes: int, stats: PrepareStats
) -> ScoredImage:
    gt_boxes, gt_classes, n_bad = _valid_gt(record, num_classes)
    stats.invalid_gt_skipped += n_bad
    det_classes = cmap.apply(pred.class_ids)
    for cid in pred.class_ids[det_classes < 0]:
        stats.dropped_by_class[pred.class_names[int(cid)]] += 1
    mapped = det_classes >= 0
    det_boxes, det_scores, det_classes = pred.boxes[mapped], pred.scores[mapped], det_classes[mapped]
    regions = record.labeled_regions
    keep_gt = in_regions(gt_boxes, regions)
    keep_det = in_regions(det_boxes, regions)
    return ScoredImage(
        width=int(record.width),
        height=int(record.height),
        gt_boxes=gt_boxes[keep_gt],
        gt_classes=gt_classes[keep_gt],
        det_boxes=np.array(det_boxes[keep_det]),
        det_scores=np.array(det_scores[keep_det]),
        det_classes=det_classes[keep_det],
        labeled=regions is None or len(regions) > 0,
    )


def prepare_images(
    records: Sequence[ImageRecord],
    num_classes: int,
    predictions: Sequence[Prediction],
    cmap: ClassMap,
) -> tuple[list[ScoredImage], PrepareStats]:
    """Pair records with predictions (by order) and build the scored sets.

    Args:
        records: ground-truth images.
        num_classes: number of dataset classes (``Cell.class_id`` outside it is invalid).
        predictions: one per record, same order.
        cmap: model → dataset class map.

    Returns:
        The scored images and the preparation counts.

    Raises:
        ValueError: if the lengths differ or a prediction names another image than its record.
    """
    if len(records) != len(predictions):
        raise ValueError(f"{len(records)} records but {len(predictions)} predictions (paired by order)")
    stats = PrepareStats()
    images = []
    for record, pred in zip(records, predictions):
        _check_pair(record, pred)
        images.append(_one_image(record, pred, cmap, num_classes, stats))
    return images, stats
