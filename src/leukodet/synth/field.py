"""Field rendering: painting a planned field, composing optical density, exact boxes from instance masks.

Each object is painted on an isotropic patch, squashed horizontally by :data:`SQUASH` (LLD fields are 16:9
frames resized to a square), and its OD is added to the field. Its instance mask is the squashed coverage
``> 0.5`` clipped to the image, and its box is the exact tight bound of that mask in pixel-edge coordinates
(``x2 = last column + 1``). The domain's optics and camera are applied after composition (see
:mod:`leukodet.synth.domains` for what this does to box tightness).
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from leukodet.records.schema import Cell
from leukodet.records.vocab import LLD_CLASSES

from .artefacts import paint_artefact
from .cells import BACKGROUND_RGB, Patch, paint_platelet, paint_rbc, paint_speck
from .domains import SQUASH, degrade, domain_params
from .layout import FieldPlan, PlannedObject, plan_field
from .leukocytes import paint_wbc
from .priors import ATTRIBUTE_NAMES

__all__ = [
    "RBC_CLASS_ID",
    "PLATELET_CLASS_ID",
    "RenderedField",
    "paint_object",
    "render_plan",
    "render_field",
    "field_rng",
    "full_mask",
]

RBC_CLASS_ID: int = len(LLD_CLASSES)
"""Class index of red cells (``RBC``) when they are labelled: right after the 14 LLD classes."""

PLATELET_CLASS_ID: int = len(LLD_CLASSES) + 1
"""Class index of platelets (``Platelet``) when they are labelled."""


class RenderedField(NamedTuple):
    """A rendered field.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB.
        cells: every labellable object (LLD classes 0–13, then RBC = 14, Platelet = 15), LLD objects last.
        masks: for each cell, its boolean instance mask cropped to its box (shape ``(y2-y1, x2-x1)``).
    """

    image: np.ndarray
    cells: list[Cell]
    masks: list[np.ndarray]


def field_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Random generator of one field, derived from (seed, split, index) only."""
    code = sum((i + 1) * ord(ch) for i, ch in enumerate(split))
    return np.random.default_rng([int(seed), code, int(index)])


def paint_object(obj: PlannedObject) -> Patch:
    """Paint a planned object on its isotropic patch (uses only the object's own seed)."""
    rng = np.random.default_rng(obj.seed)
    if obj.kind == "rbc":
        return paint_rbc(rng, 2 * obj.radius)
    if obj.kind == "platelet":
        return paint_platelet(rng, 2 * obj.radius)
    if obj.kind == "speck":
        return paint_speck(rng, 2 * obj.radius)
    if obj.class_id == 0:
        return paint_artefact(rng, obj.radius)
    return paint_wbc(rng, int(obj.class_id or 0), obj.attributes, obj.radius)


def _squash(p: Patch) -> Patch:
    """Resize a patch horizontally by :data:`SQUASH`."""
    h, w = p.alpha.shape
    nw = max(1, int(round(w * SQUASH)))
    return Patch(
        cv2.resize(p.od, (nw, h), interpolation=cv2.INTER_AREA),
        cv2.resize(p.alpha, (nw, h), interpolation=cv2.INTER_AREA),
    )


def _compose(od: np.ndarray, obj: PlannedObject) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """Add one object's OD to the field; return its tight box and cropped mask (``None`` if invisible)."""
    p = _squash(paint_object(obj))
    ph, pw = p.alpha.shape
    x0, y0 = int(round(obj.cx - pw / 2.0)), int(round(obj.cy - ph / 2.0))
    H, W = od.shape[:2]
    ax0, ay0, ax1, ay1 = max(0, x0), max(0, y0), min(W, x0 + pw), min(H, y0 + ph)
    if ax1 <= ax0 or ay1 <= ay0:
        return None
    sub = (slice(ay0 - y0, ay1 - y0), slice(ax0 - x0, ax1 - x0))
    cur, add = od[ay0:ay1, ax0:ax1], p.od[sub]
    if obj.kind == "rbc":  # red cells partly hide each other: overlaps darken less than additively
        od[ay0:ay1, ax0:ax1] = np.maximum(cur, add) + 0.35 * np.minimum(cur, add)
    else:
        od[ay0:ay1, ax0:ax1] = cur + add
    m = p.alpha[sub] > 0.5
    ys, xs = np.nonzero(m)
    if len(xs) == 0:
        return None
    bx0, by0, bx1, by1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    return (ax0 + bx0, ay0 + by0, ax0 + bx1, ay0 + by1), m[by0:by1, bx0:bx1]


def _illumination(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth ±2 % background brightness variation."""
    low = rng.normal(0, 0.02, (6, 6)).astype(np.float32)
    return 1.0 + cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)


def render_plan(plan: FieldPlan, rng: np.random.Generator) -> RenderedField:
    """Draw a planned field and degrade it by its domain.

    Args:
        plan: the field's content (from :func:`plan_field`).
        rng: the field's generator, after planning (used for illumination and domain effects).
    """
    size = plan.size
    od = np.zeros((size, size, 3), np.float32)
    lld: list[tuple[Cell, np.ndarray]] = []
    other: list[tuple[Cell, np.ndarray]] = []
    for obj in plan.objects:
        res = _compose(od, obj)
        if res is None or obj.kind == "speck":
            continue
        box = tuple(float(v) for v in res[0])
        if obj.kind == "wbc":
            attrs = {a: obj.attributes.get(a) for a in ATTRIBUTE_NAMES}
            lld.append((Cell(box, int(obj.class_id or 0), attrs), res[1]))  # type: ignore[arg-type]
        else:
            cid = RBC_CLASS_ID if obj.kind == "rbc" else PLATELET_CLASS_ID
            na = {a: None for a in ATTRIBUTE_NAMES}
            other.append((Cell(box, cid, na), res[1]))  # type: ignore[arg-type]
    bg = np.array(BACKGROUND_RGB, np.float32)[None, None, :] * _illumination(rng, size)[..., None]
    rgb = bg * np.exp(-od)
    image = degrade(rgb, plan.domain, rng, plan.px)
    both = other + lld
    return RenderedField(image, [c for c, _ in both], [m for _, m in both])


def render_field(
    seed: int | np.random.Generator, domain: str = "HCM_100x_C2", size: int = 640
) -> RenderedField:
    """Render one synthetic field in memory.

    Args:
        seed: an integer seed or a ``numpy.random.Generator`` (the field's whole random stream).
        domain: LLD domain name, e.g. ``HCM_100x_C2``.
        size: side of the square field in pixels (object sizes scale with ``size / 640``).

    Returns:
        A :class:`RenderedField` (RGB image, cells with exact tight boxes, cropped instance masks).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    plan = plan_field(rng, domain_params(domain), size)
    return render_plan(plan, rng)


def full_mask(mask: np.ndarray, box: tuple[float, float, float, float], shape: tuple[int, int]) -> np.ndarray:
    """Expand a cropped instance mask to a full ``shape`` boolean image."""
    out = np.zeros(shape, bool)
    x1, y1, x2, y2 = (int(v) for v in box)
    out[y1:y2, x1:x2] = mask
    return out
