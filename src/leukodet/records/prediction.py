"""Detections of one image as plain numpy data: what the engine produces and the evaluator scores.

Boxes are absolute-pixel xyxy in the original image; class ids index the *model's* vocabulary
(``class_names``), which the evaluator maps onto a dataset's classes by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from leukodet.records.boxes import as_boxes

__all__ = ["AttributeCall", "FieldPrediction", "Prediction"]


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


class AttributeCall(NamedTuple):
    """One predicted attribute of one cell: the value name and its probability (``None`` when unknown)."""

    value: str
    score: float | None = None


def _as_call(value: Any) -> AttributeCall:
    """Accept an :class:`AttributeCall`, a ``{"value", "score"}`` mapping or a bare value name."""
    if isinstance(value, AttributeCall):
        return value
    if isinstance(value, Mapping):
        score = value.get("score")
        return AttributeCall(str(value["value"]), None if score is None else float(score))
    if isinstance(value, tuple) and len(value) == 2:
        return AttributeCall(str(value[0]), None if value[1] is None else float(value[1]))
    return AttributeCall(str(value))


@dataclass(frozen=True, eq=False)
class Prediction:
    """Detections of one image.

    Attributes:
        boxes: ``[N, 4]`` float64 xyxy boxes in original-image pixels.
        scores: ``[N]`` float64 confidences in [0, 1].
        class_ids: ``[N]`` int64 indices into ``class_names``.
        class_names: the model's class vocabulary.
        image: image path or file name (checked against the record it is paired with; ``""`` skips the check).
        width: image width in pixels.
        height: image height in pixels.
        attributes: optional ``{attribute: AttributeCall(value name, score)}`` per box (a bare value name or a
            ``{"value", "score"}`` mapping is accepted and converted).

    Arrays are copied and made read-only on construction; instances compare by identity.
    """

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    class_names: tuple[str, ...]
    image: str = ""
    width: int = 0
    height: int = 0
    attributes: list[dict[str, AttributeCall]] | None = field(default=None)

    def __post_init__(self) -> None:
        boxes = as_boxes(self.boxes)
        scores = np.array(self.scores, dtype=np.float64).reshape(-1)
        class_ids = np.array(self.class_ids, dtype=np.int64).reshape(-1)
        n = len(boxes)
        if len(scores) != n or len(class_ids) != n:
            raise ValueError(f"boxes ({n}), scores ({len(scores)}) and class_ids ({len(class_ids)}) differ")
        if not np.isfinite(boxes).all() or not np.isfinite(scores).all():
            raise ValueError(f"non-finite box or score in prediction for {self.image!r}")
        names = tuple(str(c) for c in self.class_names)
        if n and (class_ids.min() < 0 or class_ids.max() >= len(names)):
            raise ValueError(f"class id outside the {len(names)} class names of prediction {self.image!r}")
        if self.attributes is not None and len(self.attributes) != n:
            raise ValueError(f"attributes has {len(self.attributes)} entries for {n} boxes")
        if self.attributes is not None:
            calls = [{str(k): _as_call(v) for k, v in a.items()} for a in self.attributes]
            object.__setattr__(self, "attributes", calls)
        object.__setattr__(self, "boxes", _readonly(boxes))
        object.__setattr__(self, "scores", _readonly(scores))
        object.__setattr__(self, "class_ids", _readonly(class_ids))
        object.__setattr__(self, "class_names", names)

    def __len__(self) -> int:
        return len(self.scores)

    def filter(self, conf: float) -> Prediction:
        """Return the detections with ``score >= conf`` (attributes follow their boxes)."""
        keep = self.scores >= conf
        attrs = None if self.attributes is None else [a for a, k in zip(self.attributes, keep) if k]
        return Prediction(
            self.boxes[keep],
            self.scores[keep],
            self.class_ids[keep],
            self.class_names,
            self.image,
            self.width,
            self.height,
            attrs,
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict ``{"image", "width", "height", "cells": [...]}``.

        Each cell is ``{"box": [x1, y1, x2, y2], "class": name, "score": float, "attributes": {name: {"value",
        "score"}}}``.
        """
        cells = []
        for i in range(len(self)):
            calls = {} if self.attributes is None else self.attributes[i]
            attrs = {k: {"value": c.value, "score": c.score} for k, c in calls.items()}
            cells.append(
                {
                    "box": [float(v) for v in self.boxes[i]],
                    "class": self.class_names[int(self.class_ids[i])],
                    "score": float(self.scores[i]),
                    "attributes": attrs,
                }
            )
        return {"image": self.image, "width": int(self.width), "height": int(self.height), "cells": cells}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], class_names: Sequence[str] | None = None) -> Prediction:
        """Inverse of :meth:`to_json`.

        Args:
            data: a dict as written by :meth:`to_json`.
            class_names: the model vocabulary; ``None`` takes the cell class names in first-seen order.

        Returns:
            The prediction; ``attributes`` is ``None`` when no cell carries any attribute.

        Raises:
            ValueError: if a cell names a class outside ``class_names``.
        """
        cells = list(data.get("cells", []))
        if class_names is None:
            class_names = list(dict.fromkeys(str(c["class"]) for c in cells))
        index = {name: i for i, name in enumerate(class_names)}
        unknown = sorted({str(c["class"]) for c in cells} - set(index))
        if unknown:
            raise ValueError(f"prediction cells name classes outside the vocabulary: {', '.join(unknown)}")
        attrs = [{str(k): _as_call(v) for k, v in (c.get("attributes") or {}).items()} for c in cells]
        return cls(
            boxes=as_boxes([c["box"] for c in cells]),
            scores=np.array([float(c["score"]) for c in cells], dtype=np.float64),
            class_ids=np.array([index[str(c["class"])] for c in cells], dtype=np.int64),
            class_names=tuple(class_names),
            image=str(data.get("image", "")),
            width=int(data.get("width", 0)),
            height=int(data.get("height", 0)),
            attributes=attrs if any(attrs) else None,
        )


@dataclass(frozen=True, eq=False)
class FieldPrediction:
    """One field of a film or folder as reports and outputs read it, decoded once.

    Attributes:
        path: the field's file (or the name it was given).
        image: its ``HxWx3`` uint8 RGB pixels, ``None`` when it could not be read.
        prediction: its detections (``image`` = ``path``), ``None`` when it could not be read.
        reason: why it could not be read (empty when it was).
    """

    path: str
    image: np.ndarray | None
    prediction: Prediction | None
    reason: str = ""
