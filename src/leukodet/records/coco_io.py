"""COCO JSON with leukodet's documented extensions.

Extensions (all optional, ignored by standard COCO tools):

* top level ``"attributes": {name: [value names]}`` - the attribute schema;
* per annotation ``"attributes": {name: value name}`` - an absent key or ``null`` means "not applicable";
  an integer is accepted as a value index when reading;
* per image ``"labeled_regions": [[x, y, w, h], ...]`` in pixels (absent = fully labelled, ``[]`` = nothing
  labelled) and ``"domain": {"microscope", "magnification", "camera"}``.

Categories are matched to class names by ``name`` (any ids; a file read on its own lists its classes by id).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .diagnostics import DataError, Diagnostics
from .files import atomic_write_text, inside, place_image, unique_names
from .images import resolve_image
from .schema import AttributeSchema, Box, Cell, Dataset, Domain, ImageRecord
from .validate import check_cell

__all__ = ["load_coco_json", "coco_classes", "coco_schema", "read_coco", "coco_document", "write_coco"]


def load_coco_json(path: Path) -> dict[str, Any]:
    """Parse a COCO file; ``DataError`` naming file and line for invalid JSON or a wrong top-level shape."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: COCO file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise DataError(f"{path}: not a COCO detection file (no 'images' list)")
    for key in ("images", "annotations", "categories"):
        entries = doc.get(key, [])
        if not isinstance(entries, list):
            raise DataError(f"{path}: '{key}' must be a list")
        bad = next((i for i, e in enumerate(entries) if not isinstance(e, dict)), None)
        if bad is not None:
            raise DataError(f"{path}: '{key}' entry {bad} is not an object")
    return doc


def coco_classes(doc: dict[str, Any]) -> list[str]:
    """Class names ordered by category id."""
    cats = sorted(doc.get("categories", []), key=lambda c: c.get("id", 0))
    return [str(c.get("name")) for c in cats]


def coco_schema(doc: dict[str, Any]) -> AttributeSchema | None:
    """The top-level attribute schema extension, or ``None`` if the file has none."""
    raw = doc.get("attributes")
    return None if raw is None else AttributeSchema.from_mapping(raw)


def _xywh_to_xyxy(b: Sequence[float]) -> Box:
    x, y, w, h = (float(v) for v in b)
    return (x, y, x + w, y + h)


def _attributes(raw: object, schema: AttributeSchema, diag: Diagnostics, where: str) -> dict[str, int | None]:
    raw = raw or {}
    out: dict[str, int | None] = {}
    if not isinstance(raw, dict):
        diag.report(where, None, "bad_attribute", "'attributes' must be an object {name: value}")
        raw = {}
    for key in sorted(set(raw) - set(schema.names)):
        diag.report(where, None, "bad_attribute", f"attribute {key!r} is not in the schema")
    for attr in schema:
        value = raw.get(attr.name)
        if value is None:
            out[attr.name] = None
        elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(attr.values):
            out[attr.name] = value
        elif isinstance(value, str) and value in attr.values:
            out[attr.name] = attr.values.index(value)
        else:
            diag.report(where, None, "bad_attribute", f"attribute {attr.name!r} has no value {value!r}")
            out[attr.name] = None
    return out


def _image_record(
    img: dict[str, Any], roots: Sequence[Path], split: str, path: Path, diag: Diagnostics
) -> ImageRecord | None:
    where = f"{path} (image id {img.get('id')})"
    try:
        name = str(img["file_name"])
        width, height = int(img["width"]), int(img["height"])
    except (KeyError, TypeError, ValueError):
        diag.report(path, None, "bad_image_entry", f"image {img.get('id')} needs file_name, width and height")
        return None
    if "\0" in name:
        diag.report(path, None, "bad_image_entry", f"{where}: file_name {name!r} contains a NUL character")
        return None
    candidates = [p for p in (inside(root, name, list(roots)) for root in roots) if p is not None]
    if not candidates:
        folders = ", ".join(str(r) for r in roots)
        diag.report(
            path,
            None,
            "outside_root",
            f"{where}: file_name {name!r} leaves the data set's folders ({folders})",
        )
        return None
    try:
        image = resolve_image(candidates, where)
    except DataError as exc:
        diag.report(path, None, "missing_image", str(exc).split(": ", 1)[-1] + f" [{where}]")
        image = roots[0] / name
    regions = img.get("labeled_regions")
    try:
        domain = Domain.from_dict(img.get("domain"))
        rects = None if regions is None else tuple(_xywh_to_xyxy(r) for r in regions)
    except (TypeError, ValueError) as exc:
        diag.report(path, None, "bad_region", f"{where}: {exc}")
        domain, rects = Domain(), None
    return ImageRecord(image, width, height, split, (), rects, domain)


