"""Write a :class:`Dataset` in any writable format, with exactly one ``data.yaml``, refusing silent loss.

Formats: ``coco`` (holds everything), ``yolo`` (boxes), ``lld12`` (+ 7 attributes), ``lld16`` (+ 7 attributes
and labelled regions), ``voc`` (boxes). A dataset-wide domain is kept in ``data.yaml`` (``domain``) for every
format; per-image domains need COCO.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .coco_io import write_coco
from .diagnostics import DataError
from .files import atomic_write_text
from .schema import Dataset, Domain
from .voc_io import write_voc
from .yolo_dataset import write_yolo
from .yolo_io import NUM_LLD_ATTRIBUTES

__all__ = ["FORMATS", "conversion_losses", "write_dataset", "dataset_yaml_text"]

FORMATS: tuple[str, ...] = ("coco", "yolo", "lld12", "lld16", "voc")


def _uniform_domain(ds: Dataset) -> Domain | None:
    """The single domain shared by every image, or ``None`` when images differ."""
    domains = {r.domain for r in ds.records}
    return next(iter(domains)) if len(domains) == 1 else (Domain() if not domains else None)


def conversion_losses(ds: Dataset, fmt: str) -> list[str]:
    """What writing ``ds`` as ``fmt`` would lose, one phrase per kind (empty = lossless)."""
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    losses: list[str] = []
    bad_class = sum(1 for r in ds.records for c in r.cells if not 0 <= c.class_id < len(ds.classes))
    if bad_class:
        losses.append(f"{bad_class} boxes with unknown class ids")
    if fmt == "coco":
        return losses
    holds_attributes = fmt in ("lld12", "lld16") and len(ds.attributes) in (0, NUM_LLD_ATTRIBUTES)
    if len(ds.attributes) and not holds_attributes:
        why = "" if fmt in ("lld12", "lld16") else f" ({fmt} has no attribute columns)"
        if fmt in ("lld12", "lld16"):
            why = f" ({fmt} holds exactly {NUM_LLD_ATTRIBUTES}, the dataset has {len(ds.attributes)})"
        losses.append(f"attributes {', '.join(ds.attributes.names)}{why}")
    regions = sum(1 for r in ds.records if r.labeled_regions is not None)
    if regions and fmt != "lld16":
        losses.append(f"labelled regions of {regions} images")
    if _uniform_domain(ds) is None:
        names = sorted({r.domain.name for r in ds.records})
        losses.append(f"per-image domains ({', '.join(names)})")
    return losses


def dataset_yaml_text(ds: Dataset, entries: dict[str, str], fmt: str) -> str:
    """The ``data.yaml`` text: names, attributes, dataset-wide domain and split entries (relative paths)."""
    doc: dict[str, Any] = {"names": list(ds.classes)}
    if ds.roles:
        doc["roles"] = {c: ds.roles[c] for c in ds.classes if c in ds.roles}
    if len(ds.attributes) or fmt in ("lld12", "lld16"):
        doc["attributes"] = ds.attributes.to_mapping()
    domain = _uniform_domain(ds)
    if fmt != "coco" and domain is not None and not domain.is_empty():
        doc["domain"] = domain.to_dict()
    doc.update(entries)
    header = f"# leukodet dataset ({fmt}); paths are relative to this file\n"
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000)


def write_dataset(ds: Dataset, dest: Path, fmt: str = "coco", *, allow_loss: bool = False) -> Path:
    """Write ``ds`` under ``dest`` as ``fmt``; returns the path of ``dest/data.yaml``.

    Images are copied (hard-linked when possible) next to the labels, unless a record's image already is
    the target file. Raises ``DataError`` naming what would be lost unless ``allow_loss``.
    """
    losses = conversion_losses(ds, fmt)
    if losses and not allow_loss:
        raise DataError(f"converting to {fmt} would lose: {'; '.join(losses)} (pass --allow-loss to accept)")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if fmt == "coco":
        entries = write_coco(ds, dest)
    elif fmt == "voc":
        entries = write_voc(ds, dest)
    else:
        entries = write_yolo(ds, dest, fmt)
    out = dest / "data.yaml"
    atomic_write_text(out, dataset_yaml_text(ds, entries, fmt))
    return out
