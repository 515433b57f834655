"""What a detector says about a batch of fields, for the acquisition scores: detections, and where a score needs
them the detections' per-class probabilities (``entropy``) or those of the mirrored field (``flip``).

:class:`~leukodet.infer.predictor.Detector.predict` keeps one class per detection. The per-class probabilities
are read from the same forward pass: a forward hook keeps the network's raw output, which is decoded and reduced
by the same NMS again (:func:`leukodet.model.postprocess.postprocess_decoded`, deterministic) to find the rows
behind the detections; the alignment is checked (same classes, same scores). Fields are
letterboxed whole (no tiling), so one forward pass serves each batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from ..infer.config import InferConfig
from ..infer.predictor import Detector
from ..model.decode import decode_boxes
from ..model.postprocess import postprocess_decoded
from ..records.prediction import Prediction
from .scores import FieldEvidence

__all__ = ["mirror_prediction", "predict_with_class_probs", "field_evidence"]


def mirror_prediction(pred: Prediction, width: int) -> Prediction:
    """``pred`` of a horizontally mirrored image, its boxes mapped back into the unmirrored image."""
    boxes = np.array(pred.boxes, dtype=np.float64)
    boxes[:, [0, 2]] = width - boxes[:, [2, 0]]
    return replace(pred, boxes=boxes)


def _kept_rows(out: Any, cfg: InferConfig) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per image of one raw network output: ``(score [N], class probabilities [N, C], label [N])`` of the
    detections the predictor keeps (the same NMS, in the same order; the score as the NMS gives it, which a
    class hierarchy may take from a parent class)."""
    with torch.no_grad():
        decoded = decode_boxes(out)
    dets = postprocess_decoded(
        decoded, cfg.conf, cfg.iou, cfg.max_det, cfg.multi_label, class_parents=out.class_parents
    )
    rows = []
    for b, det in enumerate(dets):
        kept = decoded[b, det.keep_index].float().cpu().numpy().astype(np.float64)
        rows.append(
            (det.scores.float().cpu().numpy().astype(np.float64), kept[:, 5:], det.labels.cpu().numpy())
        )
    return rows


def _check_aligned(pred: Prediction, scores: np.ndarray, probs: np.ndarray, labels: np.ndarray) -> None:
    """A ``RuntimeError`` unless the rows found are the detections of ``pred`` (same classes, same scores)."""
    same = len(scores) == len(pred) and np.array_equal(labels, pred.class_ids) and len(probs) == len(pred)
    if same and len(pred):
        same = np.allclose(scores, pred.scores, rtol=1e-4, atol=1e-6)
    if not same:
        raise RuntimeError(f"{pred.image}: the per-class probabilities do not line up with the detections")


def predict_with_class_probs(
    det: Detector, images: Sequence[np.ndarray], cfg: InferConfig
) -> list[tuple[Prediction, np.ndarray]]:
    """Each image's prediction (whole field, letterboxed: ``cfg.tile`` is ignored) and its detections'
    ``[N, C]`` per-class sigmoid probabilities; needs a torch checkpoint (not an ONNX export)."""
    cfg = replace(cfg, tile=False)
    outs: list[Any] = []
    model = det.model
    if not isinstance(model, torch.nn.Module):
        raise ValueError(
            "the entropy score needs a .pt checkpoint (an ONNX model keeps no class probabilities)"
        )
    handle = model.register_forward_hook(lambda _module, _inputs, output: outs.append(output))
    try:
        preds = det.predict(list(images), cfg=cfg)
    finally:
        handle.remove()
    rows = [r for out in outs for r in _kept_rows(out, cfg)]
    if len(rows) != len(preds):
        raise RuntimeError(f"{len(rows)} network outputs for {len(preds)} images")
    for pred, (obj, probs, labels) in zip(preds, rows):
        _check_aligned(pred, obj, probs, labels)
    return [(pred, probs) for pred, (_, probs, _) in zip(preds, rows)]


def field_evidence(
    det: Detector, images: Sequence[np.ndarray], cfg: InferConfig, score: str
) -> list[FieldEvidence]:
    """The :class:`FieldEvidence` of each image that ``score`` reads (whole fields, letterboxed)."""
    cfg = replace(cfg, tile=False)
    if score == "entropy":
        return [FieldEvidence(p, probs) for p, probs in predict_with_class_probs(det, images, cfg)]
    preds = det.predict(list(images), cfg=cfg)
    if score != "flip":
        return [FieldEvidence(p) for p in preds]
    mirrors = det.predict([np.ascontiguousarray(im[:, ::-1]) for im in images], cfg=cfg)
    return [
        FieldEvidence(p, flipped=mirror_prediction(m, im.shape[1]))
        for p, m, im in zip(preds, mirrors, images)
    ]
