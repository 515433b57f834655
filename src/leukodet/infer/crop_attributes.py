"""Attributes by the crop path at inference: the detections' crops through a crop classifier
(:mod:`leukodet.model.crop_classifier`) instead of the AttriHead.

``Detector.use_crops(classifier)`` (or ``--crop-model C.pt`` on ``val``, ``predict``, ``report`` and ``serve``)
switches a detector to it: the boxes it keeps are cut from the same network-scale image the detector saw
(:func:`leukodet.data.crops.cut_crops`) and each attribute's softmax group gives the value and its probability,
exactly as the head's calls (:func:`leukodet.infer.attributes.decode_attributes`), so the JSON, CSV, report and
service outputs keep their shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..data.crops import cut_crops
from ..model.crop_classifier import CropClassifier
from ..model.postprocess import Detections
from ..records.prediction import AttributeCall
from .attributes import decode_attributes

__all__ = ["crop_calls"]


@torch.no_grad()
def crop_calls(
    classifier: CropClassifier,
    images: Tensor,
    detections: Sequence[Detections],
    only: Sequence[Sequence[int] | None] | None,
    network_size: int,
    chunk: int = 256,
) -> list[list[dict[str, AttributeCall]]]:
    """Attribute calls for the detections of a ``[B, 3, S, S]`` batch in [0, 1] (boxes in its pixels); ``only[b]``
    limits image ``b`` to those indices (the others get ``{}``). Box sides are brought from the detector's
    ``network_size`` to the classifier's training scale (``config.imgsz``)."""
    cfg = classifier.config
    device = next(classifier.parameters()).device
    out = [[{} for _ in range(len(d.scores))] for d in detections]
    for b, det in enumerate(detections):
        idx = list(range(len(det.boxes))) if only is None or only[b] is None else sorted(set(only[b]))
        for start in range(0, len(idx), chunk):
            part = idx[start : start + chunk]
            crops, sides = cut_crops(
                images[b : b + 1].float(), [det.boxes[part].float().to(images.device)], cfg.size, cfg.context
            )
            logits, _ = classifier.infer(crops.to(device), sides.to(device) * (cfg.imgsz / network_size))
            if logits is None:
                continue
            for i, call in zip(part, decode_attributes(logits, cfg.attributes)):
                out[b][i] = call
    return out
