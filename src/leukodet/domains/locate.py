"""Patch in field: where a magnified view (e.g. a 100x patch) lies inside a wider field (e.g. 40x).

The patch → field homography comes from the same SIFT + ratio test + RANSAC estimate as a transfer, with
the same refusal thresholds (reprojection error measured in field pixels). The placement is the patch's
four corners mapped into the field (a quadrilateral, in leukodet's pixel-edge box convention), its
axis-aligned box, and the local scale (field pixels per patch pixel, ≈ 0.4 for 100x → 40x) and rotation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..records.files import atomic_write_text
from ..records.schema import Box
from .homography import Estimate, EstimateParams, estimate_homography, reliability_problem
from .images import read_rgb, write_png
from .overlay import OverlayContent, draw_overlay, image_outline
from .transfer import estimate_report

__all__ = ["LOCATE_SCHEMA", "Placement", "locate_patch", "run_locate"]

LOCATE_SCHEMA = "leukodet.locate/1"


@dataclass(frozen=True)
class Placement:
    """Where a patch lies in a field.

    Attributes:
        estimate: the patch → field estimate.
        problem: why the placement is refused, or ``None``.
        quad: the patch corners (top-left, top-right, bottom-right, bottom-left) in field pixels, 4×2
            (``None`` when no homography was found).
        patch_size: ``(width, height)`` of the patch.
        field_size: ``(width, height)`` of the field.
    """

    estimate: Estimate
    problem: str | None
    quad: np.ndarray | None
    patch_size: tuple[int, int]
    field_size: tuple[int, int]

    @property
    def accepted(self) -> bool:
        return self.problem is None

    @property
    def box(self) -> Box | None:
        """Axis-aligned box of :attr:`quad` (not clipped: it may extend past the field)."""
        if self.quad is None:
            return None
        (x1, y1), (x2, y2) = self.quad.min(axis=0), self.quad.max(axis=0)
        return (float(x1), float(y1), float(x2), float(y2))

    def to_dict(self, params: EstimateParams) -> dict[str, Any]:
        """The ``locate.json`` document."""
        w, h = self.patch_size
        doc: dict[str, Any] = {"schema": LOCATE_SCHEMA}
        doc.update(estimate_report(self.estimate, self.problem, params, (w / 2, h / 2)))
        doc["quad"] = None if self.quad is None else [[round(float(v), 3) for v in p] for p in self.quad]
        doc["box"] = None if self.box is None else [round(v, 3) for v in self.box]
        doc["patch_size"], doc["field_size"] = list(self.patch_size), list(self.field_size)
        return doc


def locate_patch(patch: np.ndarray, field: np.ndarray, params: EstimateParams | None = None) -> Placement:
    """Find the patch (RGB or grey array) inside the field; see :class:`Placement`."""
    params = params or EstimateParams()
    est = estimate_homography(patch, field, params)
    problem = reliability_problem(est, params)
    psize = (int(patch.shape[1]), int(patch.shape[0]))
    quad = image_outline(est.homography, *psize) if est.homography is not None else None
    if quad is None and problem is None:
        problem = "the patch's corners do not map to finite field points"
    return Placement(est, problem, quad, psize, (int(field.shape[1]), int(field.shape[0])))


def run_locate(
    patch: str | Path, field: str | Path, out: str | Path | None = None, params: EstimateParams | None = None
) -> dict[str, Any]:
    """Locate the patch image in the field image; with ``out``, write ``locate.json`` and
    ``locate_overlay.png`` there. Returns the ``locate.json`` document."""
    params = params or EstimateParams()
    patch_rgb, field_rgb = read_rgb(patch), read_rgb(field)
    place = locate_patch(patch_rgb, field_rgb, params)
    doc = place.to_dict(params)
    doc["patch"], doc["field"] = str(patch), str(field)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        title = (
            f"patch located: {place.estimate.inliers} inliers, RMSE {place.estimate.rmse_px:.2f} px"
            if place.accepted
            else f"REFUSED: {place.problem}"
        )
        content = OverlayContent(quad=place.quad, title=title, title_ok=place.accepted)
        write_png(out / "locate_overlay.png", draw_overlay(patch_rgb, field_rgb, content, place.estimate))
        atomic_write_text(out / "locate.json", json.dumps(doc, indent=1) + "\n")
    return doc
