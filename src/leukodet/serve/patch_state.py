"""The labelling state of a field, derived from the model's report and the audit log: its patch and its boxes.

Each field has one *patch*, the rectangle a reviewer labels completely (a sparse training set's labelled region).
Until a reviewer moves or draws it, the patch is the one the package's proposal code proposes
(:func:`leukodet.active.propose.propose_region`, area fraction :data:`FRACTION`, score :data:`SCORE`). The
service keeps only the model's detections (box, class, confidence), not its per-class probabilities, so the
score is ``unsure`` (``1 - |2 conf - 1|`` per cell: cells the model is least sure of), computed from the stored
cells; ``entropy``, ``propose``'s default, needs the network's raw output (docs/active.md). A field whose cells
give no score gets ``leukodet sparsify``'s random rectangle for seed 0 and the image's stem.

The *boxes* of a field are the model's cells (their current class after the review, their box as resized) and
the boxes a reviewer added, each with what happened to it (:class:`LabelBox`). Everything is replayed from the
log's rows in force (:mod:`.labels`), so an ``undo`` needs no special case here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import numpy as np

from ..active.outputs import Proposal
from ..active.propose import propose_region
from ..active.scores import FieldEvidence
from ..records.prediction import Prediction
from .audit import AuditEntry
from .labels import entry_field, in_force, is_report_row

__all__ = ["FRACTION", "SCORE", "FieldLabels", "LabelBox", "analysis_labels", "inside", "proposed_patch"]

FRACTION = 0.2
"""Area fraction of a proposed patch (``leukodet propose --fraction``'s default)."""

SCORE = "unsure"
"""The acquisition score of the proposed patch: ``unsure``, the one the stored predictions allow (no per-class
probabilities are kept, which ``entropy`` needs)."""


def inside(box: Sequence[float], region: Sequence[float]) -> bool:
    """Whether the centre of ``box`` lies in ``region`` (borders included: ``restrict_to_region``'s rule)."""
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    return bool(region[0] <= cx <= region[2] and region[1] <= cy <= region[3])


@dataclass
class LabelBox:
    """One box of a field as the reviewer left it.

    Attributes:
        id: the model cell's id (``0 .. n - 1``), or ``n + k`` for the ``k``-th box added in the analysis.
        box: ``[x1, y1, x2, y2]`` now (resized or not). class_: its class now.
        source: ``model`` or ``added``. model_box, model_class: the model's, for a model cell.
        score: the model's confidence (``None`` for an added box).
        reviewed: a report row in force touches it (confirmed, reclassified, attribute set, rejected).
        rejected: a model cell whose last class change in force is ``not_wbc`` (the page's reject).
        resized: its box was changed. removed: an added box rejected (drawn no more, never exported).
    """

    id: int
    field: int
    box: list[float]
    class_: str
    source: str
    model_box: list[float] | None = None
    model_class: str | None = None
    score: float | None = None
    reviewed: bool = False
    rejected: bool = False
    resized: bool = False
    removed: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_json(self, region: Sequence[float]) -> dict[str, Any]:
        keys = ("id", "box", "source", "model_box", "model_class", "score", "reviewed", "rejected", "resized")
        out = {k: getattr(self, k) for k in keys}
        return {**out, "class": self.class_, "in_patch": inside(self.box, region)}


@dataclass
class FieldLabels:
    """The labelling state of one field (see the module docstring)."""

    index: int
    image: str
    width: int
    height: int
    proposal: Proposal | None
    region: list[float]
    origin: str = "proposed"
    complete: bool = False
    completed: dict[str, str] | None = None
    boxes: dict[int, LabelBox] = field(default_factory=dict)
    rows: list[int] = field(default_factory=list)

    def live(self) -> list[LabelBox]:
        """The boxes drawn (added boxes that were rejected left out), by id."""
        return [b for _, b in sorted(self.boxes.items()) if not b.removed]

    def to_json(self) -> dict[str, Any]:
        p = self.proposal
        if p is None:
            raise ValueError(f"field {self.index}'s state was derived without its proposal")
        proposal = {"region": list(p.region), "score": p.score, "value": p.value, "fraction": FRACTION}
        return {
            "field": self.index,
            "image": self.image,
            "width": self.width,
            "height": self.height,
            "patch": {"region": self.region, "origin": self.origin, "complete": self.complete},
            "completed": self.completed,
            "proposal": {**proposal, "runner_up": p.runner_up, "fallback": p.fallback},
            "boxes": [b.to_json(self.region) for b in self.live()],
            "can_undo": bool(self.rows),
        }


def proposed_patch(cells: Sequence[Mapping[str, Any]], info: Mapping[str, Any]) -> Proposal:
    """The proposed patch of the field ``info`` (a report ``fields`` entry) from its model ``cells``."""
    names = sorted({str(c["class"]) for c in cells}) or ["cell"]
    pred = Prediction(
        np.array([c["box"] for c in cells], np.float64).reshape(-1, 4),
        np.array([c["score"] for c in cells], np.float64),
        np.array([names.index(str(c["class"])) for c in cells], np.int64),
        tuple(names),
    )
    width, height = int(info["width"]), int(info["height"])
    key = PurePath(str(info["image"])).stem
    return propose_region(SCORE, FieldEvidence(pred), width, height, FRACTION, seed=0, key=key)


def _fields(
    original: Mapping[str, Any], only: Collection[int] | None, propose: bool
) -> dict[int, FieldLabels]:
    """The fields (``only`` those, if given) with their model cells as boxes and, with ``propose``, their
    proposed patch (else no proposal, and no region until a patch row gives one)."""
    out = {}
    for info in original["fields"]:
        n = int(info["index"])
        if only is not None and n not in only:
            continue
        cells = [c for c in original["cells"] if c["field"] == n]
        proposal = proposed_patch(cells, info) if propose else None
        region = [float(v) for v in proposal.region] if proposal is not None else []
        state = FieldLabels(n, info["image"], int(info["width"]), int(info["height"]), proposal, region)
        for c in cells:
            box = [float(v) for v in c["box"]]
            state.boxes[c["id"]] = LabelBox(
                c["id"], n, box, c["class"], "model", list(box), c["class"], float(c["score"]),
                attributes={k: dict(v) for k, v in c["attributes"].items()},
            )  # fmt: skip
        out[n] = state
    return out


def _apply_box_row(box: LabelBox, entry: AuditEntry, model_cell: bool) -> None:
    """One row in force on a box."""
    if entry.action == "resize":
        box.box, box.resized = [float(v) for v in entry.after], True
    elif entry.action == "reject" and not model_cell:
        box.removed = True
    elif entry.field == "class":
        box.class_ = str(entry.after)
        box.rejected = entry.action == "not_wbc"
    elif entry.field.startswith("attributes."):
        box.attributes[entry.field.split(".", 1)[1]] = {"value": entry.after, "score": None}
    if model_cell and entry.action in ("reclassify", "attribute", "not_wbc", "confirm"):
        box.reviewed = True


def _apply_patch_row(state: FieldLabels, entry: AuditEntry) -> None:
    if entry.action in ("patch_move", "patch_draw"):
        state.region = [float(v) for v in entry.after]
        state.origin = "moved" if entry.action == "patch_move" else "drawn"
    elif entry.action == "patch_complete" and isinstance(entry.after, Mapping):
        state.region = [float(v) for v in entry.after["region"]]
        state.complete = True
        state.completed = {"reviewer": entry.reviewer, "time": entry.time}


def analysis_labels(
    original: Mapping[str, Any],
    log: Sequence[AuditEntry],
    only: Collection[int] | None = None,
    propose: bool = True,
) -> dict[int, FieldLabels]:
    """The labelling state of every field (``only`` those, if given) of the analysis whose model report is
    ``original``; ``propose=False`` skips the window search (a complete patch's region is in its row)."""
    states = _fields(original, only, propose)
    n_cells = len(original["cells"])
    added: dict[int, int] = {}
    for i, entry in in_force(log):
        where = entry_field(entry, original["cells"], added)
        if entry.action == "box_add" and where is not None:
            added[entry.cell] = where
        if where is None or where not in states:
            continue
        state = states[where]
        state.rows.append(i)
        if entry.action == "box_add" and isinstance(entry.after, Mapping):
            box = [float(v) for v in entry.after["box"]]
            state.boxes[entry.cell] = LabelBox(entry.cell, where, box, str(entry.after["class"]), "added")
        elif entry.cell < 0:
            _apply_patch_row(state, entry)
        elif entry.cell in state.boxes:
            _apply_box_row(state.boxes[entry.cell], entry, is_report_row(entry, n_cells))
    return states
