"""Stain colours and the drawing of non-leukocyte objects: red cells, platelets, debris.

Objects are painted as optical density (OD, Beer–Lambert absorbance per RGB channel) on an isotropic square
patch together with their coverage alpha; the field composes patches by adding OD, so overlapping cells darken
the way stained, translucent cells do on a film.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .shapes import coverage, make_grid, sd_ellipse, sd_wobbly

__all__ = [
    "Patch",
    "OD_RBC",
    "OD_NUCLEUS",
    "BACKGROUND_RGB",
    "paint_rbc",
    "paint_platelet",
    "paint_speck",
    "patch_side",
]

BACKGROUND_RGB: tuple[float, float, float] = (160.0, 160.0, 151.0)
"""Mean background (glass + plasma) colour, RGB 0–255, measured on the LLD samples (CIELAB ≈ 65, −1.6, 4)."""

OD_RBC: tuple[float, float, float] = (0.66, 0.53, 0.21)
"""Peak OD of a red cell's rim (blue-grey in the LLD samples' stain)."""

OD_NUCLEUS: tuple[float, float, float] = (0.80, 1.42, 0.28)
"""OD of a leukocyte nucleus (deep purple: azure–eosin)."""


@dataclass
class Patch:
    """One painted object on an isotropic square patch.

    Attributes:
        od: ``(P, P, 3)`` float32 optical density.
        alpha: ``(P, P)`` float32 coverage of the object's outline (its instance mask is ``alpha > 0.5``).
    """

    od: np.ndarray
    alpha: np.ndarray


def patch_side(radius: float, margin: float = 1.35) -> int:
    """Odd patch side large enough for an object of ``radius`` plus outline irregularities."""
    side = int(np.ceil(2 * radius * margin)) + 6
    return side | 1


def paint_rbc(rng: np.random.Generator, diameter: float) -> Patch:
    """A biconcave red cell: dense rim, central pallor of random depth, slight ovality and tint jitter.

    Args:
        rng: random generator of this cell.
        diameter: diameter in (isotropic) pixels.
    """
    r = diameter / 2.0
    g = make_grid(patch_side(r, 1.15))
    aspect = rng.uniform(0.88, 1.0)
    sd = sd_wobbly(g, 0.0, 0.0, r, rng, 0.025, aspect=1.0 / aspect)
    alpha = coverage(sd, soft=1.0 + 0.02 * r)
    rr = np.hypot(g[0] * aspect, g[1]) / max(r, 1e-3)
    depth = rng.uniform(0.4, 0.85) if rng.random() < 0.8 else rng.uniform(0.0, 0.3)
    pallor = depth * np.exp(-((rr / rng.uniform(0.4, 0.58)) ** 4))
    rim = 0.18 * np.exp(-(((rr - 0.88) / 0.12) ** 2))
    thick = (1.0 - pallor + rim) * alpha
    tint = np.array(OD_RBC) * rng.uniform(0.85, 1.12) + rng.normal(0, 0.025, 3) * np.array([1.0, 0.6, 0.3])
    if rng.random() < 0.2:  # a few pinkish (more eosin) cells, as in the samples
        tint = tint + np.array([-0.06, 0.03, 0.01])
    return Patch(thick[..., None] * tint.astype(np.float32)[None, None, :], alpha)


def paint_platelet(rng: np.random.Generator, diameter: float) -> Patch:
    """A platelet: small irregular pale-purple body with a darker granular centre (granulomere)."""
    r = max(diameter / 2.0, 0.6)
    g = make_grid(patch_side(r, 1.3))
    sd = sd_wobbly(g, 0.0, 0.0, r, rng, 0.15, aspect=1.0 / rng.uniform(0.7, 1.0))
    alpha = coverage(sd)
    gran = np.zeros_like(alpha)
    for _ in range(int(rng.integers(2, 7))):
        cx, cy = rng.normal(0, 0.35 * r, 2)
        gran = np.maximum(gran, coverage(sd_ellipse(g, cx, cy, 0.3 * r + 0.5, 0.25 * r + 0.5)))
    dens = alpha * (0.35 + 0.65 * gran)
    od = dens[..., None] * (np.array(OD_NUCLEUS, np.float32) * rng.uniform(0.5, 0.8))[None, None, :]
    return Patch(od.astype(np.float32), alpha)


def paint_speck(rng: np.random.Generator, diameter: float) -> Patch:
    """Unlabelled debris: a stain precipitate dot (purple) or a refractile droplet (bright, dark edge)."""
    r = max(diameter / 2.0, 0.5)
    g = make_grid(patch_side(r, 1.6))
    alpha = coverage(sd_ellipse(g, 0.0, 0.0, r, r * rng.uniform(0.7, 1.0), rng.uniform(0, np.pi)))
    if rng.random() < 0.5:
        od = alpha[..., None] * (np.array(OD_NUCLEUS, np.float32) * rng.uniform(0.3, 0.7))[None, None, :]
    else:
        rr = np.hypot(g[0], g[1]) / r
        ring = np.exp(-(((rr - 1.0) / 0.25) ** 2)) * 0.35
        core = -0.35 * alpha * np.exp(-((rr / 0.6) ** 2))
        od = (ring + core)[..., None] * np.ones(3, np.float32)[None, None, :]
    return Patch(od.astype(np.float32), alpha)
