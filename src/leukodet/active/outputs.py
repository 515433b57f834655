"""The outputs of a proposal run: a leukodet COCO dataset to review and train on, and ``proposals.json``.

``OUT/data.yaml`` + ``OUT/annotations/train.json`` + ``OUT/images/train/<field>`` is leukodet's own dataset
layout (:func:`leukodet.records.io.write_dataset`, format ``coco``, as ``leukodet sparsify`` and the service's
COCO export write it): every field has its proposed rectangle as its one labelled region and, as boxes, the
model's detections whose centre lies inside it (pre-filled candidates for the person who labels the patch:
**model output, not labels**, until reviewed). ``OUT/proposals.json`` (format :data:`PROPOSALS_FORMAT`) lists per
field the rectangle, the score's name, its value and the runner-up value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..records.files import atomic_write_text
from ..records.io import write_dataset
from ..records.prediction import Prediction
from ..records.schema import AttributeSchema, Box, Cell, Dataset, ImageRecord
from ..records.sparsify import restrict_to_region

__all__ = ["PROPOSALS_FORMAT", "SPLIT", "Proposal", "candidate_cells", "field_record", "write_outputs"]

PROPOSALS_FORMAT = "leukodet.proposals/1"
"""The ``format`` of ``proposals.json``."""

SPLIT = "train"
"""The split the proposed fields are written to (``leukodet train --data OUT/data.yaml`` reads it)."""


@dataclass(frozen=True)
class Proposal:
    """The proposed patch of one field.

    Attributes:
        region: absolute-pixel ``(x1, y1, x2, y2)``.
        score: the acquisition score's name.
        value: the score of ``region`` (``None`` for ``random``).
        runner_up: the best window score once the cells counted in ``region`` are taken out (what a second
            patch of the field could still gain; ``None`` for ``random``).
        fallback: the model gave this field no score anywhere, so ``region`` is ``random``'s.
    """

    region: Box
    score: str
    value: float | None
    runner_up: float | None
    fallback: bool = False


def candidate_cells(pred: Prediction, schema: AttributeSchema) -> tuple[Cell, ...]:
    """Every detection of ``pred`` as a :class:`Cell`, with its attribute calls as value indices (a value the
    schema does not name, or a missing call, is "not applicable")."""
    cells = []
    for i in range(len(pred)):
        calls = pred.attributes[i] if pred.attributes is not None else {}
        attrs: dict[str, int | None] = {}
        for attr in schema:
            call = calls.get(attr.name)
            attrs[attr.name] = attr.values.index(call.value) if call and call.value in attr.values else None
        box = tuple(float(v) for v in pred.boxes[i])
        cells.append(Cell((box[0], box[1], box[2], box[3]), int(pred.class_ids[i]), attrs))
    return tuple(cells)


def field_record(path: Path, pred: Prediction, region: Box, schema: AttributeSchema) -> ImageRecord:
    """The field's record: ``region`` as its labelled region, the detections centred inside as its boxes."""
    rec = ImageRecord(Path(path), int(pred.width), int(pred.height), SPLIT, candidate_cells(pred, schema))
    return restrict_to_region(rec, region)


def _entry(rec: ImageRecord, source: str, proposal: Proposal) -> dict[str, Any]:
    """One field's line of ``proposals.json``."""
    return {
        "image": f"images/{SPLIT}/{rec.path.name}",
        "source": source,
        "width": rec.width,
        "height": rec.height,
        "region": [float(v) for v in proposal.region],
        "score": proposal.score,
        "value": proposal.value,
        "runner_up": proposal.runner_up,
        "fallback": proposal.fallback,
        "candidates": len(rec.cells),
    }


def write_outputs(
    out: Path,
    fields: Sequence[tuple[str, ImageRecord, Proposal]],
    classes: Sequence[str],
    schema: AttributeSchema,
    run: Mapping[str, Any],
) -> dict[str, Any]:
    """Write the dataset and then ``proposals.json`` (atomically, last) under ``out``; returns the document.

    Args:
        fields: per proposed field ``(source as given, record, proposal)``.
        classes: the model's class names; ``schema``: its attribute vocabulary.
        run: the run's settings and skipped fields, stored at the top of the document.
    """
    ds = Dataset([rec for _, rec, _ in fields], list(classes), schema)
    data = write_dataset(ds, out, "coco")
    doc: dict[str, Any] = {"format": PROPOSALS_FORMAT, **run, "data": data.name}
    doc["images"] = [_entry(rec, source, proposal) for source, rec, proposal in fields]
    atomic_write_text(out / "proposals.json", json.dumps(doc, indent=1) + "\n")
    return doc
