"""One film, end to end: detector on every field → morphology bank → report document → three files.

A film is the set of field-of-view images given together (the paper's "blood film-level description").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import PREDICT_CONF
from .bank import PredictorLike, build_bank
from .document import build_report, model_info
from .flags import RuleSet
from .writers import write_report

__all__ = ["film_report"]


def film_report(
    detector: PredictorLike,
    fields: Sequence[str | Path],
    out: str | Path,
    *,
    weights: str | Path | None,
    conf: float = PREDICT_CONF,
    imgsz: int | None = None,
    rules: RuleSet | None = None,
    progress: bool = False,
    roles: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Predict every field, build the report and write ``out/report.{json,html,md}``.

    Args:
        detector: a loaded detector (``predict`` + checkpoint ``metadata``).
        fields: the film's field images.
        out: output folder (created if needed; the three report files are replaced).
        weights: the checkpoint path, reported by file name.
        conf: keep detections with ``score >= conf``.
        imgsz: network size (default: the checkpoint's).
        rules: flag rules (default: the packaged defaults).
        progress: a progress bar on stderr.
        roles: ``{class: role}`` over the checkpoint's class roles.

    Returns:
        The report document (what ``report.json`` holds).
    """
    bank = build_bank(detector, fields, conf, imgsz=imgsz, progress=progress, roles=roles)
    doc = build_report(bank, model_info(detector.metadata, weights, bank.classes, bank.attributes), rules)
    write_report(doc, bank, out)
    return doc
