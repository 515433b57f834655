"""Leukocyte drawing: outline, nucleus shape, chromatin, nucleoli, cytoplasm, granules, vacuoles, Auer rods.

Appearance is driven by the 7 LLD attributes (size, chromatin, nuclear shape, nucleoli, cytoplasm amount,
basophilia, vacuoles) plus per-class type cues from :data:`CLASS_LOOKS` (cytoplasm hue, nucleus position,
granules, Golgi hof, peripheral basophilia, blebs, Auer rods) so that the class is visible independently of
the attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from leukodet.records.vocab import LLD_CLASSES

from .cells import OD_NUCLEUS, Patch, patch_side
from .shapes import Grid, coverage, make_grid, nucleus_sd, sd_ellipse, sd_segment, sd_union, sd_wobbly

__all__ = ["ClassLook", "CLASS_LOOKS", "wbc_radius", "nucleus_kind", "paint_wbc"]

_PINK = (0.10, 0.26, 0.13)
_GREY_BLUE = (0.28, 0.23, 0.12)
_SKY = (0.22, 0.16, 0.07)
_BLUE = np.array([1.0, 0.55, 0.08], np.float32)
"""Direction of cytoplasmic basophilia (RNA-rich cytoplasm absorbs red light)."""


@dataclass(frozen=True)
class ClassLook:
    """Type cues of one class, independent of its attributes.

    Attributes:
        cyto: base cytoplasm OD (hue group: pink granulocytic, grey-blue monocytic, sky-blue lymphoid).
        eccentric: typical nucleus offset as a fraction of the free room (0 central, 1 touching the edge).
        granules: granule style (``azurophil-few``, ``dust``, ``fine-pink``, ``coarse-azurophil``,
            ``eosinophil``, ``basophil``) or ``None``.
        outline: relative amplitude of the cell outline's irregularity.
        irregular: nucleus kinds used when the nuclear shape is irregular.
        hof: pale Golgi zone beside the nucleus; skirt: darker blue periphery; blebs: cytoplasmic blebs;
        auer: Auer rods.
    """

    cyto: tuple[float, float, float]
    eccentric: float = 0.2
    granules: str | None = None
    outline: float = 0.03
    irregular: tuple[str, ...] = ("indented", "folded", "bilobed")
    hof: bool = False
    skirt: bool = False
    blebs: bool = False
    auer: bool = False


CLASS_LOOKS: dict[str, ClassLook] = {
    "Myeloblast": ClassLook(_SKY, 0.15, "azurophil-few"),
    "Lymphoblast": ClassLook(_SKY, 0.7, None, 0.02, ("indented", "folded")),
    "Neutrophil": ClassLook(_PINK, 0.2, "fine-pink", 0.03, ("multilobed",)),
    "Atypical lymphocyte": ClassLook(_SKY, 0.5, None, 0.12, ("indented", "folded"), skirt=True),
    "Promonocyte": ClassLook(_GREY_BLUE, 0.3, "dust", 0.08, ("folded", "indented")),
    "Monoblast": ClassLook(_GREY_BLUE, 0.1, None, 0.05, ("indented", "folded"), blebs=True),
    "Lymphocyte": ClassLook(_SKY, 0.35, None, 0.02, ("indented",)),
    "Myelocyte": ClassLook(_PINK, 0.8, "fine-pink", 0.03, ("indented",), hof=True),
    "Abnormal promyelocyte": ClassLook(
        _PINK, 0.3, "coarse-azurophil", 0.04, ("bilobed", "folded"), auer=True
    ),
    "Monocyte": ClassLook(_GREY_BLUE, 0.3, None, 0.09, ("folded", "indented")),
    "Metamyelocyte": ClassLook(_PINK, 0.4, "fine-pink", 0.03, ("indented",)),
    "Eosinophil": ClassLook(_PINK, 0.2, "eosinophil", 0.03, ("bilobed",)),
    "Basophil": ClassLook(_PINK, 0.2, "basophil", 0.04, ("bilobed", "indented")),
}
"""Type cues per LLD class (class ``None`` is drawn by :mod:`leukodet.synth.artefacts`)."""

_GRANULES: dict[str, tuple[tuple[int, int], float, tuple[float, float, float], bool]] = {
    # style: ((count range), radius / cell radius, OD, also over the nucleus)
    "azurophil-few": ((6, 14), 0.05, (0.50, 0.95, 0.25), False),
    "dust": ((40, 80), 0.025, (0.30, 0.50, 0.18), False),
    "fine-pink": ((60, 120), 0.025, (0.08, 0.30, 0.16), False),
    "coarse-azurophil": ((60, 120), 0.05, (0.55, 1.00, 0.30), True),
    "eosinophil": ((90, 160), 0.065, (0.05, 0.60, 0.60), False),
    "basophil": ((25, 45), 0.075, (1.00, 1.30, 0.55), True),
}


def wbc_radius(rng: np.random.Generator, size_attr: int | None, scale: float) -> float:
    """Cell radius in isotropic pixels: small cells 54–62 px, large 68–82 px across at 100x / 640 px."""
    lo, hi = (34.0, 41.0) if size_attr == 1 else (27.0, 31.0)
    return float(rng.uniform(lo, hi) * scale)


def nucleus_kind(rng: np.random.Generator, class_name: str, shape_attr: int | None) -> str:
    """Nucleus kind: ``round`` when regular, else one of the class's irregular kinds."""
    kinds = CLASS_LOOKS[class_name].irregular if class_name in CLASS_LOOKS else ("indented",)
    k = kinds[int(rng.integers(len(kinds)))]
    return "round" if shape_attr != 1 else k


