"""Detection evaluation of a model's predictions against a dataset (spec §6 "Evaluation protocol").

Top-level ``map50`` / ``map50_95`` / ``per_class`` are COCO figures (faster-coco-eval, pycocotools as
fallback); the paper's YOLOv5-protocol 101-point figures are under ``"yolov5"``; ``"operating_point"`` gives
precision / recall / F1 / count error at one confidence. All are fractions in [0, 1], means taken over dataset
classes with at least one scored ground-truth box. Model classes map to dataset classes by exact name.

Predictions are expected to be post-processed as in the paper's validation: class-aware multi-label NMS at
conf 0.001, IoU 0.6, at most 300 detections per image, boxes in original-image pixels. The caller does this;
the evaluator scores what it is given.

With a hierarchical vocabulary (``WBC`` beside the WBC types, :func:`leukodet.records.vocab.class_parents`) a
cell labelled with a type is also a ground-truth cell of ``WBC`` (:func:`with_parent_cells`), so ``WBC``'s AP
says how well the model finds white cells whatever their type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from leukodet.eval.attributes import evaluate_attributes
from leukodet.eval.class_map import ClassMap, map_classes
from leukodet.eval.coco import ClassAP, coco_ap, coco_evaluator_name
from leukodet.eval.operating_point import operating_point
from leukodet.eval.scored_image import prepare_images
from leukodet.eval.yolo_ap import YoloResult, yolo_ap
from leukodet.records.prediction import Prediction
from leukodet.records.schema import AttributeSchema, ImageRecord
from leukodet.records.vocab import class_parents

from ..config import PREDICT_CONF

__all__ = ["evaluate", "with_parent_cells", "YOLOV5_EVALUATOR"]

YOLOV5_EVALUATOR = "leukodet 101-point (YOLOv5 protocol)"


def _model_vocabulary(predictions: Sequence[Prediction]) -> tuple[str, ...]:
    vocabularies = {p.class_names for p in predictions}
    if len(vocabularies) != 1:
        raise ValueError(f"predictions must share one model vocabulary, got {len(vocabularies)}")
    return vocabularies.pop()


def _mean(values: np.ndarray, n_gt: np.ndarray) -> float:
    return float(values[n_gt > 0].mean()) if (n_gt > 0).any() else 0.0


def _per_class(ap: ClassAP, names: Sequence[str]) -> dict[str, dict[str, float | int]]:
    return {
        names[k]: {"ap50": float(ap.ap50[k]), "ap50_95": float(ap.ap50_95[k]), "n_gt": int(ap.n_gt[k])}
        for k in np.flatnonzero(ap.n_gt)
    }


def _summary(ap: ClassAP, names: Sequence[str]) -> dict[str, Any]:
    return {
        "map50": _mean(ap.ap50, ap.n_gt),
        "map50_95": _mean(ap.ap50_95, ap.n_gt),
        "per_class": _per_class(ap, names),
    }


def with_parent_cells(records: Sequence[ImageRecord], names: Sequence[str]) -> list[ImageRecord]:
    """The records with each cell of a child class repeated as a cell of its parent (unchanged if flat)."""
    parents = class_parents(list(names))
    if not parents:
        return list(records)
    out = []
    for r in records:
        extra = [
            replace(c, class_id=parents[c.class_id])
            for c in r.cells
            if 0 <= c.class_id < len(parents) and parents[c.class_id] >= 0
        ]
        out.append(r.with_(cells=(*r.cells, *extra)) if extra else r)
    return out


def _bookkeeping(records: Sequence[ImageRecord], cmap: ClassMap, stats: Any) -> dict[str, Any]:
    """Counts that say what was scored: missing classes, dropped detections, images, regions, bad boxes."""
    return {
        "classes_missing": list(cmap.classes_missing),
        "dropped_detections": int(sum(stats.dropped_by_class.values())),
        "dropped_by_class": dict(sorted(stats.dropped_by_class.items())),
        "images": len(records),
        "region_restricted_images": sum(r.labeled_regions is not None for r in records),
        "invalid_gt_skipped": stats.invalid_gt_skipped,
    }


def _yolov5_block(yolo: YoloResult, names: tuple[str, ...], pr_curves: bool) -> dict[str, Any]:
    """The paper's YOLOv5-protocol figures: mAPs, mean precision and recall, and the PR curves if asked."""
    has_gt = yolo.ap.n_gt > 0
    block = {
        **_summary(yolo.ap, names),
        "precision": float(yolo.precision[has_gt].mean()) if has_gt.any() else 0.0,
        "recall": float(yolo.recall[has_gt].mean()) if has_gt.any() else 0.0,
    }
    if pr_curves:
        block["pr_curve"] = {
            names[k]: {"recall": r.round(4).tolist(), "precision": p.round(4).tolist()}
            for k, (r, p) in yolo.pr_curves.items()
        }
    return block


def evaluate(
    records: Sequence[ImageRecord],
    dataset_classes: Sequence[str],
    predictions: Sequence[Prediction],
    *,
    conf_op: float = PREDICT_CONF,
    iou_op: float = 0.5,
    pr_curves: bool = False,
    attribute_schema: AttributeSchema | None = None,
) -> dict[str, Any]:
    """Score predictions against ground truth; returns a JSON-serialisable dict.

    Args:
        records: ground-truth images; ``labeled_regions`` restricts scoring to centres inside the regions.
        dataset_classes: the dataset's class names (``Cell.class_id`` order).
        predictions: one per record, same order, already NMS'd (conf 0.001, IoU 0.6, max 300).
        conf_op: confidence of the operating point.
        iou_op: IoU of an operating-point match.
        pr_curves: also return per-class precision/recall curves (IoU 0.50) under ``yolov5.pr_curve``.
        attribute_schema: the dataset's attributes; when given (and non-empty) the attribute blocks of
            :func:`leukodet.eval.attributes.evaluate_attributes` are added.

    Returns:
        ``{"map50", "map50_95", "per_class": {name: {"ap50", "ap50_95", "n_gt"}}, "yolov5": {"map50",
        "map50_95", "per_class", "precision", "recall"}, "evaluator": {"coco", "yolov5"}, "classes_missing",
        "dropped_detections", "dropped_by_class", "images", "region_restricted_images", "invalid_gt_skipped",
        "operating_point"}`` (with ``"false_positives"`` by kind: :mod:`leukodet.eval.errors`). ``per_class``
        lists classes with scored ground truth; classes the model lacks are in ``classes_missing`` and score 0
        in every mean.

    Raises:
        ValueError: no images, lengths differ, a prediction names another image, the predictions use several
            vocabularies, or model and dataset share no class name.
    """
    if not records:
        raise ValueError("no images to evaluate")
    if len(records) != len(predictions):
        raise ValueError(f"{len(records)} records but {len(predictions)} predictions (paired by order)")
    names = tuple(dataset_classes)
    cmap: ClassMap = map_classes(_model_vocabulary(predictions), names)
    images, stats = prepare_images(with_parent_cells(records, names), len(names), predictions, cmap)
    coco = coco_ap(images, len(names))
    yolo = yolo_ap(images, len(names))
    out: dict[str, Any] = _summary(coco, names)
    out["yolov5"] = _yolov5_block(yolo, names, pr_curves)
    out["evaluator"] = {"coco": coco_evaluator_name(), "yolov5": YOLOV5_EVALUATOR}
    out.update(_bookkeeping(records, cmap, stats))
    out["operating_point"] = operating_point(images, names, conf=conf_op, iou=iou_op)
    if attribute_schema is not None and len(attribute_schema):
        out.update(evaluate_attributes(records, attribute_schema, predictions))
    return out
