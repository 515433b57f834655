"""Annotation transfer: carry one image's labels onto another view of the same area (another magnification,
microscope or camera) through a SIFT + RANSAC homography, or refuse when the mapping is not reliable.

:func:`transfer_labels` works in memory; :func:`run_transfer` reads the files, writes
``DIR/<target stem>.<ext>`` (the mapped labels in the source's format; only when accepted), ``DIR/transfer.json``
(the report, always) and ``DIR/transfer_overlay.png`` (the QA overlay, always). See docs/domains.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..records.diagnostics import Diagnostics
from ..records.files import atomic_write_text
from ..records.schema import Domain
from ..records.vocab import LLD_DOMAINS, domain_of
from .homography import Estimate, EstimateParams, estimate_homography, local_similarity, reliability_problem
from .images import read_rgb, write_png
from .labels import LABEL_SUFFIXES, ImageLabels, read_image_labels, write_image_labels
from .mapping import MIN_KEPT_FRACTION, MappedRecord, map_record
from .overlay import OverlayContent, draw_overlay, image_outline

__all__ = [
    "REPORT_SCHEMA",
    "REPORT_NAME",
    "OVERLAY_NAME",
    "TransferResult",
    "infer_domain",
    "transfer_labels",
    "estimate_report",
    "run_transfer",
]

REPORT_SCHEMA = "leukodet.transfer/1"
REPORT_NAME = "transfer.json"
OVERLAY_NAME = "transfer_overlay.png"


@dataclass(frozen=True)
class TransferResult:
    """Outcome of one transfer: the estimate, why it was refused (``None`` = accepted) and the mapped labels."""

    estimate: Estimate
    problem: str | None
    source: ImageLabels
    target_size: tuple[int, int]
    mapped: MappedRecord | None = None
    params: EstimateParams = field(default_factory=EstimateParams)

    @property
    def accepted(self) -> bool:
        return self.problem is None

    @property
    def target_labels(self) -> ImageLabels | None:
        """The mapped labels, in the source's vocabulary and format (``None`` when refused)."""
        if self.mapped is None:
            return None
        s = self.source
        return ImageLabels(self.mapped.record, s.classes, s.schema, s.fmt, s.names_from)


def infer_domain(image: Path) -> Domain:
    """The LLD domain named by the nearest of the image's (up to 4) folders, e.g. ``.../HCM_100x_C1/x.png``."""
    for folder in list(image.parents)[:4]:
        if folder.name in LLD_DOMAINS:
            return domain_of(folder.name)
    return Domain()


def transfer_labels(
    source: np.ndarray,
    target: np.ndarray,
    labels: ImageLabels,
    target_path: Path,
    *,
    params: EstimateParams | None = None,
    min_kept: float = MIN_KEPT_FRACTION,
    target_domain: Domain | None = None,
) -> TransferResult:
    """Estimate the source → target homography and, when reliable, map ``labels`` into the target image."""
    params = params or EstimateParams()
    est = estimate_homography(source, target, params)
    problem = reliability_problem(est, params)
    size = (int(target.shape[1]), int(target.shape[0]))
    if problem is not None or est.homography is None:
        return TransferResult(est, problem, labels, size, None, params)
    mapped = map_record(
        labels.record, est.homography, target_path, *size, domain=target_domain, min_kept=min_kept
    )
    return TransferResult(est, None, labels, size, mapped, params)


def _r(v: float, nd: int = 4) -> float | None:
    return round(float(v), nd) if np.isfinite(v) else None


def estimate_report(
    est: Estimate, problem: str | None, params: EstimateParams, at: tuple[float, float]
) -> dict[str, Any]:
    """The JSON keys describing an estimate (shared by transfer.json and locate.json)."""
    h = est.homography
    scale, rotation = local_similarity(h, at) if h is not None else (None, None)
    return {
        "accepted": problem is None,
        "reason": problem,
        "inliers": est.inliers,
        "inlier_ratio": round(est.inlier_ratio, 4),
        "reprojection_rmse_px": _r(est.rmse_px),
        "matches": est.matches,
        "keypoints": {"source": est.keypoints[0], "target": est.keypoints[1]},
        "homography": None if h is None else [[float(f"{v:.10g}") for v in row] for row in h],
        "model": est.model if h is not None else None,
        "scale": None if scale is None else _r(scale, 5),
        "rotation_deg": None if rotation is None else _r(rotation, 3),
        "thresholds": {
            "ratio": params.ratio,
            "ransac_px": params.ransac_px,
            "min_inliers": params.min_inliers,
            "max_rmse_px": params.max_rmse_px,
        },
    }


