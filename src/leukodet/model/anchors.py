"""Anchor fitting: best-possible recall (BPR) check and k-means + mutation refinement on training box sizes.

A box "can be matched" by an anchor when its size ratio ``max(w/aw, aw/w, h/ah, ah/h)`` is below ``thr``
(the assignment rule ``anchor_t = 4.0`` of spec §7). BPR is the fraction of boxes with at least one such
anchor. When the current anchors give BPR < 0.98, new ones are fitted: k-means (k-means++ start, Lloyd
steps, best of a few restarts) on ``log(w), log(h)`` (distances there are size *ratios*, the quantity the
matching rule uses, so small boxes are not swamped by large ones), then a short random multiplicative
mutation search that keeps a candidate only when it raises the fitness (mean best-anchor ratio, counting only
matchable boxes).
Everything is NumPy; box sizes are in **input pixels** (after resizing images to the network input).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "anchor_fitness",
    "best_possible_recall",
    "box_sizes_for_input",
    "check_anchors",
    "fit_anchors",
    "kmeans_wh",
]

MIN_BOX_SIZE = 2.0
"""Boxes smaller than this (pixels, either side) are ignored when fitting."""
MAX_FIT_BOXES = 20_000
"""At most this many boxes (a seeded random subset) are used for fitting, to keep it to a few seconds."""
KMEANS_RESTARTS = 3
"""k-means runs from different k-means++ starts; the fittest result seeds the mutation search."""


def _best_ratio(wh: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """``[N]`` best (over anchors) of the worst side ratio ``min(w/aw, aw/w, h/ah, ah/h)`` ∈ (0, 1]."""
    r = wh[:, None, :] / anchors.reshape(-1, 2)[None, :, :]
    return np.minimum(r, 1.0 / r).min(axis=2).max(axis=1)


def best_possible_recall(wh: np.ndarray, anchors: np.ndarray, thr: float = 4.0) -> float:
    """Fraction of boxes having an anchor with ``max(w/aw, aw/w, h/ah, ah/h) < thr``.

    Args:
        wh: ``[N, 2]`` box ``(w, h)`` in input pixels.
        anchors: ``[..., 2]`` anchor ``(w, h)`` in input pixels (any leading shape, e.g. ``[3, 3, 2]``).
        thr: Size-ratio threshold.

    Returns:
        BPR in ``[0, 1]`` (1.0 for an empty ``wh``).
    """
    wh = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    if len(wh) == 0:
        return 1.0
    return float((_best_ratio(wh, np.asarray(anchors, dtype=np.float64)) > 1.0 / thr).mean())


def anchor_fitness(wh: np.ndarray, anchors: np.ndarray, thr: float = 4.0) -> float:
    """Mean best-anchor ratio over boxes, counting unmatchable boxes (ratio ≤ ``1/thr``) as 0.

    Args:
        wh: ``[N, 2]`` box sizes.
        anchors: ``[K, 2]`` anchor sizes.
        thr: Size-ratio threshold.
    """
    best = _best_ratio(wh, anchors)
    return float((best * (best > 1.0 / thr)).mean())


def _log_fitness(log_wh: np.ndarray, log_anchors: np.ndarray, thr: float) -> float:
    """:func:`anchor_fitness` computed from logs (``ratio = exp(-|log w - log aw|)``), for the search loop."""
    dw = np.abs(log_wh[:, :1] - log_anchors[:, 0])
    dist = np.maximum(dw, np.abs(log_wh[:, 1:] - log_anchors[:, 1])).min(axis=1)
    best = np.exp(-dist)
    return float((best * (dist < np.log(thr))).mean())


def kmeans_wh(wh: np.ndarray, n: int, rng: np.random.Generator, iters: int = 30) -> np.ndarray:
    """Plain k-means (k-means++ initialisation, Lloyd iterations) with Euclidean distance.

    Args:
        wh: ``[N, 2]`` points, ``N >= n``.
        n: Number of clusters.
        rng: Random generator.
        iters: Lloyd iterations (stops early at convergence).

    Returns:
        ``[n, 2]`` centres.
    """
    centres = [wh[rng.integers(len(wh))]]
    for _ in range(1, n):
        d2 = ((wh[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1).min(1)
        p = d2 / d2.sum() if d2.sum() > 0 else np.full(len(wh), 1.0 / len(wh))
        centres.append(wh[rng.choice(len(wh), p=p)])
    k = np.asarray(centres, dtype=np.float64)
    for _ in range(iters):
        assign = ((wh[:, None, :] - k[None]) ** 2).sum(-1).argmin(1)
        new = np.array([wh[assign == j].mean(0) if np.any(assign == j) else k[j] for j in range(n)])
        if np.allclose(new, k):
            break
        k = new
    return k


def fit_anchors(wh: np.ndarray, n: int = 9, thr: float = 4.0, iters: int = 300, seed: int = 0) -> np.ndarray:
    """Fit ``n`` anchors to box sizes: k-means on ``log(w, h)``, then ``iters`` mutation steps.

    Args:
        wh: ``[N, 2]`` box ``(w, h)`` in input pixels (boxes under 2 px are ignored).
        n: Number of anchors (9 = 3 levels × 3).
        thr: Size-ratio threshold of the fitness.
        iters: Mutation-refinement steps.
        seed: Random seed (the result is deterministic for a given seed).

    Returns:
        ``[n, 2]`` anchors sorted by area (ascending), in input pixels.

    Raises:
        ValueError: If no box is at least 2 px wide and high.
    """
    rng = np.random.default_rng(seed)
    wh = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    wh = wh[(wh >= MIN_BOX_SIZE).all(axis=1)]
    if len(wh) == 0:
        raise ValueError("fit_anchors: no box of at least 2×2 px to fit anchors to")
    if len(wh) < n:
        wh = np.concatenate([wh, wh[rng.integers(len(wh), size=n)] * rng.uniform(0.5, 2.0, (n, 1))])
    if len(wh) > MAX_FIT_BOXES:
        wh = wh[rng.choice(len(wh), MAX_FIT_BOXES, replace=False)]
    log_wh = np.log(wh)
    starts = [kmeans_wh(log_wh, n, rng) for _ in range(KMEANS_RESTARTS)]
    scores = [_log_fitness(log_wh, k, thr) for k in starts]
    best, k = max(zip(scores, starts), key=lambda sk: sk[0])
    for _ in range(iters):
        mask = rng.random(k.shape) < 0.9
        candidate = np.maximum(k + mask * rng.normal(0.0, 0.1 * rng.random(), k.shape), np.log(MIN_BOX_SIZE))
        fit = _log_fitness(log_wh, candidate, thr)
        if fit > best:
            best, k = fit, candidate
    k = np.exp(k)
    return k[np.argsort(k.prod(axis=1))]


def _balanced(groups: list[np.ndarray], per_group: int = 2000, seed: int = 0) -> np.ndarray:
    """The boxes of every group resampled to the same count (with replacement for small groups)."""
    rng = np.random.default_rng(seed)
    n = min(per_group, max(len(g) for g in groups))
    return np.concatenate([g[rng.integers(0, len(g), n)] for g in groups if len(g)])


def check_anchors(
    wh: np.ndarray | list[np.ndarray],
    anchors: np.ndarray,
    thr: float = 4.0,
    min_bpr: float = 0.98,
    iters: int = 300,
    seed: int = 0,
) -> tuple[np.ndarray, float, bool]:
    """Keep the anchors if their BPR is at least ``min_bpr``, otherwise fit new ones (AutoAnchor behaviour).

    ``wh`` may be a list of box groups (one per data source, e.g. per acquisition domain): the BPR is then the
    lowest of the groups', and new anchors are fitted on the groups resampled to equal size, so a minority source
    with other cell sizes (real 640x480 fields beside many synthetic ones) is not outvoted.

    Args:
        wh: ``[N, 2]`` training box ``(w, h)`` in input pixels, or a list of such groups.
        anchors: ``[3, 3, 2]`` current anchors (any shape with a trailing 2).
        thr: Size-ratio threshold (``anchor_t``).
        min_bpr: Required best-possible recall.
        iters: Mutation steps of :func:`fit_anchors`.
        seed: Random seed of :func:`fit_anchors`.

    Returns:
        ``(anchors [L, A, 2], bpr, changed)``: the anchors to use (new ones sorted by area and reshaped to the
        input's level layout, only when they improve BPR), their BPR, and whether they changed.
    """
    current = np.asarray(anchors, dtype=np.float64)
    shape = current.shape if current.ndim == 3 else (3, -1, 2)
    current = current.reshape(shape)
    groups = [np.asarray(g, dtype=np.float64).reshape(-1, 2) for g in (wh if isinstance(wh, list) else [wh])]
    groups = [g for g in groups if len(g)]
    if not groups:
        return current, 0.0, False

    def lowest(a: np.ndarray) -> float:
        return min(best_possible_recall(g, a, thr) for g in groups)

    bpr = lowest(current)
    if bpr >= min_bpr:
        return current, bpr, False
    sample = _balanced(groups, seed=seed) if len(groups) > 1 else groups[0]
    fitted = fit_anchors(sample, n=current.reshape(-1, 2).shape[0], thr=thr, iters=iters, seed=seed)
    new_bpr = lowest(fitted)
    if new_bpr <= bpr:
        return current, bpr, False
    return fitted.reshape(current.shape), new_bpr, True


def box_sizes_for_input(
    wh: np.ndarray, image_wh: np.ndarray, imgsz: int = 640, letterbox: bool = False
) -> np.ndarray:
    """Convert box sizes from stored-image pixels to network-input pixels.

    Args:
        wh: ``[N, 2]`` box ``(w, h)`` in pixels of their image.
        image_wh: ``[N, 2]`` ``(width, height)`` of each box's image.
        imgsz: Square network input size.
        letterbox: Keep the aspect ratio (scale by ``imgsz / max(W, H)``) instead of resizing each side to
            ``imgsz`` (the default, spec decision D21).

    Returns:
        ``[N, 2]`` box sizes in input pixels.
    """
    wh = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    image_wh = np.asarray(image_wh, dtype=np.float64).reshape(-1, 2)
    if letterbox:
        return wh * (imgsz / image_wh.max(axis=1, keepdims=True))
    return wh * (imgsz / image_wh)
