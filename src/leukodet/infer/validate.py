"""Scoring a loaded detector on dataset records: ``leukodet val`` and the per-domain matrix (``leukodet domains``).

:func:`evaluate_records` is the one path from a :class:`~leukodet.infer.predictor.Detector` and records to the
figures of :func:`~leukodet.infer.evaluate.evaluate_detector`. :func:`domain_matrix` runs it for every model on every
domain subset of a split: the rows are the models (labelled by the domains they were trained on, when their
checkpoint says), the columns the test domains, so several models trained on different domains give the
train-domain × test-domain matrix of the paper's domain-shift study.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader

from ..config import PREDICT_CONF
from ..data.dataset import DetectionDataset
from ..data.sample import collate
from ..records.diagnostics import DataError
from ..records.schema import Dataset, ImageRecord
from ..records.sources import load_source
from .config import InferConfig
from .evaluate import evaluate_detector
from .predictor import Detector

__all__ = [
    "ALL",
    "UNKNOWN",
    "domain_matrix",
    "evaluate_records",
    "group_by_domain",
    "load_split",
    "matrix_markdown",
    "write_matrix",
]

ALL = "all"
"""Column of the whole split."""
UNKNOWN = "unknown"
"""Column of the images without a domain."""


def evaluate_records(
    det: Detector,
    records: Sequence[ImageRecord],
    ds: Dataset,
    *,
    cfg: InferConfig | None = None,
    conf_op: float = PREDICT_CONF,
    progress: bool = False,
) -> dict[str, Any]:
    """COCO + YOLOv5-style figures and the operating point of ``det`` on ``records`` of dataset ``ds``, at
    ``cfg`` (default: the evaluation protocol; its ``imgsz`` and ``batch`` size the loader)."""
    cfg = cfg or InferConfig.protocol()
    dataset = DetectionDataset(
        list(records), len(ds.classes), ds.attributes, det.input_size(cfg.imgsz), None, stain=det.stain
    )
    loader = DataLoader(dataset, batch_size=cfg.batch, collate_fn=collate)
    metrics = evaluate_detector(
        det,
        loader,
        list(records),
        ds.classes,
        cfg=cfg,
        conf_op=conf_op,
        dataset_attributes=ds.attributes,
        progress=progress,
    )
    return {"imgsz": dataset.imgsz, **metrics}


def load_split(data: str | Path, split: str) -> tuple[Dataset, list[ImageRecord]]:
    """The dataset at ``data`` and the records of its ``split``; a clear error naming the splits it has."""
    ds, _ = load_source(data)
    if split not in ds.splits:
        raise DataError(f"{data}: no split {split!r} (found: {', '.join(ds.splits)})")
    return ds, ds.split(split)


def group_by_domain(records: Sequence[ImageRecord]) -> dict[str, list[ImageRecord]]:
    """Records per domain name (``HCM_100x_C2``; :data:`UNKNOWN` for none), names sorted."""
    groups: dict[str, list[ImageRecord]] = {}
    for r in records:
        groups.setdefault(UNKNOWN if r.domain.is_empty() else r.domain.name, []).append(r)
    return dict(sorted(groups.items()))


def _row_label(det: Detector, weights: Path) -> str:
    """A model's row: the domains its training split had (checkpoint metadata), else its file name."""
    domains = det.metadata.get("data", {}).get("domains") or []
    return "+".join(domains) if domains else weights.name


def _cell(metrics: dict[str, Any], n_images: int) -> dict[str, Any]:
    op = metrics["operating_point"]
    return {
        "map50": metrics["map50"],
        "map50_95": metrics["map50_95"],
        "recall": op["recall"],
        "precision": op["precision"],
        "images": n_images,
        "boxes": sum(v.get("n_gt", 0) for v in metrics["per_class"].values()),
    }


def domain_matrix(
    weights: Sequence[str | Path],
    data: str | Path,
    *,
    split: str = "test",
    imgsz: int | None = None,
    batch: int = 8,
    conf_op: float = PREDICT_CONF,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """mAP50, mAP50-95 and the operating point of every model on every domain subset of ``split``.

    Returns ``{"split", "domains": [...], "rows": [{"model", "weights", "cells": {domain: {...}}}]}`` with a
    column per domain and :data:`ALL`.
    """
    if not weights:
        raise DataError("give at least one --weights")
    ds, records = load_split(data, split)
    cfg = InferConfig.protocol(imgsz=imgsz, batch=batch)
    columns = {**group_by_domain(records), ALL: records}
    rows = []
    for w in weights:
        det = Detector.load(w, device)
        cells = {
            name: _cell(
                evaluate_records(det, recs, ds, cfg=cfg, conf_op=conf_op, progress=progress), len(recs)
            )
            for name, recs in columns.items()
        }
        rows.append({"model": _row_label(det, Path(w)), "weights": str(w), "cells": cells})
    return {"data": str(data), "split": split, "domains": list(columns), "rows": rows}


def matrix_markdown(doc: dict[str, Any], key: str = "map50") -> str:
    """The matrix as a Markdown table of ``key`` (rows: models, columns: test domains)."""
    head = "| model (trained on) | " + " | ".join(doc["domains"]) + " |"
    rule = "|---" * (len(doc["domains"]) + 1) + "|"
    lines = [head, rule]
    for row in doc["rows"]:
        values = [f"{row['cells'][d][key]:.3f}" for d in doc["domains"]]
        lines.append(f"| {row['model']} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def write_matrix(doc: dict[str, Any], out: Path) -> list[Path]:
    """``out/domains.json`` (everything), ``out/domains.md`` (mAP50 and mAP50-95 tables), atomically."""
    import json

    from ..records.files import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    md = "## mAP50\n\n" + matrix_markdown(doc) + "\n## mAP50-95\n\n" + matrix_markdown(doc, "map50_95")
    paths = [out / "domains.json", out / "domains.md"]
    atomic_write_text(paths[0], json.dumps(doc, indent=1) + "\n")
    atomic_write_text(paths[1], md)
    return paths
