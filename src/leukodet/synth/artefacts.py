"""Class ``None`` objects: smudge (basket) cells, bare nuclei and disintegrating cells.

These are the LLD boxes labelled ``None`` (artefacts / cells without a name); they carry no attributes.
"""

from __future__ import annotations

import cv2
import numpy as np

from .cells import OD_NUCLEUS, Patch, patch_side
from .shapes import coverage, make_grid, sd_ellipse, sd_union, sd_wobbly

__all__ = ["ARTEFACT_KINDS", "paint_artefact"]

ARTEFACT_KINDS: tuple[str, ...] = ("smudge", "bare_nucleus", "disintegrating")
"""Kinds of class-``None`` objects, drawn with equal probability."""


def _smudge(rng: np.random.Generator, r: float) -> Patch:
    """A smudge cell: large, ragged, pale-purple smear with streaky chromatin strands."""
    r = r * rng.uniform(1.0, 1.3)
    g = make_grid(patch_side(r, 1.6))
    alpha = coverage(sd_wobbly(g, 0.0, 0.0, r, rng, 0.22, aspect=1.0 / rng.uniform(0.65, 0.95)))
    n = rng.standard_normal(alpha.shape).astype(np.float32)
    ang = rng.uniform(0, 180)
    k = max(3, int(r * 0.6)) | 1
    line = np.zeros((k, k), np.float32)
    line[k // 2, :] = 1.0 / k
    rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), ang, 1.0)
    line = cv2.warpAffine(line, rot, (k, k))
    streak = cv2.filter2D(n, -1, line / max(line.sum(), 1e-6))
    streak = streak / max(float(streak.std()), 1e-6)
    dens = alpha * np.clip(0.35 + 0.22 * streak, 0.05, 1.0)
    od = dens[..., None] * (np.array(OD_NUCLEUS, np.float32) * rng.uniform(0.5, 0.8))[None, None, :]
    return Patch(od.astype(np.float32), alpha)


def _bare_nucleus(rng: np.random.Generator, r: float) -> Patch:
    """A bare nucleus: dark, slightly ragged purple body with no cytoplasm."""
    r = r * rng.uniform(0.55, 0.75)
    g = make_grid(patch_side(r, 1.4))
    alpha = coverage(sd_wobbly(g, 0.0, 0.0, r, rng, 0.08, aspect=1.0 / rng.uniform(0.75, 1.0)))
    n = rng.standard_normal(alpha.shape).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), max(0.7, 0.1 * r))
    n = n / max(float(n.std()), 1e-6)
    dens = alpha * np.clip(1.05 + 0.2 * n, 0.4, 1.6)
    od = dens[..., None] * np.array(OD_NUCLEUS, np.float32)[None, None, :]
    return Patch(od.astype(np.float32), alpha)


def _disintegrating(rng: np.random.Generator, r: float) -> Patch:
    """A disintegrating cell: faint cytoplasm remnant holding 2–5 pyknotic nuclear fragments."""
    g = make_grid(patch_side(r, 1.4))
    halo = coverage(sd_wobbly(g, 0.0, 0.0, r * 0.9, rng, 0.18))
    frags = [
        sd_ellipse(
            g,
            *rng.normal(0, 0.3 * r, 2),
            r * rng.uniform(0.12, 0.25),
            r * rng.uniform(0.1, 0.2),
            rng.uniform(0, np.pi),
        )
        for _ in range(int(rng.integers(2, 6)))
    ]
    nuc = coverage(sd_union(*frags))
    alpha = np.maximum(halo, nuc)
    od = halo[..., None] * np.array([0.12, 0.2, 0.1], np.float32) + nuc[..., None] * (
        np.array(OD_NUCLEUS, np.float32) * 1.2
    )
    return Patch(od.astype(np.float32), alpha)


def paint_artefact(rng: np.random.Generator, radius: float) -> Patch:
    """Paint a class-``None`` object of a random kind, about as large as a leukocyte of ``radius``."""
    kind = ARTEFACT_KINDS[int(rng.integers(len(ARTEFACT_KINDS)))]
    if kind == "smudge":
        return _smudge(rng, radius)
    if kind == "bare_nucleus":
        return _bare_nucleus(rng, radius)
    return _disintegrating(rng, radius)
