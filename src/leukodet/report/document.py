"""The film report as one JSON-ready document (schema ``leukodet.report/2``), from which every page is written.

Top-level keys: ``schema``, ``generated_by``, ``created``, ``disclaimer``, ``model``, ``threshold``, ``fields``,
``skipped_fields`` (fields that could not be read: left out of every count), ``differential``, ``smear``, ``flags``, ``attributes``, ``text``, ``cells`` (see docs/report.md for each key).
Every class has a role (``model.roles``, :mod:`leukodet.records.roles`): only ``wbc`` classes enter the
differential, flags and morphology; red cells and platelets are counted per field (``smear``). Every key
is present on an empty film (no cell above the threshold): counts 0, percentages and intervals null, text
``"no WBC found"``.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..records.roles import ARTEFACT, OTHER, PLATELET, RBC, WBC
from .bank import MorphologyBank, ordered_schema
from .differential import differential
from .flags import RuleSet, evaluate_flags, load_rules
from .morphology import morphology
from .smear import smear_counts
from .text import class_summary, film_text, smear_text

__all__ = ["DISCLAIMER", "SCHEMA", "build_report", "model_info"]

SCHEMA = "leukodet.report/2"
"""Version 2: class roles (``model.roles``, per-cell ``role``, per-field role counts, ``smear``,
``differential.apart`` in place of ``none_class``/``none_count``)."""

DISCLAIMER = (
    "Decision support only, not a diagnosis. These counts, flags and descriptions were produced automatically "
    "by a machine-learning model, which can miss, misclassify or invent cells and was trained on the data named "
    "in this report. Every finding must be checked on the film by a qualified person before any clinical use."
)


def model_info(
    metadata: Mapping[str, Any] | None,
    weights: str | Path | None,
    classes: Sequence[str] = (),
    attributes: Mapping[str, Sequence[str]] | None = None,
    roles: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``model`` section: weights file name, classes and their roles, attributes, training-data summary,
    versions.

    Args:
        metadata: a checkpoint's metadata (``Detector.metadata``), or ``None`` for predictions made elsewhere.
        weights: the checkpoint path (only its file name is reported), or ``None``.
        classes: the vocabulary to report when ``metadata`` is ``None``.
        attributes: the attributes the model predicts (default: the metadata's schema).
        roles: the role of each class (the bank's, which resolved them).
    """
    meta = dict(metadata or {})
    data = meta.get("data") or {}
    training = {k: data.get(k) for k in ("source", "train_images", "train_boxes", "val_images")}
    schema = attributes if attributes is not None else meta.get("attributes") or {}
    return {
        "weights": None if weights is None else Path(weights).name,
        "name": (meta.get("model_config") or {}).get("name"),
        "classes": list(meta.get("classes") or classes),
        "roles": list(roles),
        "attributes": {k: list(v) for k, v in ordered_schema(schema).items()},
        "imgsz": meta.get("imgsz"),
        "recipe": meta.get("recipe"),
        "training_data": training,
        "leukodet": meta.get("leukodet"),
    }


def _fields_json(bank: MorphologyBank) -> list[dict[str, Any]]:
    """Per field: kept cells, and how many of each role (``apart``: artefacts and other objects)."""
    kept = Counter(c.field for c in bank.cells)
    by_role = Counter((c.field, bank.role(c.class_name)) for c in bank.cells)
    return [
        {
            "index": i,
            "image": f.image,
            "width": f.width,
            "height": f.height,
            "cells": kept[i],
            "wbc": by_role[i, WBC],
            "rbc": by_role[i, RBC],
            "platelets": by_role[i, PLATELET],
            "apart": by_role[i, ARTEFACT] + by_role[i, OTHER],
        }
        for i, f in enumerate(bank.fields)
    ]


def _cells_json(bank: MorphologyBank) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "field": c.field,
            "image": bank.fields[c.field].image,
            "box": list(c.box),
            "class": c.class_name,
            "role": bank.role(c.class_name),
            "score": c.score,
            "attributes": {k: {"value": v, "score": s} for k, (v, s) in c.attributes.items()},
        }
        for i, c in enumerate(bank.cells)
    ]


def build_report(
    bank: MorphologyBank,
    model: Mapping[str, Any],
    rules: RuleSet | None = None,
    created: _dt.datetime | None = None,
) -> dict[str, Any]:
    """The report document of a film.

    Args:
        bank: the film's morphology bank.
        model: the ``model`` section (:func:`model_info`).
        rules: flag rules (default: the packaged defaults).
        created: report time (default: now, UTC).
    """
    diff = differential(bank)
    morph = morphology(bank)
    smear = smear_counts(bank)
    flags = evaluate_flags(rules or load_rules(), diff, bank.wbc_classes)
    attributes = morph.to_json()
    for cls, entry in attributes["by_class"].items():
        majority = {t.name: t.majority for t in morph.by_class[cls] if t.majority is not None}
        entry["summary"] = class_summary(cls, morph.class_n[cls], majority)
    when = created or _dt.datetime.now(_dt.timezone.utc)
    return {
        "schema": SCHEMA,
        "generated_by": f"leukodet {__version__}",
        "created": when.isoformat(timespec="seconds"),
        "disclaimer": DISCLAIMER,
        "model": {**model, "roles": list(bank.roles)},
        "threshold": bank.threshold,
        "fields": _fields_json(bank),
        "skipped_fields": [{"image": image, "reason": reason} for image, reason in bank.skipped],
        "differential": diff.to_json(),
        "smear": smear.to_json(),
        "flags": flags.to_json(),
        "attributes": attributes,
        "text": film_text(diff, morph, len(bank.fields), smear_text(smear)),
        "cells": _cells_json(bank),
    }