def _noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean unit-variance smooth noise of correlation length ``sigma`` px."""
    n = rng.standard_normal(shape).astype(np.float32)
    if sigma > 0.3:
        n = cv2.GaussianBlur(n, (0, 0), sigma)
    return n / max(float(n.std()), 1e-6)


def _chromatin(rng: np.random.Generator, shape: tuple[int, int], rn: float, coarse: bool) -> np.ndarray:
    """Nuclear density map: fine even stipple (open) or dark clumps with pale gaps (coarse)."""
    if coarse:
        z = _noise(rng, shape, max(0.8, 0.11 * rn))
        return 1.3 * (0.45 + 0.9 / (1.0 + np.exp(-2.5 * z)))
    z = _noise(rng, shape, 0.6)
    return 0.92 * (1.0 + 0.07 * z)


def _nucleoli(
    rng: np.random.Generator, g: Grid, nuc_sd: np.ndarray, rn: float, c: tuple[float, float]
) -> np.ndarray:
    """Factor map (<1 inside) of 1–3 pale, dark-rimmed nucleoli placed well inside the nucleus."""
    fac = np.ones_like(nuc_sd)
    side = nuc_sd.shape[0]
    for _ in range(int(rng.integers(1, 4))):
        rad = max(0.8, rn * rng.uniform(0.15, 0.22))
        for _try in range(20):
            px, py = c[0] + rng.uniform(-0.6, 0.6) * rn, c[1] + rng.uniform(-0.6, 0.6) * rn
            ix, iy = int(round(px + (side - 1) / 2)), int(round(py + (side - 1) / 2))
            if 0 <= ix < side and 0 <= iy < side and nuc_sd[iy, ix] < -(rad + 1.0):
                break
        else:
            continue
        sd = sd_ellipse(g, px, py, rad, rad * rng.uniform(0.75, 1.0), rng.uniform(0, np.pi))
        inside = coverage(sd)
        rim = np.exp(-((sd / max(0.7, 0.18 * rad)) ** 2))
        fac = np.minimum(fac, 1.0 - 0.62 * inside + 0.25 * rim * (1 - inside))
    return fac


def _granule_map(rng: np.random.Generator, region: np.ndarray, count: int, radius: float) -> np.ndarray:
    """Coverage map of ``count`` round granules of ``radius`` px placed uniformly inside ``region``."""
    ys, xs = np.nonzero(region > 0.5)
    out = np.zeros(region.shape, np.float32)
    if len(xs) == 0:
        return out
    idx = rng.integers(0, len(xs), count)
    np.add.at(out, (ys[idx], xs[idx]), 1.0)
    sig = max(0.5, radius * 0.7)
    out = cv2.GaussianBlur(out, (0, 0), sig) * (2 * np.pi * sig * sig)
    return 1.0 - np.exp(-1.6 * out)


def _outline(rng: np.random.Generator, g: Grid, r: float, look: ClassLook) -> np.ndarray:
    """Signed distance of the cell outline (wobbly disk, with blebs for monoblasts)."""
    sd = sd_wobbly(g, 0.0, 0.0, r, rng, look.outline, aspect=1.0 / rng.uniform(0.9, 1.0))
    if look.blebs:
        for _ in range(int(rng.integers(2, 5))):
            t = rng.uniform(0, 2 * np.pi)
            rb = r * rng.uniform(0.13, 0.2)
            sd = sd_union(sd, sd_ellipse(g, (r - 0.2 * rb) * np.cos(t), (r - 0.2 * rb) * np.sin(t), rb, rb))
    return sd


def _cytoplasm(
    rng: np.random.Generator, g: Grid, r: float, look: ClassLook, moderate: bool, nuc_c: tuple[float, float]
) -> np.ndarray:
    """Cytoplasm OD map ``(P, P, 3)``: class hue plus basophilia, with ground-glass texture, hof or skirt."""
    od = np.array(look.cyto, np.float32) * rng.uniform(0.85, 1.15) + _BLUE * (
        rng.uniform(0.40, 0.52) if moderate else rng.uniform(0.0, 0.06)
    )
    dens = 1.0 + 0.06 * _noise(rng, g[0].shape, 0.8)
    rr = np.hypot(g[0], g[1]) / r
    if look.skirt:
        dens = dens * (1.0 + 1.1 * np.clip((rr - 0.6) / 0.35, 0, 1))
    if look.hof:
        d = np.hypot(nuc_c[0], nuc_c[1]) + 1e-3
        hx, hy = -nuc_c[0] / d * 0.15 * r, -nuc_c[1] / d * 0.15 * r
        hof = coverage(sd_ellipse(g, hx, hy, 0.3 * r, 0.22 * r, np.arctan2(hy, hx)), 3.0)
        dens = dens * (1.0 - 0.6 * hof)
    return dens[..., None] * od[None, None, :]


def _vacuoles(rng: np.random.Generator, g: Grid, cell: np.ndarray, nuc: np.ndarray, r: float) -> np.ndarray:
    """Coverage map of 4–9 clear vacuoles in the cytoplasm (they may overlap the nucleus edge)."""
    out = np.zeros(cell.shape, np.float32)
    ys, xs = np.nonzero((cell > 0.9) & (nuc < 0.5))
    if len(xs) == 0:
        ys, xs = np.nonzero(cell > 0.9)
    c = (cell.shape[0] - 1) / 2.0
    for i in rng.integers(0, len(xs), int(rng.integers(4, 10))):
        rad = max(1.0, r * rng.uniform(0.1, 0.16))
        out = np.maximum(out, coverage(sd_ellipse(g, xs[i] - c, ys[i] - c, rad, rad * rng.uniform(0.8, 1.0))))
    return out * cell


def _auer(rng: np.random.Generator, g: Grid, r: float) -> np.ndarray:
    """Coverage of 1–4 Auer rods: thin needles, often in a bundle."""
    out = np.zeros(g[0].shape, np.float32)
    t0 = rng.uniform(0, 2 * np.pi)
    for _ in range(int(rng.integers(1, 5))):
        rho, t = r * rng.uniform(0.3, 0.65), t0 + rng.normal(0, 0.4)
        cx, cy = rho * np.cos(t), rho * np.sin(t)
        a, half = t + np.pi / 2 + rng.normal(0, 0.3), r * rng.uniform(0.18, 0.32)
        p, q = (cx - half * np.cos(a), cy - half * np.sin(a)), (cx + half * np.cos(a), cy + half * np.sin(a))
        out = np.maximum(out, coverage(sd_segment(g, p, q, max(1.0, 0.07 * r))))
    return out


def paint_wbc(
    rng: np.random.Generator, class_id: int, attributes: dict[str, int | None], radius: float
) -> Patch:
    """Paint one leukocyte of an LLD class (1–13) with the given attribute values.

    Args:
        rng: random generator of this cell.
        class_id: LLD class index (not 0; class ``None`` is drawn by ``paint_artefact``).
        attributes: ``{name: 0 | 1}`` for the 7 LLD attributes.
        radius: cell radius in isotropic pixels (see :func:`wbc_radius`).
    """
    name = LLD_CLASSES[class_id]
    look = CLASS_LOOKS[name]
    r = radius
    g = make_grid(patch_side(r))
    cell = coverage(_outline(rng, g, r, look))
    ratio = rng.uniform(0.58, 0.68) if attributes.get("cytoplasm") == 1 else rng.uniform(0.8, 0.88)
    rn = r * ratio
    room = max(0.0, r - rn - 1.5)
    t = rng.uniform(0, 2 * np.pi)
    off = room * min(1.0, max(0.0, look.eccentric + rng.normal(0, 0.1)))
    nc = (off * np.cos(t), off * np.sin(t))
    kind = nucleus_kind(rng, name, attributes.get("nuclear_shape"))
    nsd = nucleus_sd(g, kind, rn, rng, nc[0], nc[1])
    nuc = np.minimum(coverage(nsd), coverage(_outline(rng, g, r - 1.5, look)) if kind != "round" else cell)
    nuc = np.minimum(nuc, cell)
    dens = _chromatin(rng, nuc.shape, rn, attributes.get("nuclear_chromatin") == 1)
    if attributes.get("nucleoli") == 1:
        dens = dens * _nucleoli(rng, g, nsd, rn, nc)
    nuc_od = dens[..., None] * np.array(OD_NUCLEUS, np.float32)[None, None, :]
    cyto_od = _cytoplasm(rng, g, r, look, attributes.get("cytoplasmic_basophilia") == 1, nc)
    cyto_a = cell * (1.0 - nuc)
    od = cyto_a[..., None] * cyto_od + nuc[..., None] * nuc_od
    if attributes.get("cytoplasmic_vacuoles") == 1:  # clear, refractile holes with a dark rim
        hole = _vacuoles(rng, g, cell, nuc, r)
        rim = np.clip(cv2.GaussianBlur(hole, (0, 0), 1.0) - hole, 0, 1) * 2.0
        od = od * (1.0 - hole[..., None]) - 0.1 * hole[..., None] + 0.35 * rim[..., None]
    od = _add_granules(rng, od, look, cell, cyto_a, r)
    if look.auer:
        od = od + (cell * _auer(rng, g, r))[..., None] * np.array([0.5, 1.1, 0.4], np.float32)[None, None, :]
    return Patch(od.astype(np.float32), cell)


def _add_granules(
    rng: np.random.Generator, od: np.ndarray, look: ClassLook, cell: np.ndarray, cyto: np.ndarray, r: float
) -> np.ndarray:
    """Overlay the class's granules (if any) on the cell's OD."""
    if look.granules is None:
        return od
    (lo, hi), rel, gcol, over_nucleus = _GRANULES[look.granules]
    region = cell if over_nucleus else cyto
    gm = _granule_map(rng, region, int(rng.integers(lo, hi + 1)), max(0.5, rel * r)) * cell
    col = np.array(gcol, np.float32)[None, None, :]
    if over_nucleus:
        return od + gm[..., None] * col * 0.8
    return od * (1.0 - 0.6 * gm[..., None]) + gm[..., None] * col