def _report(
    res: TransferResult, paths: dict[str, str], target_domain: Domain, min_kept: float
) -> dict[str, Any]:
    src = res.source.record
    doc: dict[str, Any] = {"schema": REPORT_SCHEMA}
    doc.update(estimate_report(res.estimate, res.problem, res.params, (src.width / 2, src.height / 2)))
    classes = res.source.classes
    mapped = res.mapped
    doc["dropped_boxes"] = [d.to_dict(classes) for d in mapped.dropped_boxes] if mapped else []
    doc["dropped_regions"] = [d.to_dict() for d in mapped.dropped_regions] if mapped else []
    doc["min_kept_fraction"] = min_kept
    doc["boxes"] = {
        "source": len(src.cells),
        "mapped": len(mapped.record.cells) if mapped else 0,
        "dropped": len(mapped.dropped_boxes) if mapped else 0,
    }
    if mapped is not None:
        regions = mapped.record.labeled_regions
        doc["labeled_regions"] = None if regions is None else [[round(v, 3) for v in r] for r in regions]
    doc["regions_in_labels"] = res.source.fmt in ("lld16", "coco")
    doc["format"] = res.source.fmt
    doc["classes"] = classes
    doc["names_from"] = res.source.names_from
    doc["source"] = {
        "image": paths["source_image"],
        "labels": paths["source_labels"],
        "size": [src.width, src.height],
    }
    doc["source"]["domain"] = src.domain.to_dict()
    doc["target"] = {
        "image": paths["target_image"],
        "size": list(res.target_size),
        "domain": target_domain.to_dict(),
    }
    return doc


def _overlay(source: np.ndarray, target: np.ndarray, res: TransferResult) -> np.ndarray:
    est, src = res.estimate, res.source.record
    quad = image_outline(est.homography, src.width, src.height) if est.homography is not None else None
    mapped = res.mapped
    title = (
        f"accepted: {est.inliers} inliers, RMSE {est.rmse_px:.2f} px; "
        f"{len(mapped.record.cells)} boxes mapped, {len(mapped.dropped_boxes)} dropped"
        if mapped is not None
        else f"REFUSED: {res.problem}"
    )
    content = OverlayContent(
        source_boxes=[c.box for c in src.cells],
        source_regions=list(src.labeled_regions or ()),
        target_boxes=[c.box for c in mapped.record.cells] if mapped else [],
        dropped_boxes=[d.mapped_box for d in mapped.dropped_boxes if d.mapped_box] if mapped else [],
        target_regions=list(mapped.record.labeled_regions or ()) if mapped else [],
        quad=quad,
        title=title,
        title_ok=mapped is not None,
    )
    return draw_overlay(source, target, content, est)


def run_transfer(
    source_image: str | Path,
    source_labels: str | Path,
    target_image: str | Path,
    out: str | Path,
    *,
    names: str | None = None,
    target_domain: str | None = None,
    params: EstimateParams | None = None,
    min_kept: float = MIN_KEPT_FRACTION,
    strict: bool = False,
) -> dict[str, Any]:
    """Transfer the labels of ``source_image`` onto ``target_image`` and write the outputs under ``out``.

    Returns the ``transfer.json`` document (with ``outputs``: the files written). When refused, only the
    report and the overlay are written (and a label file an earlier run left for this target is removed).
    """
    out, src_path, tgt_path = Path(out), Path(source_image), Path(target_image)
    labels = read_image_labels(source_labels, src_path, names, Diagnostics(strict=strict))
    if labels.record.domain.is_empty():
        labels = replace(labels, record=labels.record.with_(domain=infer_domain(src_path)))
    domain = domain_of(target_domain) if target_domain else infer_domain(tgt_path)
    source, target = read_rgb(src_path), read_rgb(tgt_path)
    res = transfer_labels(
        source, target, labels, tgt_path, params=params, min_kept=min_kept, target_domain=domain
    )
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    mapped_labels = res.target_labels
    if mapped_labels is not None:
        written = write_image_labels(mapped_labels, out)
    else:
        (out / f"{tgt_path.stem}{LABEL_SUFFIXES[labels.fmt]}").unlink(missing_ok=True)
    paths = {
        "source_image": str(src_path),
        "source_labels": str(source_labels),
        "target_image": str(tgt_path),
    }
    doc = _report(res, paths, domain, min_kept)
    write_png(out / OVERLAY_NAME, _overlay(source, target, res))
    doc["outputs"] = {
        "labels": [p.name for p in written],
        "report": REPORT_NAME,
        "overlay": OVERLAY_NAME,
    }
    atomic_write_text(out / REPORT_NAME, json.dumps(doc, indent=1) + "\n")
    return doc
