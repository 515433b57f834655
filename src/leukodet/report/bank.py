"""The morphology bank: every detection of a film (all its fields) above a confidence threshold.

The paper (Rehman et al. 2025, Sec. 4.2, Fig. 4b) stores each field's predictions in a "morphology bank" from
which the film-level text is written; the reference spec (Sec. 5, D20) has the details. Here a bank holds,
per kept cell, its field, box, class, score, attribute calls and a small JPEG crop, plus one annotated JPEG
thumbnail per field, so that a report can show the cells without reopening the images.

The bank is torch-free and never runs a model: it reads predicted fields (:func:`bank_from_fields`, from
:func:`leukodet.infer.fields.predict_fields`, each with its decoded pixels) or ready-made
:class:`~leukodet.records.prediction.Prediction` objects (:func:`bank_from_predictions`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..config import PREDICT_CONF
from ..data.dataset import load_image
from ..eval.annotate import draw_prediction
from ..infer.config import check_conf
from ..records.prediction import FieldPrediction, Prediction
from ..records.roles import OTHER, WBC, class_roles, default_role, model_roles
from ..records.vocab import LLD_ATTRIBUTES

__all__ = [
    "NONE_CLASS",
    "BankCell",
    "BankField",
    "MorphologyBank",
    "bank_from_fields",
    "bank_from_predictions",
    "ordered_schema",
]

NONE_CLASS = "None"
"""The LLD class of artefacts and cells the hematologists could not name; counted apart from the WBCs."""

log = logging.getLogger(__name__)

CROP_SIDE = 96
"""Long side of a cell crop in pixels (the crop keeps the box's aspect ratio)."""

FIELD_SIDE = 480
"""Long side of an annotated field thumbnail in pixels."""

CROP_MARGIN = 0.15
"""Context around a cell crop, as a fraction of the box side."""

JPEG_QUALITY = 85


@dataclass(frozen=True)
class BankCell:
    """One detected cell.

    Attributes:
        field: index of the cell's field in :attr:`MorphologyBank.fields`.
        box: ``(x1, y1, x2, y2)`` in the field's source pixels.
        class_name: the predicted class.
        score: detection confidence.
        attributes: ``{attribute: (value, score or None)}``; empty when the model predicts none.
        crop: JPEG bytes of the cell (with a little context), ``b""`` when the field image cannot be read.
    """

    field: int
    box: tuple[float, float, float, float]
    class_name: str
    score: float
    attributes: dict[str, tuple[str, float | None]]
    crop: bytes = b""


@dataclass(frozen=True)
class BankField:
    """One field of view (image) of the film.

    Attributes:
        image: the image path as given.
        width: source width in pixels.
        height: source height in pixels.
        thumbnail: JPEG bytes of the field with the kept boxes drawn, ``b""`` when unreadable.
    """

    image: str
    width: int
    height: int
    thumbnail: bytes = b""


@dataclass(frozen=True)
class MorphologyBank:
    """All kept cells of a film.

    Attributes:
        fields: the film's fields, in input order.
        cells: kept cells, field by field, highest score first within a field.
        classes: the model's class vocabulary (order = class index).
        attributes: the model's attribute schema ``{name: (value0, value1, ...)}`` (value order = index).
        threshold: the confidence a cell needed to be kept.
        roles: the role of each class (:mod:`leukodet.records.roles`), same order as ``classes``; empty: the
            defaults of the names.
        skipped: ``(image, reason)`` of the film's fields that could not be read (left out of every count).
    """

    fields: tuple[BankField, ...]
    cells: tuple[BankCell, ...]
    classes: tuple[str, ...]
    attributes: dict[str, tuple[str, ...]]
    threshold: float
    roles: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        roles = self.roles or class_roles(self.classes)
        if len(roles) != len(self.classes):
            raise ValueError(f"{len(roles)} roles for {len(self.classes)} classes")
        object.__setattr__(self, "roles", tuple(roles))

    def role(self, name: str) -> str:
        """The role of a class; a name outside the vocabulary (a reviewer's "not a WBC") takes its default
        role, else ``other``."""
        if name in self.classes:
            return self.roles[self.classes.index(name)]
        return default_role(name) or OTHER

    def classes_of(self, role: str) -> tuple[str, ...]:
        """The classes of one role, model order."""
        return tuple(c for c, r in zip(self.classes, self.roles) if r == role)

    @property
    def wbc_classes(self) -> tuple[str, ...]:
        """The classes counted in the differential (role ``wbc``), in model order."""
        return self.classes_of(WBC)

    def cells_of(self, role: str) -> list[BankCell]:
        """The cells whose class has ``role``."""
        return [c for c in self.cells if self.role(c.class_name) == role]

    def wbc_cells(self) -> list[BankCell]:
        """Cells of a WBC class (red cells, platelets, artefacts and others left out)."""
        return self.cells_of(WBC)


def _jpeg(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    return buf.tobytes() if ok else b""


def _resize_long_side(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """Downscale (never upscale beyond 2x) so that the long side is ``side``; returns the image and ratio."""
    h, w = image.shape[:2]
    r = min(side / max(h, w, 1), 2.0)
    if abs(r - 1.0) < 1e-6:
        return image, 1.0
    size = (max(1, round(w * r)), max(1, round(h * r)))
    interp = cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interp), r


def cell_crop(image: np.ndarray, box: Sequence[float]) -> bytes:
    """JPEG of ``box`` (plus :data:`CROP_MARGIN` context, clipped to the image), long side :data:`CROP_SIDE`."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = (x2 - x1) * CROP_MARGIN, (y2 - y1) * CROP_MARGIN
    a, b = max(0, int(x1 - mx)), max(0, int(y1 - my))
    c, d = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
    if c <= a or d <= b:
        return b""
    crop, _ = _resize_long_side(np.ascontiguousarray(image[b:d, a:c]), CROP_SIDE)
    return _jpeg(crop)


def field_thumbnail(image: np.ndarray, pred: Prediction) -> bytes:
    """JPEG of the field at :data:`FIELD_SIDE` with ``pred``'s boxes drawn (boxes scaled, then drawn)."""
    small, r = _resize_long_side(image, FIELD_SIDE)
    scaled = Prediction(pred.boxes * r, pred.scores, pred.class_ids, pred.class_names, pred.image)
    return _jpeg(draw_prediction(small, scaled))


def _calls(pred: Prediction, i: int) -> dict[str, tuple[str, float | None]]:
    if pred.attributes is None:
        return {}
    return {name: (call.value, call.score) for name, call in pred.attributes[i].items()}


def _bank_field(
    pred: Prediction, index: int, path: str, crops: bool, image: np.ndarray | None = None
) -> tuple[BankField, list[BankCell]]:
    """The field record and its cells (``pred`` already thresholded), highest score first; crops and the
    thumbnail are cut from ``image`` (the field's decoded pixels), else from the file at ``path``."""
    if not crops:
        image = None
    elif image is None:
        try:
            image = load_image(path)
        except OSError:
            image = None
    order = np.argsort(-pred.scores, kind="stable")
    cells = [
        BankCell(
            field=index,
            box=tuple(float(v) for v in pred.boxes[i]),  # type: ignore[arg-type]
            class_name=pred.class_names[int(pred.class_ids[i])],
            score=float(pred.scores[i]),
            attributes=_calls(pred, int(i)),
            crop=b"" if image is None else cell_crop(image, pred.boxes[i]),
        )
        for i in order
    ]
    h, w = (pred.height, pred.width) if image is None else image.shape[:2]
    thumb = b"" if image is None else field_thumbnail(image, pred)
    return BankField(path, int(w), int(h), thumb), cells


def ordered_schema(schema: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """``schema`` with LLD attributes first in LLD column order, then the others as given.

    Checkpoint metadata is stored with sorted keys, so the given order is not meaningful for LLD names;
    value order within an attribute is kept (it is the value index).
    """
    lld = [k for k in LLD_ATTRIBUTES if k in schema]
    rest = [k for k in schema if k not in LLD_ATTRIBUTES]
    return {str(k): tuple(str(v) for v in schema[k]) for k in lld + rest}


def _schema_from(
    preds: Iterable[Prediction], schema: Mapping[str, Sequence[str]] | None
) -> dict[str, tuple[str, ...]]:
    """The given schema, else one read off the predictions (LLD value order for LLD names, else first seen)."""
    if schema is not None:
        return ordered_schema(schema)
    seen: dict[str, dict[str, None]] = {}
    for pred in preds:
        for calls in pred.attributes or []:
            for name, call in calls.items():
                seen.setdefault(name, {})[call.value] = None
    out = {}
    for name, values in seen.items():
        lld = LLD_ATTRIBUTES.get(name, ())
        out[name] = tuple(lld) + tuple(v for v in values if v not in lld)
    return ordered_schema(out)


def bank_from_predictions(
    preds: Sequence[Prediction],
    conf: float = PREDICT_CONF,
    *,
    fields: Sequence[str | Path] | None = None,
    schema: Mapping[str, Sequence[str]] | None = None,
    crops: bool = True,
    roles: Sequence[str | None] | Mapping[str, str] | None = None,
) -> MorphologyBank:
    """Bank of ready-made predictions (one per field, e.g. read back from JSON); ``fields`` overrides each
    prediction's image path, from which crops are cut; ``roles`` as for
    :func:`~leukodet.records.roles.class_roles` (default: the names' defaults)."""
    if fields is not None and len(fields) != len(preds):
        raise ValueError(f"{len(fields)} fields for {len(preds)} predictions")
    paths = [str(f) for f in fields] if fields is not None else [p.image for p in preds]
    given = [FieldPrediction(path, None, pred) for path, pred in zip(paths, preds)]
    return bank_from_fields(given, conf, schema=schema, crops=crops, roles=roles)


def bank_from_fields(
    fields: Iterable[FieldPrediction],
    conf: float = PREDICT_CONF,
    *,
    metadata: Mapping[str, Any] | None = None,
    schema: Mapping[str, Sequence[str]] | None = None,
    crops: bool = True,
    roles: Sequence[str | None] | Mapping[str, str] | None = None,
) -> MorphologyBank:
    """A film's bank from its predicted fields (:func:`leukodet.infer.fields.predict_fields`), read as they
    come: each field's crops and thumbnail are cut from its decoded pixels, which are then let go.

    Args:
        fields: the film's fields in order; one without a prediction is listed in ``skipped``.
        conf: keep detections with ``score >= conf``.
        metadata: the checkpoint's metadata (``classes``, ``class_roles``); its roles are resolved before the
            first field is read, so a class without a role fails before any prediction is made.
        schema: attribute schema (what the model predicts), else one read off the predictions.
        crops: cut cell crops and field thumbnails.
        roles: class roles (a list in class order or ``{class: role}``) over the checkpoint's ``class_roles``
            and the names' defaults.

    Raises:
        ValueError: a threshold outside [0, 1], predictions of two vocabularies, or no field that was read.
    """
    conf = check_conf(conf)
    classes = tuple((metadata or {}).get("classes") or ())
    final = model_roles(metadata, classes, roles) if metadata is not None and classes else roles
    kept: list[Prediction] = []
    out_fields: list[BankField] = []
    out_cells: list[BankCell] = []
    skipped: list[tuple[str, str]] = []
    for f in fields:
        if f.prediction is None:
            skipped.append((f.path, f.reason))
            continue
        pred = f.prediction.filter(conf)
        field, cells = _bank_field(pred, len(out_fields), f.path, crops, f.image)
        kept.append(pred)
        out_fields.append(field)
        out_cells += cells
    if skipped and not out_fields:
        raise ValueError(f"no field of the film could be read: {'; '.join(f'{p}: {r}' for p, r in skipped)}")
    vocab = classes or (kept[0].class_names if kept else ())
    if any(p.class_names != vocab for p in kept):
        raise ValueError("predictions of one film must share one class vocabulary")
    return MorphologyBank(
        tuple(out_fields),
        tuple(out_cells),
        tuple(vocab),
        _schema_from(kept, schema),
        conf,
        class_roles(vocab, final),
        tuple(skipped),
    )
