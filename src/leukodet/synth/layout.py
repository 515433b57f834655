"""Field layout: what a synthetic field holds and where (classes, attributes, sizes, positions, seeds).

Planning is separate from painting so that labels (classes and attributes) can be sampled without drawing
pixels, with the very same code and random stream as a full render. Red cells come as singles, overlapping
clusters and rouleaux (stacks along a line); leukocyte-like objects never overlap each other and red cells
keep out of their centre.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .domains import SQUASH, DomainParams
from .leukocytes import wbc_radius
from .priors import sample_attributes, sample_class, sample_wbc_count

__all__ = ["PlannedObject", "FieldPlan", "plan_field", "REFERENCE_SIZE", "RBC_DIAMETER", "RBC_PER_FIELD"]

REFERENCE_SIZE: int = 640
"""Field size (px) at which the 100x object sizes below are given."""

RBC_DIAMETER: tuple[float, float] = (58.0, 4.0)
"""Mean and s.d. of a red cell's diameter (isotropic px) at 100x / 640 px."""

RBC_PER_FIELD: float = 75.0
"""Mean number of red cells in a 100x field (the LLD samples show about 60–90)."""

_CAPS = {"rbc": 3000, "platelet": 400, "speck": 800}


@dataclass(frozen=True)
class PlannedObject:
    """One object to draw. ``kind`` is ``wbc`` (any LLD class incl. None), ``rbc``, ``platelet`` or ``speck``;
    ``cx, cy`` are output-pixel centres, ``radius`` the isotropic radius, ``seed`` the painter's seed."""

    kind: str
    cx: float
    cy: float
    radius: float
    seed: int
    class_id: int | None = None
    attributes: dict[str, int | None] = field(default_factory=dict)


@dataclass
class FieldPlan:
    """Objects of one field in drawing order (red cells, platelets, debris, then leukocytes)."""

    size: int
    domain: DomainParams
    objects: list[PlannedObject]
    px: float | None = None
    """Pixels per reference (640-px) field pixel for the optics; ``None`` = ``size / 640``."""

    def wbcs(self) -> list[PlannedObject]:
        """The leukocyte-like (labelled LLD) objects."""
        return [o for o in self.objects if o.kind == "wbc"]


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _place_wbcs(rng: np.random.Generator, size: int, scale: float, af: float) -> list[PlannedObject]:
    """Leukocyte-like objects: class, attributes, radius, a non-overlapping position and a seed each."""
    out: list[PlannedObject] = []
    for _ in range(sample_wbc_count(rng, af)):
        cid = sample_class(rng)
        attrs = sample_attributes(rng, cid)
        r = wbc_radius(rng, attrs["cell_size"], scale) if cid != 0 else float(rng.uniform(27, 40) * scale)
        seed = _seed(rng)
        for _try in range(30):
            cx = rng.uniform(0.6 * r * SQUASH, size - 0.6 * r * SQUASH)
            cy = rng.uniform(0.6 * r, size - 0.6 * r)
            if all(np.hypot((cx - o.cx) / SQUASH, cy - o.cy) > 1.08 * (r + o.radius) for o in out):
                out.append(PlannedObject("wbc", float(cx), float(cy), r, seed, cid, attrs))
                break
    return out


def _rbc_positions(rng: np.random.Generator, size: int, d: float, n: int) -> np.ndarray:
    """``n`` red-cell centres: 60 % singles, 36 % in overlapping clusters, 4 % in rouleaux."""
    pts: list[tuple[float, float]] = []
    while len(pts) < n:
        u, c = rng.random(), rng.uniform(0, size, 2)
        if u < 0.6:
            pts.append((c[0], c[1]))
        elif u < 0.96:
            for _ in range(int(rng.integers(1, 3))):
                t, rho = rng.uniform(0, 2 * np.pi), d * rng.uniform(0.55, 0.95)
                pts.append((c[0] + rho * np.cos(t) * SQUASH, c[1] + rho * np.sin(t)))
                c = np.array(pts[-1])
        else:
            t, step = rng.uniform(0, 2 * np.pi), d * rng.uniform(0.28, 0.45)
            for k in range(int(rng.integers(3, 8))):
                pts.append((c[0] + k * step * np.cos(t) * SQUASH, c[1] + k * step * np.sin(t)))
    return np.array(pts[:n], np.float64)


def _place_small(
    rng: np.random.Generator,
    kind: str,
    size: int,
    n: int,
    dmin: float,
    dmax: float,
    wbcs: list[PlannedObject],
) -> list[PlannedObject]:
    """Red cells, platelets or specks, keeping their centres off leukocytes."""
    if kind == "rbc":
        pos = _rbc_positions(rng, size, (dmin + dmax) / 2, n)
        diam = rng.normal(dmin, dmax - dmin, n).clip(0.7 * dmin, 1.4 * dmin)
    else:
        pos = rng.uniform(0, size, (n, 2))
        diam = rng.uniform(dmin, dmax, n)
    keep = np.ones(n, bool)
    for o in wbcs:
        dist = np.hypot((pos[:, 0] - o.cx) / SQUASH, pos[:, 1] - o.cy)
        keep &= dist > o.radius + 0.55 * diam / 2
    seeds = rng.integers(0, 2**31 - 1, n)
    inside = (pos[:, 0] > -dmax) & (pos[:, 0] < size + dmax) & (pos[:, 1] > -dmax) & (pos[:, 1] < size + dmax)
    return [
        PlannedObject(kind, float(pos[i, 0]), float(pos[i, 1]), float(diam[i] / 2), int(seeds[i]))
        for i in np.nonzero(keep & inside)[0]
    ]


def plan_field(rng: np.random.Generator, domain: DomainParams, size: int) -> FieldPlan:
    """Sample the content of one square field of ``size`` px in ``domain`` (no pixels drawn).

    Args:
        rng: the field's random generator (consumed in a fixed order).
        domain: domain parameters (its magnification sets object scale and field area).
        size: field side in pixels.
    """
    s = size / REFERENCE_SIZE * domain.scale
    af = domain.area_factor
    wbcs = _place_wbcs(rng, size, s, af)
    n_rbc = min(_CAPS["rbc"], int(rng.poisson(RBC_PER_FIELD * af)))
    n_plt = min(_CAPS["platelet"], int(rng.poisson(5 * af)))
    n_spk = min(_CAPS["speck"], int(rng.poisson(30 * af)))
    mu, sd = RBC_DIAMETER
    objs = _place_small(rng, "rbc", size, n_rbc, mu * s, (mu + sd) * s, wbcs)
    objs += _place_small(rng, "platelet", size, n_plt, 6 * s, 12 * s, wbcs)
    objs += _place_small(rng, "speck", size, n_spk, 1.5 * s, 4.5 * s, wbcs)
    return FieldPlan(size, domain, objs + wbcs)
