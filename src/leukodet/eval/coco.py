"""COCO mAP@50 and mAP@50-95 per class via faster-coco-eval (pycocotools as fallback) (spec §6).

The scored sets are turned into in-memory COCO ground-truth/result dicts (category id = dataset class
index + 1, every dataset class listed) and evaluated with the standard 101-point COCO protocol, area "all",
``maxDets`` raised to 300 so that every detection of the YOLOv5-style NMS output counts.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from leukodet.eval.scored_image import ScoredImage

__all__ = ["ClassAP", "coco_ap", "coco_evaluator_name", "MAX_DETS"]

MAX_DETS: tuple[int, int, int] = (1, 10, 300)
"""COCO ``maxDets``; the last (300, the NMS ``max_det``) is the one read."""

try:
    import faster_coco_eval as _backend_pkg
    from faster_coco_eval import COCO as _COCO
    from faster_coco_eval import COCOeval_faster as _COCOeval

    _BACKEND = f"faster-coco-eval {_backend_pkg.__version__}"
except ImportError:  # pragma: no cover - exercised only where faster-coco-eval is absent
    try:
        from importlib.metadata import version as _version

        from pycocotools.coco import COCO as _COCO  # type: ignore[no-redef]
        from pycocotools.cocoeval import COCOeval as _COCOeval  # type: ignore[no-redef]

        _BACKEND = f"pycocotools {_version('pycocotools')}"
    except ImportError:
        _COCO = None  # type: ignore[assignment,misc]
        _COCOeval = None  # type: ignore[assignment,misc]
        _BACKEND = ""


@dataclass(frozen=True)
class ClassAP:
    """Per-class AP of one evaluator, as fractions.

    Attributes:
        ap50: ``[K]`` AP at IoU 0.50.
        ap50_95: ``[K]`` AP averaged over IoU 0.50:0.05:0.95.
        n_gt: ``[K]`` scored ground-truth boxes per class (classes with 0 are left out of every mean).
    """

    ap50: np.ndarray
    ap50_95: np.ndarray
    n_gt: np.ndarray


def coco_evaluator_name() -> str:
    """``"faster-coco-eval <version>"`` or ``"pycocotools <version>"``.

    Raises:
        ImportError: if neither package is installed.
    """
    if not _BACKEND:
        raise ImportError(
            "COCO evaluation needs faster-coco-eval (or pycocotools): pip install faster-coco-eval"
        )
    return _BACKEND


def _coco_dicts(images: Sequence[ScoredImage], num_classes: int) -> tuple[dict[str, Any], list[dict]]:
    gt: dict[str, Any] = {
        "images": [{"id": i + 1, "width": im.width, "height": im.height} for i, im in enumerate(images)],
        "annotations": [],
        "categories": [{"id": k + 1, "name": str(k)} for k in range(num_classes)],
    }
    dets: list[dict] = []
    for i, im in enumerate(images):
        for box, cls in zip(im.gt_boxes, im.gt_classes):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            gt["annotations"].append(
                {
                    "id": len(gt["annotations"]) + 1,
                    "image_id": i + 1,
                    "category_id": int(cls) + 1,
                    "bbox": [float(box[0]), float(box[1]), w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        for box, score, cls in zip(im.det_boxes, im.det_scores, im.det_classes):
            dets.append(
                {
                    "image_id": i + 1,
                    "category_id": int(cls) + 1,
                    "score": float(score),
                    "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])],
                }
            )
    return gt, dets


def _make_coco(dataset: dict[str, Any]) -> Any:
    if _BACKEND.startswith("faster-coco-eval"):
        return _COCO(dataset)
    coco = _COCO()  # pycocotools' constructor only reads files
    coco.dataset = dataset
    coco.createIndex()
    return coco


def _precision(gt: dict[str, Any], dets: list[dict]) -> np.ndarray:
    """COCO ``precision[T, R, K]`` at area "all" and ``maxDets`` 300."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = _make_coco(gt)
        coco_dt = coco_gt.loadRes(dets)
        kwargs: dict[str, Any] = {"iouType": "bbox"}
        if _BACKEND.startswith("faster-coco-eval"):
            kwargs["print_function"] = lambda *args, **kw: None
        ev = _COCOeval(coco_gt, coco_dt, **kwargs)
        ev.params.maxDets = list(MAX_DETS)
        ev.evaluate()
        ev.accumulate()
    return np.asarray(ev.eval["precision"])[:, :, :, 0, -1]


def coco_ap(images: Sequence[ScoredImage], num_classes: int) -> ClassAP:
    """Per-class COCO AP of the scored sets.

    Args:
        images: scored images (dataset class ids).
        num_classes: number of dataset classes.

    Returns:
        :class:`ClassAP`; classes with ground truth but no detection get 0 (no evaluator call is made
        when there is no detection at all or no ground truth at all).
    """
    coco_evaluator_name()
    n_gt = np.zeros(num_classes, dtype=np.int64)
    for im in images:
        n_gt += np.bincount(im.gt_classes, minlength=num_classes)
    ap = np.zeros((10, num_classes), dtype=np.float64)
    has_dets = any(len(im.det_scores) for im in images)
    if has_dets and n_gt.sum() > 0:
        gt, dets = _coco_dicts(images, num_classes)
        prec = _precision(gt, dets)  # [T, R, K]; -1 where a class has no ground truth
        for k in np.flatnonzero(n_gt):
            p = prec[:, :, k]
            ap[:, k] = np.where((p > -1).any(axis=1), np.where(p > -1, p, 0.0).mean(axis=1), 0.0)
    return ClassAP(ap50=ap[0], ap50_95=ap.mean(axis=0), n_gt=n_gt)
