"""Box geometry for evaluation (numpy, absolute-pixel xyxy); spec §6 matching uses these overlaps.

The evaluation layer is torch-free so that metrics can be computed from saved predictions on any machine;
:func:`box_iou` is the numpy counterpart of ``torchvision.ops.box_iou`` (same definition, no ``+1``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["box_iou", "box_centers", "as_boxes"]


def as_boxes(values: object) -> np.ndarray:
    """Return ``values`` as a float64 ``[N, 4]`` xyxy array (an empty input gives shape ``[0, 4]``).

    Args:
        values: anything ``np.asarray`` accepts holding ``N`` boxes of four numbers.

    Returns:
        A new float64 array of shape ``[N, 4]``.

    Raises:
        ValueError: if the values cannot be shaped ``[N, 4]``.
    """
    arr = np.array(values, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape [N, 4], got {arr.shape}")
    return arr


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union of two sets of xyxy boxes.

    Args:
        a: ``[N, 4]`` boxes, absolute-pixel xyxy.
        b: ``[M, 4]`` boxes, absolute-pixel xyxy.

    Returns:
        ``[N, M]`` float64 IoU; pairs whose union is empty get 0.
    """
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = np.clip(a[:, 2] - a[:, 0], 0.0, None) * np.clip(a[:, 3] - a[:, 1], 0.0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0.0, None) * np.clip(b[:, 3] - b[:, 1], 0.0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou


def box_centers(boxes: np.ndarray) -> np.ndarray:
    """Centres of ``[N, 4]`` xyxy boxes as an ``[N, 2]`` array of ``(cx, cy)``."""
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2.0, (boxes[:, 1] + boxes[:, 3]) / 2.0], axis=1)
