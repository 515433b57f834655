"""Scoring a :class:`~leukodet.infer.predictor.Detector` on a letterboxed loader: validation during training,
``leukodet val`` and the per-domain matrix all come through :func:`evaluate_detector`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch.utils.data import DataLoader

from ..config import PREDICT_CONF
from ..eval.detection import evaluate
from ..records.schema import AttributeSchema, ImageRecord
from .config import InferConfig
from .predictor import Detector

__all__ = ["evaluate_detector"]


def evaluate_detector(
    det: Detector,
    loader: DataLoader[Any],
    records: Sequence[ImageRecord],
    dataset_classes: Sequence[str],
    *,
    cfg: InferConfig | None = None,
    conf_op: float = PREDICT_CONF,
    pr_curves: bool = False,
    dataset_attributes: AttributeSchema | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Predict ``loader`` at ``cfg`` (default: the evaluation protocol, :meth:`InferConfig.protocol`) and score
    it against ``records`` (same order) with :func:`~leukodet.eval.detection.evaluate`; attribute metrics are
    added when both the detector and the dataset have attributes. ``conf_op``: the operating point's
    threshold."""
    with_attrs = bool(det.attributes) and dataset_attributes is not None and len(dataset_attributes) > 0
    preds = det.predict_batches(
        loader, cfg or InferConfig.protocol(), records=records, attributes=with_attrs, progress=progress
    )
    return evaluate(
        records,
        dataset_classes,
        preds,
        conf_op=conf_op,
        pr_curves=pr_curves,
        attribute_schema=dataset_attributes if with_attrs else None,
    )
