"""Post-processing: decoded predictions → per-image :class:`Detections` via ``torchvision.ops.batched_nms``.

Score of a (box, class) pair = objectness probability × class probability (paper §3: confidence is the
max class probability times objectness). Evaluation protocol (spec §6): ``conf=0.001, iou=0.6,
multi_label=True, max_det=300``; demo protocol: ``conf=0.25, iou=0.45, agnostic=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torchvision.ops import batched_nms, box_convert, nms

from leukodet.model.decode import decode_boxes
from leukodet.model.hierarchy import choose_class
from leukodet.model.output import DetectorOutput

from ..config import MAX_DET, PREDICT_CONF, PREDICT_IOU

__all__ = ["Detections", "MAX_CANDIDATES", "postprocess", "postprocess_decoded"]

MAX_CANDIDATES = 30_000
"""Most (box, class) candidates per image passed to NMS (highest scores kept)."""


@dataclass
class Detections:
    """Detections of one image.

    Attributes:
        boxes: ``[N, 4]`` absolute ``(x1, y1, x2, y2)`` in input (network) pixels, not clipped.
        scores: ``[N]`` objectness × class probability, descending.
        labels: ``[N]`` long class indices.
        keep_index: ``[N]`` long indices into the ``N`` axis of
            :func:`leukodet.model.decode.decode_boxes` (see ``unravel_prediction_index`` for the cell).
    """

    boxes: Tensor
    scores: Tensor
    labels: Tensor
    keep_index: Tensor

    def __len__(self) -> int:
        """Number of detections."""
        return int(self.scores.numel())

    @classmethod
    def empty(cls, device: torch.device | None = None) -> Detections:
        """Zero detections on ``device``."""
        long = torch.zeros(0, dtype=torch.long, device=device)
        return cls(torch.zeros((0, 4), device=device), torch.zeros(0, device=device), long, long.clone())

    def to(self, device: torch.device | str) -> Detections:
        """Copy to ``device``."""
        return Detections(
            self.boxes.to(device), self.scores.to(device), self.labels.to(device), self.keep_index.to(device)
        )


def postprocess(
    out: DetectorOutput,
    conf: float = PREDICT_CONF,
    iou: float = PREDICT_IOU,
    max_det: int = MAX_DET,
    multi_label: bool = False,
    agnostic: bool = False,
) -> list[Detections]:
    """Decode a batch and run class-aware (or agnostic) NMS per image.

    Args:
        out: Detector output.
        conf: Keep (box, class) pairs with objectness × class probability above this.
        iou: NMS IoU threshold.
        max_det: Most detections kept per image.
        multi_label: Emit every class above ``conf`` for a box (one row each), not just the best class.
        agnostic: Suppress across classes (plain ``nms``) instead of per class (``batched_nms``).

    Returns:
        One :class:`Detections` per image.
    """
    with torch.no_grad():
        decoded = decode_boxes(out)
    return postprocess_decoded(decoded, conf, iou, max_det, multi_label, agnostic, out.class_parents)


def postprocess_decoded(
    decoded: Tensor,
    conf: float = PREDICT_CONF,
    iou: float = PREDICT_IOU,
    max_det: int = MAX_DET,
    multi_label: bool = False,
    agnostic: bool = False,
    class_parents: Sequence[int] = (),
) -> list[Detections]:
    """As :func:`postprocess`, on already decoded ``[B, N, 5 + nc]`` predictions (see ``decode_boxes``);
    ``class_parents`` (the model's hierarchy) makes a single-label box take its most specific class."""
    return [
        _image_detections(pred, conf, iou, max_det, multi_label, agnostic, class_parents) for pred in decoded
    ]


def _candidates(
    pred: Tensor, conf: float, multi_label: bool, class_parents: Sequence[int] = ()
) -> tuple[Tensor, Tensor, Tensor]:
    """Candidate ``(row index, label, score)`` triples of one image's ``[N, 5 + nc]`` predictions."""
    rows = torch.nonzero(pred[:, 4] > conf).squeeze(1)
    scores = pred[rows, 5:] * pred[rows, 4:5]
    if multi_label:
        r, labels = torch.nonzero(scores > conf, as_tuple=True)
        return rows[r], labels, scores[r, labels]
    best, labels = choose_class(scores, class_parents)
    keep = best > conf
    return rows[keep], labels[keep], best[keep]


def _image_detections(
    pred: Tensor,
    conf: float,
    iou: float,
    max_det: int,
    multi_label: bool,
    agnostic: bool,
    class_parents: Sequence[int] = (),
) -> Detections:
    """NMS on one image's ``[N, 5 + nc]`` decoded predictions."""
    rows, labels, scores = _candidates(pred, conf, multi_label, class_parents)
    if rows.numel() == 0:
        return Detections.empty(pred.device)
    if rows.numel() > MAX_CANDIDATES:
        top = scores.topk(MAX_CANDIDATES).indices
        rows, labels, scores = rows[top], labels[top], scores[top]
    boxes = box_convert(pred[rows, :4], in_fmt="cxcywh", out_fmt="xyxy")
    keep = nms(boxes, scores, iou) if agnostic else batched_nms(boxes, scores, labels, iou)
    keep = keep[:max_det]
    return Detections(boxes[keep], scores[keep], labels[keep], rows[keep])
