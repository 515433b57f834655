"""Sparse splits: turn a fully labelled training split into the paper's sparse-annotation setting.

Region mode (Rehman et al. 2025, Sec. 3.4: one labelled patch per field, ~1/5 of the field of view): each
image gets one axis-aligned rectangle of area fraction ``F`` with the image's aspect ratio, placed uniformly at
random by an RNG seeded with hash(seed, image stem); the boxes whose centre lies inside are kept whole
(unclipped) and the rectangle becomes the image's labelled region. Image mode: a fraction ``F`` of the images
(chosen by the same hash) stays fully labelled, the others become unlabelled (no boxes, ``labeled_regions=[]``).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from .schema import Box, Dataset, ImageRecord

__all__ = ["MODES", "key_rng", "sample_region", "restrict_to_region", "sparsify_dataset"]

MODES: tuple[str, ...] = ("region", "image")


def _key_int(seed: int, key: str) -> int:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def key_rng(seed: int, key: str) -> np.random.Generator:
    """A NumPy generator seeded by a stable hash of ``(seed, key)`` (independent of Python's hash salt)."""
    return np.random.default_rng(_key_int(seed, key))


def sample_region(width: int, height: int, fraction: float, seed: int, key: str) -> Box:
    """One rectangle of area ``fraction`` x image area, the image's aspect ratio, uniformly placed."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    scale = math.sqrt(fraction)
    w, h = width * scale, height * scale
    u = key_rng(seed, key).random(2)
    x1, y1 = float(u[0] * (width - w)), float(u[1] * (height - h))
    return (x1, y1, x1 + w, y1 + h)


def restrict_to_region(rec: ImageRecord, region: Box) -> ImageRecord:
    """Keep the cells whose centre lies inside ``region`` (whole boxes) and record the region."""
    x1, y1, x2, y2 = region
    kept = tuple(c for c in rec.cells if x1 <= c.center[0] <= x2 and y1 <= c.center[1] <= y2)
    return rec.with_(cells=kept, labeled_regions=(region,))


def sparsify_dataset(
    ds: Dataset, fraction: float, seed: int, mode: str = "region", split: str = "train"
) -> Dataset:
    """Return a copy of ``ds`` whose ``split`` is sparsified; the other splits are unchanged."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if split not in ds.splits:
        raise ValueError(f"the dataset has no split {split!r} (splits: {', '.join(ds.splits)})")
    targets = [r for r in ds.records if r.split == split]
    labelled: set[int] = set()
    if mode == "image":
        order = sorted(range(len(targets)), key=lambda i: _key_int(seed, targets[i].stem))
        labelled = set(order[: round(fraction * len(targets))])
    out: list[ImageRecord] = []
    index = 0
    for rec in ds.records:
        if rec.split != split:
            out.append(rec)
            continue
        if mode == "region":
            out.append(
                restrict_to_region(rec, sample_region(rec.width, rec.height, fraction, seed, rec.stem))
            )
        elif index not in labelled:
            out.append(rec.with_(cells=(), labeled_regions=()))
        else:
            out.append(rec)
        index += 1
    return Dataset(out, list(ds.classes), ds.attributes, dict(ds.roles))
