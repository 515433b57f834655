"""Acquisition scores: how much a labelled patch around each predicted cell would teach the detector.

Every score but ``random`` gives each predicted cell a non-negative weight at the cell's centre; the window search
(:mod:`leukodet.active.window`) adds up the weights inside a window. The scores, selectable by name:

* ``random``: no weights; the proposal is :func:`leukodet.records.sparsify.sample_region`'s rectangle for the
  same seed and image stem (what ``leukodet sparsify`` would label): the baseline.
* ``entropy``: the entropy in bits of each cell's class distribution (its per-class sigmoid probabilities
  normalised to sum 1, SLA-Det's Eq. 5 as :func:`leukodet.losses.sparse.prediction_entropy`): cells whose class
  the model cannot tell apart.
* ``band``: 1 for each cell whose confidence lies in SLA-Det's pseudo-label band ``t0 <= conf < t1``
  (:class:`leukodet.config.SparseConfig`): cells the sparse training neither trusts as pseudo-labels nor treats
  as background, so only a human label settles them.
* ``flip``: 1 for each cell of the field or of its horizontal mirror (mapped back) that has no detection of the
  same class with IoU >= 0.5 in the other view: cells the model finds in one view only.
* ``unsure``: ``1 - |2 conf - 1|`` per cell (1 at conf 0.5, 0 at 0 or 1): the expected count of cells the model
  is unsure of, each cell counted by how close its confidence is to a coin toss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..config import SparseConfig
from ..records.boxes import box_centers, box_iou
from ..records.prediction import Prediction

__all__ = [
    "SCORES",
    "FLIP_IOU",
    "FieldEvidence",
    "check_score",
    "default_band",
    "class_entropy",
    "entropy_weights",
    "band_weights",
    "flip_weights",
    "unsure_weights",
    "cell_weights",
]

SCORES: tuple[str, ...] = ("random", "entropy", "band", "flip", "unsure")
"""The acquisition scores, by name (see the module docstring)."""

FLIP_IOU = 0.5
"""IoU a detection needs with a same-class detection of the other view to count as found in both."""

Weights = tuple[np.ndarray, np.ndarray]
"""``([K, 2] cell centres (cx, cy), [K] non-negative weights)``."""


@dataclass(frozen=True)
class FieldEvidence:
    """What the model says about one field, as the scores read it.

    Attributes:
        prediction: the field's detections (boxes in its pixels).
        class_probs: ``[N, C]`` per-class sigmoid probabilities of the detections (``entropy``), else ``None``.
        flipped: the detections of the field's horizontal mirror, boxes mapped back to the field's pixels
            (``flip``), else ``None``.
    """

    prediction: Prediction
    class_probs: np.ndarray | None = None
    flipped: Prediction | None = None


def check_score(score: str) -> str:
    """``score`` itself when it is one of :data:`SCORES`; a ``ValueError`` naming them otherwise."""
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r} (choose from {', '.join(SCORES)})")
    return score


def default_band() -> tuple[float, float]:
    """SLA-Det's pseudo-label band ``(t0, t1)``: the defaults of :class:`~leukodet.config.SparseConfig`."""
    sparse = SparseConfig()
    return sparse.t0, sparse.t1


def class_entropy(class_probs: np.ndarray) -> np.ndarray:
    """Entropy in bits of each row of ``[N, C]`` sigmoid probabilities normalised to sum 1 (0 for ``C == 1``)."""
    p = np.clip(np.asarray(class_probs, dtype=np.float64), 1e-12, None)
    if p.ndim != 2:
        raise ValueError(f"class probabilities must have shape [N, C], got {p.shape}")
    p = p / p.sum(axis=1, keepdims=True)
    return np.clip(-(p * np.log2(p)).sum(axis=1), 0.0, None)


def _centres(pred: Prediction) -> np.ndarray:
    return box_centers(pred.boxes) if len(pred) else np.zeros((0, 2))


def entropy_weights(ev: FieldEvidence) -> Weights:
    """Class entropy (bits) per detection; needs ``ev.class_probs``."""
    if ev.class_probs is None:
        raise ValueError("the entropy score needs the detections' per-class probabilities")
    probs = np.asarray(ev.class_probs, dtype=np.float64)
    if len(probs) != len(ev.prediction):
        raise ValueError(f"{len(probs)} class-probability rows for {len(ev.prediction)} detections")
    weights = class_entropy(probs) if len(probs) else np.zeros(0)
    return _centres(ev.prediction), weights


def band_weights(ev: FieldEvidence, band: tuple[float, float] | None = None) -> Weights:
    """1 per detection with ``t0 <= conf < t1`` (``band``: default :func:`default_band`)."""
    t0, t1 = band or default_band()
    scores = ev.prediction.scores
    return _centres(ev.prediction), ((scores >= t0) & (scores < t1)).astype(np.float64)


def unsure_weights(ev: FieldEvidence) -> Weights:
    """``1 - |2 conf - 1|`` per detection."""
    return _centres(ev.prediction), 1.0 - np.abs(2.0 * ev.prediction.scores - 1.0)


def _unmatched(a: Prediction, b: Prediction, iou: float) -> np.ndarray:
    """Whether each detection of ``a`` has no same-class detection in ``b`` with IoU >= ``iou``."""
    if not len(a):
        return np.zeros(0, dtype=bool)
    same = a.class_ids[:, None] == b.class_ids[None, :]
    return ~((box_iou(a.boxes, b.boxes) >= iou) & same).any(axis=1)


def flip_weights(ev: FieldEvidence, iou: float = FLIP_IOU) -> Weights:
    """1 per detection, in either view, without a same-class IoU >= ``iou`` match in the other view (the
    mirror's detections at their centres in the field); needs ``ev.flipped``."""
    if ev.flipped is None:
        raise ValueError("the flip score needs the detections of the field's mirror image")
    here, there = ev.prediction, ev.flipped
    lone_here, lone_there = _unmatched(here, there, iou), _unmatched(there, here, iou)
    centres = np.concatenate([_centres(here), _centres(there)])
    return centres, np.concatenate([lone_here, lone_there]).astype(np.float64)


def cell_weights(score: str, ev: FieldEvidence, band: tuple[float, float] | None = None) -> Weights:
    """The cell centres and weights of ``score`` (any of :data:`SCORES` but ``random``)."""
    table: dict[str, Callable[[FieldEvidence], Weights]] = {
        "entropy": entropy_weights,
        "band": lambda e: band_weights(e, band),
        "flip": flip_weights,
        "unsure": unsure_weights,
    }
    if check_score(score) == "random":
        raise ValueError("the random score has no cell weights (it draws sparsify's region)")
    return table[score](ev)
