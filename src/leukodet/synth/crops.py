"""Single-cell crops: one leukocyte of a chosen class centred among red cells, for classifiers and benchmarks.

Uses the same painters, composition and domain effects as whole fields, at full 100x-equivalent scale on a
small canvas (the optics act as in a 640-px field).
"""

from __future__ import annotations

import numpy as np

from leukodet.records.schema import Cell

from .domains import SQUASH, domain_params
from .field import RenderedField, render_plan
from .layout import RBC_DIAMETER, FieldPlan, PlannedObject
from .leukocytes import wbc_radius
from .priors import sample_attributes

__all__ = ["render_crop", "crop_label"]


def _rbcs_around(rng: np.random.Generator, crop: int, r_wbc: float, s: float) -> list[PlannedObject]:
    """4–10 red cells placed around (not on) the central leukocyte."""
    out = []
    c = crop / 2.0
    for _ in range(int(rng.integers(4, 11))):
        d = rng.normal(RBC_DIAMETER[0], RBC_DIAMETER[1]) * s
        t = rng.uniform(0, 2 * np.pi)
        rho = r_wbc + d / 2 * rng.uniform(0.6, 1.3)
        out.append(
            PlannedObject(
                "rbc",
                c + rho * np.cos(t) * SQUASH,
                c + rho * np.sin(t),
                d / 2,
                int(rng.integers(0, 2**31 - 1)),
            )
        )
    return out


def render_crop(
    seed: int, class_id: int | None = None, domain: str = "HCM_100x_C2", crop: int = 88
) -> RenderedField:
    """Render a ``crop`` x ``crop`` field holding one leukocyte-like object at its centre.

    Args:
        seed: random seed of the crop.
        class_id: LLD class (0–13); ``None`` draws one uniformly (balanced classes).
        domain: LLD domain name.
        crop: canvas side in pixels (at the domain's magnification, 100x reference scale).

    Returns:
        A rendered field whose last cell is the central object (its attributes drawn from the class priors).
    """
    rng = np.random.default_rng([int(seed), 7919])
    params = domain_params(domain)
    s = params.scale
    cid = int(rng.integers(0, 14)) if class_id is None else int(class_id)
    attrs = sample_attributes(rng, cid)
    r = wbc_radius(rng, attrs["cell_size"], s) if cid != 0 else float(rng.uniform(27, 40) * s)
    jitter = rng.uniform(-2, 2, 2)
    wbc = PlannedObject(
        "wbc", crop / 2 + jitter[0], crop / 2 + jitter[1], r, int(rng.integers(0, 2**31 - 1)), cid, attrs
    )
    plan = FieldPlan(crop, params, _rbcs_around(rng, crop, r, s) + [wbc], px=1.0)
    return render_plan(plan, rng)


def crop_label(field: RenderedField) -> Cell:
    """The central object's cell (class and attributes) of a crop from :func:`render_crop`."""
    return field.cells[-1]