def read_coco(
    path: Path,
    split: str,
    roots: Sequence[Path],
    classes: list[str],
    schema: AttributeSchema,
    diag: Diagnostics,
) -> list[ImageRecord]:
    """Read one COCO file as a split; ``file_name`` resolves against each of ``roots`` in turn, then beside
    the JSON file and above it (a dataset root holding ``annotations/``)."""
    roots = list(dict.fromkeys([*roots, path.parent, path.parent.parent]))
    doc = load_coco_json(path)
    cat_names = {cat.get("id"): str(cat.get("name")) for cat in doc.get("categories", [])}
    cat_to_class = {cid: (classes.index(n) if n in classes else -1) for cid, n in cat_names.items()}
    images: dict[object, ImageRecord] = {}
    cells: dict[object, list[Cell]] = {}
    for img in diag.track(doc["images"], f"{split} images"):
        rec = _image_record(img, roots, split, path, diag)
        if rec is not None:
            images[img.get("id")] = rec
            cells[img.get("id")] = []
    for ann in doc.get("annotations", []):
        where = f"{path} (annotation id {ann.get('id')})"
        rec = images.get(ann.get("image_id"))
        if rec is None:
            diag.report(path, None, "unknown_image", f"annotation {ann.get('id')} refers to a missing image")
            continue
        try:
            box = _xywh_to_xyxy(ann["bbox"])
        except (KeyError, TypeError, ValueError):
            diag.report(path, None, "bad_box", f"annotation {ann.get('id')} has no valid bbox [x, y, w, h]")
            continue
        cls = cat_to_class.get(ann.get("category_id"), -1)
        cell = Cell(box, cls, _attributes(ann.get("attributes"), schema, diag, where))
        name = cat_names.get(ann.get("category_id"), f"category id {ann.get('category_id')}")
        checked = check_cell(
            cell, rec.width, rec.height, len(classes), schema, diag, where, class_name=repr(name)
        )
        cells[ann.get("image_id")].append(checked)
    return [rec.with_(cells=tuple(cells[key])) for key, rec in images.items()]


def _bbox(box: Box) -> list[float]:
    x1, y1, x2, y2 = box
    return [x1, y1, x2 - x1, y2 - y1]


def coco_document(records: Sequence[ImageRecord], names: Sequence[str], ds: Dataset) -> dict[str, Any]:
    """COCO dict for ``records`` whose images are referenced by ``names`` (paths relative to the root)."""
    images, annotations = [], []
    for image_id, (rec, name) in enumerate(zip(records, names), start=1):
        entry: dict[str, Any] = {"id": image_id, "file_name": name, "width": rec.width, "height": rec.height}
        if rec.labeled_regions is not None:
            entry["labeled_regions"] = [_bbox(r) for r in rec.labeled_regions]
        if not rec.domain.is_empty():
            entry["domain"] = rec.domain.to_dict()
        images.append(entry)
        for cell in rec.cells:
            x, y, w, h = _bbox(cell.box)
            ann: dict[str, Any] = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": cell.class_id + 1,
                "bbox": [x, y, w, h],
                "area": max(w, 0.0) * max(h, 0.0),
                "iscrowd": 0,
            }
            if len(ds.attributes):
                ann["attributes"] = {
                    a.name: (
                        None if cell.attributes.get(a.name) is None else a.values[cell.attributes[a.name]]
                    )
                    for a in ds.attributes
                }
            annotations.append(ann)
    doc: dict[str, Any] = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": n, "supercategory": "cell"} for i, n in enumerate(ds.classes)],
    }
    if len(ds.attributes):
        doc["attributes"] = ds.attributes.to_mapping()
    return doc


def write_coco(ds: Dataset, dest: Path) -> dict[str, str]:
    """Write ``dest/images/<split>/`` + ``dest/annotations/<split>.json``; return ``{split: json path}``."""
    entries: dict[str, str] = {}
    for split in ds.splits:
        recs = ds.split(split)
        names = unique_names([r.path for r in recs], f"split {split}")
        for rec, name in zip(recs, names):
            place_image(rec.path, dest / "images" / split / name)
        doc = coco_document(recs, [f"images/{split}/{n}" for n in names], ds)
        atomic_write_text(dest / "annotations" / f"{split}.json", json.dumps(doc, indent=1) + "\n")
        entries[split] = f"annotations/{split}.json"
    return entries
