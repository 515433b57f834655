"""Signed-distance shapes for cell drawing: disks, ellipses, wobbly outlines, lobes, strands, nuclei.

Every shape is a signed distance in pixels on a patch grid (negative inside); ``coverage`` turns it into an
anti-aliased alpha in [0, 1] (one pixel of transition), so masks are sharp and boxes exact.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Grid",
    "make_grid",
    "coverage",
    "sd_ellipse",
    "sd_wobbly",
    "sd_segment",
    "sd_union",
    "sd_subtract",
    "nucleus_sd",
    "NUCLEUS_KINDS",
]

Grid = tuple[np.ndarray, np.ndarray]
"""``(x, y)`` pixel-centre coordinates of a patch, relative to the patch centre."""

NUCLEUS_KINDS: tuple[str, ...] = ("round", "indented", "bilobed", "multilobed", "folded")
"""Nuclear shapes: ``round`` is regular; the others are irregular."""


def make_grid(side: int) -> Grid:
    """Square patch grid of ``side`` pixels with the origin at its centre."""
    c = (side - 1) / 2.0
    ax = np.arange(side, dtype=np.float32) - c
    return ax[None, :].repeat(side, 0), ax[:, None].repeat(side, 1)


def coverage(sd: np.ndarray, soft: float = 1.0) -> np.ndarray:
    """Anti-aliased alpha of a signed distance (``soft`` pixels of transition)."""
    return np.clip(0.5 - sd / soft, 0.0, 1.0).astype(np.float32)


def sd_ellipse(g: Grid, cx: float, cy: float, a: float, b: float, angle: float = 0.0) -> np.ndarray:
    """Approximate signed distance to an ellipse with semi-axes ``a``, ``b`` rotated by ``angle`` rad."""
    x, y = g[0] - cx, g[1] - cy
    ca, sa = np.cos(angle), np.sin(angle)
    u, v = x * ca + y * sa, -x * sa + y * ca
    k = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    return ((k - 1.0) * min(a, b)).astype(np.float32)


def sd_wobbly(
    g: Grid,
    cx: float,
    cy: float,
    r: float,
    rng: np.random.Generator,
    amp: float,
    aspect: float = 1.0,
    harmonics: int = 5,
) -> np.ndarray:
    """Signed distance to a round outline whose radius varies with angle (relative amplitude ``amp``)."""
    x, y = (g[0] - cx) * aspect, g[1] - cy
    theta = np.arctan2(y, x)
    rad = np.ones_like(theta)
    for k in range(2, 2 + harmonics):
        rad += amp / k**0.7 * rng.normal() * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return (np.hypot(x, y) - r * rad).astype(np.float32)


def sd_segment(g: Grid, p: tuple[float, float], q: tuple[float, float], width: float) -> np.ndarray:
    """Signed distance to a capsule (thick segment) of full ``width`` from ``p`` to ``q``."""
    px, py = g[0] - p[0], g[1] - p[1]
    dx, dy = q[0] - p[0], q[1] - p[1]
    t = np.clip((px * dx + py * dy) / max(dx * dx + dy * dy, 1e-6), 0.0, 1.0)
    return (np.hypot(px - t * dx, py - t * dy) - width / 2.0).astype(np.float32)


def sd_union(*sds: np.ndarray) -> np.ndarray:
    """Union of shapes (pointwise minimum)."""
    out = sds[0]
    for s in sds[1:]:
        out = np.minimum(out, s)
    return out


def sd_subtract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shape ``a`` minus shape ``b``."""
    return np.maximum(a, -b)


def _lobes(g: Grid, rng: np.random.Generator, rn: float, n: int, cx: float, cy: float) -> np.ndarray:
    """``n`` lobes on a curved path joined by thin chromatin strands."""
    ang0 = rng.uniform(0, 2 * np.pi)
    span = rng.uniform(1.4, 2.4) * (n - 1) / 2.0
    rl = rn * (0.62 if n == 2 else 0.48)
    path_r = rn - rl * 0.9
    pts = []
    for i in range(n):
        t = ang0 + (i / max(n - 1, 1) - 0.5) * span
        jitter = rng.normal(0, 0.08 * rn, 2)
        pts.append((cx + path_r * np.cos(t) + jitter[0], cy + path_r * np.sin(t) + jitter[1]))
    shapes = [
        sd_ellipse(
            g, px, py, rl * rng.uniform(0.85, 1.05), rl * rng.uniform(0.7, 0.95), rng.uniform(0, np.pi)
        )
        for px, py in pts
    ]
    strand_w = max(1.0, 0.12 * rn) if n > 2 else max(1.2, 0.3 * rn)
    shapes += [sd_segment(g, pts[i], pts[i + 1], strand_w) for i in range(n - 1)]
    return sd_union(*shapes)


def nucleus_sd(
    g: Grid, kind: str, rn: float, rng: np.random.Generator, cx: float = 0.0, cy: float = 0.0
) -> np.ndarray:
    """Signed distance of a nucleus of the given ``kind`` and overall radius ``rn`` centred at (cx, cy).

    Args:
        g: patch grid.
        kind: one of :data:`NUCLEUS_KINDS`.
        rn: radius of the disk the nucleus roughly fills.
        rng: random generator for the shape's details.
        cx, cy: centre relative to the patch centre.
    """
    ang = rng.uniform(0, 2 * np.pi)
    if kind == "round":
        e = rng.uniform(0.9, 1.0)
        return sd_wobbly(g, cx, cy, rn, rng, 0.015, aspect=1.0 / e)
    if kind == "indented":
        base = sd_ellipse(g, cx, cy, rn, rn * rng.uniform(0.78, 0.92), ang)
        d = rn * rng.uniform(0.8, 0.95)
        notch = sd_ellipse(
            g, cx + d * np.cos(ang + np.pi / 2), cy + d * np.sin(ang + np.pi / 2), rn * 0.6, rn * 0.5, ang
        )
        return sd_subtract(base, notch)
    if kind == "folded":
        ca, sa = np.cos(ang), np.sin(ang)
        a = sd_ellipse(g, cx - 0.25 * rn * ca, cy - 0.25 * rn * sa, rn * 0.9, rn * 0.62, ang + 0.6)
        b = sd_ellipse(g, cx + 0.3 * rn * ca, cy + 0.3 * rn * sa, rn * 0.8, rn * 0.58, ang - 0.7)
        nx, ny = cx + 0.85 * rn * np.cos(ang + 1.9), cy + 0.85 * rn * np.sin(ang + 1.9)
        notch = sd_ellipse(g, nx, ny, rn * 0.5, rn * 0.35, ang)
        return sd_subtract(sd_union(a, b), notch)
    if kind == "bilobed":
        return _lobes(g, rng, rn, 2, cx, cy)
    if kind == "multilobed":
        return _lobes(g, rng, rn, int(rng.integers(3, 6)), cx, cy)
    raise ValueError(f"unknown nucleus kind {kind!r}; expected one of {', '.join(NUCLEUS_KINDS)}")
