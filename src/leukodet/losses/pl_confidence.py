"""A pseudo-label confidence whose scale makes SLA-Det's thresholds mean something (issue #22).

Eq. (6) compares objectness × class with ``t0`` = 0.70 and ``t1`` = 0.95. Objectness is trained towards the IoU
of its box and levels off near 0.9 on a converged detector, so the 0.95 band is out of reach and no pseudo-label
is ever accepted. :class:`PrecisionCalibrator` maps a raw confidence to the **precision** the model reaches at
that confidence on the labelled regions, where the labels are complete: among the latest labelled-region
detections of the same predicted class at least that confident, the share that match a ground-truth cell of
their class (IoU ≥ 0.5). With it, ``t1`` = 0.95 reads "as sure as detections that are right 95 % of the time", whatever the detector's raw
scale. Detections are remembered across batches (``sparse.calib_window``); before any is seen, every
calibrated confidence is 0 (no pseudo-label from an unmeasured model). The memory is not checkpointed: a
resumed run measures again from its first batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import torch
from torch import Tensor
from torchvision.ops import batched_nms, box_iou

from .sparse import centred_in

__all__ = ["PrecisionCalibrator", "greedy_hits", "labelled_region_hits", "precision_at"]


def labelled_region_hits(
    decoded: Tensor,
    regions: Sequence[Tensor | None],
    targets: Tensor,
    floor: float = 0.05,
    iou: float = 0.5,
    nms_iou: float = 0.5,
) -> tuple[Tensor, Tensor, Tensor]:
    """Confidences, hit flags and classes of the detections centred inside each image's labelled regions.

    ``decoded``: ``[B, N, 5 + nc]`` (xywh input pixels, sigmoid objectness and classes); detections under
    ``floor`` are ignored, the rest go through per-class NMS and are matched greedily (most confident first)
    to the image's ground truth of the same class at IoU ≥ ``iou``. Images without regions (fully labelled)
    count as one labelled region covering the image. Returns ``(conf [K], hit [K] bool, class [K])``.
    """
    confs, hits, classes = [], [], []
    for b, pred in enumerate(decoded):
        probs = pred[:, 5:] * pred[:, 4:5]
        conf, cls = probs.max(1)
        keep = conf >= floor
        xy, wh = pred[keep, :2], pred[keep, 2:4]
        boxes, conf, cls = torch.cat([xy - wh / 2, xy + wh / 2], 1), conf[keep], cls[keep]
        kept = batched_nms(boxes, conf, cls, nms_iou)
        boxes, conf, cls = boxes[kept], conf[kept], cls[kept]
        inside = centred_in(boxes, regions[b])
        boxes, conf, cls = boxes[inside], conf[inside], cls[inside]
        gt = targets[targets[:, 0] == b]
        hit = greedy_hits(boxes, cls, gt[:, 2:6].to(boxes), gt[:, 1].long().to(cls.device), iou)
        confs.append(conf)
        hits.append(hit)
        classes.append(cls)
    return torch.cat(confs), torch.cat(hits), torch.cat(classes)


def greedy_hits(boxes: Tensor, cls: Tensor, gt: Tensor, gt_cls: Tensor, iou: float) -> Tensor:
    """Per detection (already sorted by confidence, as NMS returns them): matched to an unused same-class
    ground-truth box at IoU ≥ ``iou``."""
    hit = torch.zeros(len(boxes), dtype=torch.bool, device=boxes.device)
    if len(boxes) == 0 or len(gt) == 0:
        return hit
    overlap = box_iou(boxes, gt)
    overlap[cls[:, None] != gt_cls[None, :]] = 0.0
    used = torch.zeros(len(gt), dtype=torch.bool, device=boxes.device)
    for i in range(len(boxes)):
        row = overlap[i].masked_fill(used, 0.0)
        j = int(row.argmax())
        if row[j] >= iou:
            hit[i], used[j] = True, True
    return hit


def precision_at(conf: Tensor, seen_conf: Tensor, seen_hit: Tensor) -> Tensor:
    """Per query confidence: the precision of the remembered detections at least that confident, smoothed
    as (hits + 1) / (count + 2) and made non-decreasing in confidence (the interpolated precision of a PR
    curve; tied confidences count as one threshold); above every remembered confidence, the most confident
    group's; 0 when nothing is remembered."""
    if len(seen_conf) == 0:
        return torch.zeros_like(conf)
    order = seen_conf.argsort(descending=True)
    c, h = seen_conf[order], seen_hit[order].float()
    ascending = c.flip(0).contiguous()

    def at_least(q: Tensor) -> Tensor:  # how many remembered detections are at least as confident as q
        return len(c) - torch.searchsorted(ascending, q.to(c.dtype).contiguous(), side="left")

    prec = (h.cumsum(0) + 1) / (torch.arange(1, len(c) + 1, device=c.device, dtype=torch.float32) + 2)
    prec = prec[at_least(c) - 1]  # tied confidences are one threshold: the whole tie counts
    # interpolated: at each threshold, the best precision reachable at that threshold or a lower one
    prec = prec.flip(0).cummax(0).values.flip(0)
    # above every remembered confidence: the most confident (tied) group's precision
    count = at_least(conf.reshape(-1)).clamp(min=int(at_least(c[:1])))
    return prec[count - 1].reshape(conf.shape).to(conf.dtype)


class PrecisionCalibrator:
    """Raw confidence → precision on the labelled regions, **per predicted class** (module docstring):
    a class the detector gets wrong (tiny platelets it never localises at IoU 0.5, say) cannot borrow the
    precision of one it gets right. ``update`` every step."""

    def __init__(self, window: int = 4096) -> None:
        self.seen: deque[tuple[float, bool, int]] = deque(maxlen=window)
        self._tensors: tuple[Tensor, Tensor, Tensor] | None = None

    def update(self, decoded: Tensor, regions: Sequence[Tensor | None], targets: Tensor) -> None:
        """Remember the labelled-region detections of one batch (``decoded`` detached)."""
        conf, hit, cls = labelled_region_hits(decoded, regions, targets)
        self.seen.extend(zip(conf.tolist(), hit.tolist(), cls.tolist()))
        self._tensors = None

    def __call__(self, conf: Tensor, cls: Tensor) -> Tensor:
        """The calibrated confidence of detections of raw confidence ``conf`` and predicted class ``cls``
        (0 for a class with no remembered detection)."""
        out = torch.zeros_like(conf)
        if not self.seen:
            return out
        if self._tensors is None:
            c, h, k = zip(*self.seen)
            self._tensors = (torch.tensor(c, dtype=torch.float32), torch.tensor(h), torch.tensor(k))
        seen_conf, seen_hit, seen_cls = (t.to(conf.device) for t in self._tensors)
        for label in cls.unique().tolist():
            query, memory = cls == label, seen_cls == label
            if memory.any():
                out[query] = precision_at(conf[query].float(), seen_conf[memory], seen_hit[memory]).to(
                    conf.dtype
                )
        return out

    def raw_threshold(self, calibrated: float, label: int) -> float:
        """The lowest remembered raw confidence of class ``label`` whose calibrated value reaches
        ``calibrated`` (what a calibrated threshold means on the raw scale, for diagnostics); ``nan`` when none
        does."""
        raw = torch.tensor(sorted({c for c, _, k in self.seen if k == label}))
        ok = raw[self(raw, torch.full_like(raw, label, dtype=torch.long)) >= calibrated] if len(raw) else raw
        return float(ok.min()) if len(ok) else float("nan")
