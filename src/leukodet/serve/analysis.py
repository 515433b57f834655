"""One analysis, start to finish (runs in a worker thread): stage the uploads, run the film report, store it.

The report is the one ``leukodet report`` writes (:mod:`leukodet.report`: morphology bank → document → pages),
with the field images named by their (cleaned) upload names instead of server paths. The analysis folder::

    uploads/000.png ...      the images as received (plus NNN.png copies of TIFFs, which the detector reads)
    report.json/.html/.md    the film report
    cells/<n>.png            a crop of cell n (n = the cell's ``id`` in report.json)
    analysis.json            the index row (lets the index be rebuilt)

It is written under ``staging/`` and renamed into place only when complete (:meth:`Storage.commit`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from ..config import PREDICT_CONF
from ..infer.config import InferConfig, check_conf
from ..infer.fields import predict_fields
from ..records.files import atomic_write_bytes
from ..report.bank import MorphologyBank, bank_from_fields
from ..report.document import build_report, model_info
from ..report.flags import RuleSet
from ..report.writers import write_report
from .storage import AnalysisRecord, Storage, new_id
from .uploads import Limits, StagedField, Upload, stage_uploads

if TYPE_CHECKING:
    from ..infer.predictor import Detector

__all__ = ["Settings", "model_section", "run_analysis"]


@dataclass(frozen=True)
class Settings:
    """How every analysis of a service is made.

    Attributes:
        conf: keep cells with ``score >= conf``.
        imgsz: network size (``None``: the checkpoint's).
        rules: flag rules (``None``: the packaged defaults).
        weights: the checkpoint path or name, reported by file name.
        roles: ``{class: role}`` over the checkpoint's roles (``--role``), for a class without one.
        checkpoint: the weights as the service was given them (a path), for the retrain command the page shows.
    """

    conf: float = PREDICT_CONF
    imgsz: int | None = None
    rules: RuleSet | None = None
    weights: str | None = None
    roles: Mapping[str, str] | None = None
    checkpoint: str | None = None

    def __post_init__(self) -> None:
        check_conf(self.conf)


def model_section(detector: Detector, settings: Settings) -> dict[str, Any]:
    """The report's ``model`` section for this service's detector."""
    meta = detector.metadata
    attributes = getattr(detector, "attributes", None)
    return model_info(meta, settings.weights, meta.get("classes") or (), attributes)


def _bank(detector: Detector, fields: Sequence[StagedField], settings: Settings) -> MorphologyBank:
    """The film's morphology bank from the uploads' decoded pixels, its fields labelled with the upload names."""
    cfg = replace(getattr(detector, "infer", None) or InferConfig(), conf=settings.conf, imgsz=settings.imgsz)
    predicted = predict_fields(detector, [(str(f.image), f.pixels) for f in fields], cfg)
    schema = getattr(detector, "attributes", None)
    bank = bank_from_fields(
        predicted, settings.conf, metadata=detector.metadata, schema=schema, roles=settings.roles
    )
    named = tuple(replace(f, image=s.name) for f, s in zip(bank.fields, fields))
    return replace(bank, fields=named)


def _png(jpeg: bytes) -> bytes:
    with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as image:
        out = io.BytesIO()
        image.save(out, format="PNG")
    return out.getvalue()


def _write_cells(bank: MorphologyBank, folder: Path) -> None:
    """``folder/<n>.png`` for every cell that has a crop (n: the cell's index, its ``id`` in the report)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, cell in enumerate(bank.cells):
        if cell.crop:
            atomic_write_bytes(folder / f"{n}.png", _png(cell.crop))


def run_analysis(
    detector: Detector, uploads: list[Upload], storage: Storage, limits: Limits, settings: Settings
) -> tuple[AnalysisRecord, dict[str, Any]]:
    """Analyse ``uploads`` as one film and store the result; returns its index row and report document.

    Raises :class:`UploadError` for an image that does not decode or is over the pixel limit; nothing is
    stored then.
    """
    analysis_id = new_id()
    staged = storage.staging(analysis_id)
    try:
        fields = stage_uploads(uploads, staged / "uploads", limits)
        bank = _bank(detector, fields, settings)
        doc = build_report(bank, model_section(detector, settings), settings.rules)
        write_report(doc, bank, staged)
        _write_cells(bank, staged / "cells")
        record = AnalysisRecord(analysis_id, doc["created"], len(fields), len(doc["cells"]))
        storage.commit(staged, record)
    except BaseException:
        storage.discard(staged)
        raise
    return record, doc
