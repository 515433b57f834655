"""One film, end to end: its predicted fields → morphology bank → report document → three files.

A film is the set of field-of-view images given together (the paper's "blood film-level description"). The
fields come predicted (:func:`leukodet.infer.fields.predict_fields`); this layer never runs a model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import PREDICT_CONF
from ..records.prediction import FieldPrediction
from .bank import bank_from_fields
from .document import build_report, model_info
from .flags import RuleSet
from .writers import write_report

__all__ = ["film_report"]


def film_report(
    fields: Iterable[FieldPrediction],
    out: str | Path,
    *,
    metadata: Mapping[str, Any],
    schema: Mapping[str, Sequence[str]] | None,
    weights: str | Path | None,
    conf: float = PREDICT_CONF,
    rules: RuleSet | None = None,
    roles: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Build the report of a film's predicted fields and write ``out/report.{json,html,md}``.

    Args:
        fields: the film's fields with their predictions (read lazily, one at a time).
        out: output folder (created if needed; the three report files are replaced).
        metadata: the checkpoint's metadata (classes, roles, training data).
        schema: the attributes the model predicts (``Detector.attributes``; ``None``: read off the predictions).
        weights: the checkpoint path, reported by file name.
        conf: keep detections with ``score >= conf``.
        rules: flag rules (default: the packaged defaults).
        roles: ``{class: role}`` over the checkpoint's class roles.

    Returns:
        The report document (what ``report.json`` holds).
    """
    bank = bank_from_fields(fields, conf, metadata=metadata, schema=schema, roles=roles)
    doc = build_report(bank, model_info(metadata, weights, bank.classes, bank.attributes), rules)
    write_report(doc, bank, out)
    return doc
