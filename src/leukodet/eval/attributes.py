"""Attribute metrics of ``leukodet val`` (spec §3.6 with decisions D9, D10, D24).

Model and dataset attributes are paired **by attribute name and value name**, never by index. Every
ground-truth cell with a valid (not "not applicable") value takes the detection of highest IoU among that
image's detections of any class (the authors' matching; per image, so correct for any batch size: D9); a cell
no detection overlaps counts as wrong (``n_unmatched``), as does a value the model does not know
(``unknown_values``) or an attribute the model lacks. Per dataset attribute: accuracy, balanced accuracy,
macro-F1 over the dataset's values and, for binary attributes, the F1 of the second value (the paper's
positive class: coarse, irregular, prominent, abundant, moderate, prominent). ``iou50`` restricts the rows to
matches with IoU ≥ 0.5 (D10).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..records.boxes import box_iou
from ..records.prediction import Prediction
from ..records.schema import AttributeSchema, ImageRecord

__all__ = ["AttributeRows", "match_cells", "collect_rows", "attribute_scores", "evaluate_attributes"]


@dataclass
class AttributeRows:
    """Per dataset attribute: true and predicted dataset value indices (``-1`` = wrong/none) and match IoUs."""

    true: dict[str, list[int]] = field(default_factory=dict)
    pred: dict[str, list[int]] = field(default_factory=dict)
    iou: dict[str, list[float]] = field(default_factory=dict)
    unknown_values: dict[str, set[str]] = field(default_factory=dict)


def _predicted_index(pred: Prediction, j: int, name: str, values: Sequence[str], rows: AttributeRows) -> int:
    calls = pred.attributes[j] if pred.attributes is not None else {}
    call = calls.get(name)
    if call is None:
        return -1
    if call.value not in values:
        rows.unknown_values.setdefault(name, set()).add(call.value)
        return -1
    return values.index(call.value)


def match_cells(record: ImageRecord, pred: Prediction) -> list[tuple[int, float]]:
    """Per ground-truth cell, its highest-IoU detection of any class and that IoU; ``(-1, 0.0)`` when no
    detection overlaps it (the spec's attribute matching, one image at a time)."""
    if not record.cells:
        return []
    gt = np.array([c.box for c in record.cells], dtype=np.float64)
    iou = box_iou(gt, pred.boxes) if len(pred) else np.zeros((len(gt), 0))
    out = []
    for row in iou:
        best = int(row.argmax()) if len(row) else -1
        best_iou = float(row[best]) if best >= 0 else 0.0
        out.append((best, best_iou) if best_iou > 0 else (-1, 0.0))
    return out


def collect_rows(
    records: Sequence[ImageRecord], schema: AttributeSchema, predictions: Sequence[Prediction]
) -> AttributeRows:
    """Match each valid ground-truth cell to its highest-IoU detection (any class), image by image."""
    rows = AttributeRows(
        {a.name: [] for a in schema}, {a.name: [] for a in schema}, {a.name: [] for a in schema}
    )
    for rec, pred in zip(records, predictions):
        for cell, (best, best_iou) in zip(rec.cells, match_cells(rec, pred)):
            for attr in schema:
                value = cell.attributes.get(attr.name)
                if value is None:
                    continue
                got = _predicted_index(pred, best, attr.name, attr.values, rows) if best >= 0 else -1
                rows.true[attr.name].append(int(value))
                rows.pred[attr.name].append(got)
                rows.iou[attr.name].append(best_iou)
    return rows


def attribute_scores(true: np.ndarray, pred: np.ndarray, k: int, iou: np.ndarray) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro-F1 (over values present in truth or prediction), binary F1."""
    n = len(true)
    out: dict[str, Any] = {"n": n, "n_unmatched": int((iou <= 0).sum())}
    if n == 0:
        return {**out, "accuracy": None, "balanced_accuracy": None, "macro_f1": None, "f1": None}
    recalls, f1s = [], {}
    for v in range(k):
        tp = int(((pred == v) & (true == v)).sum())
        fp, fn = int(((pred == v) & (true != v)).sum()), int(((pred != v) & (true == v)).sum())
        if (true == v).any():
            recalls.append(tp / (tp + fn))
        if tp + fp + fn:
            f1s[v] = 2 * tp / (2 * tp + fp + fn)
    out["accuracy"] = float((pred == true).mean())
    out["balanced_accuracy"] = float(np.mean(recalls))
    out["macro_f1"] = float(np.mean(list(f1s.values()))) if f1s else 0.0
    out["f1"] = float(f1s.get(1, 0.0)) if k == 2 else None
    return out


def _block(rows: AttributeRows, schema: AttributeSchema, min_iou: float) -> dict[str, dict[str, Any]]:
    block = {}
    for attr in schema:
        iou = np.array(rows.iou[attr.name], dtype=np.float64)
        keep = iou >= min_iou if min_iou > 0 else np.ones(len(iou), bool)
        true = np.array(rows.true[attr.name], dtype=np.int64)[keep]
        pred = np.array(rows.pred[attr.name], dtype=np.int64)[keep]
        block[attr.name] = attribute_scores(true, pred, len(attr.values), iou[keep])
        if min_iou > 0:
            block[attr.name]["n_unmatched"] = int((~keep).sum())
    return block


def _means(block: Mapping[str, Mapping[str, Any]]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "f1"):
        vals = [b[key] for b in block.values() if b.get(key) is not None]
        out[key] = float(np.mean(vals)) if vals else None
    return out


def evaluate_attributes(
    records: Sequence[ImageRecord], schema: AttributeSchema, predictions: Sequence[Prediction]
) -> dict[str, Any]:
    """``{"attributes", "attributes_iou50", "attributes_mean", "attributes_iou50_mean", "unknown_values"}``:
    one entry per dataset attribute in each block, fractions in [0, 1]."""
    rows = collect_rows(records, schema, predictions)
    full, iou50 = _block(rows, schema, 0.0), _block(rows, schema, 0.5)
    return {
        "attributes": full,
        "attributes_iou50": iou50,
        "attributes_mean": _means(full),
        "attributes_iou50_mean": _means(iou50),
        "unknown_values": {k: sorted(v) for k, v in sorted(rows.unknown_values.items())},
    }
