"""The labels of one image, in any format leukodet reads, read into an :class:`ImageRecord` and written back.

Formats, told by the label path: ``.txt`` YOLO family (``yolo`` / ``lld12`` / ``lld16`` by column count),
``.xml`` Pascal VOC, ``.json`` COCO (one image, or the one whose file name is the image's), and a dataset
(a dataset YAML or folder :func:`~leukodet.records.load_source` reads, e.g. leukodet's own COCO dataset with
its extensions) from which the image's record is taken; a dataset is written back as COCO, which holds
everything.

YOLO class names come from ``names`` (a comma-separated list, or a ``data.yaml`` / ``classes.txt`` file),
else from a ``data.yaml``, ``data.yml`` or ``classes.txt`` in the label file's folder or up to three folders
above it, else the LLD classes (12/16 columns) or the class ids as names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..records.coco_io import coco_classes, coco_document, coco_schema, load_coco_json, read_coco
from ..records.diagnostics import DataError, Diagnostics
from ..records.files import atomic_write_text, place_image
from ..records.images import image_size
from ..records.schema import AttributeSchema, Dataset, ImageRecord
from ..records.sources import load_source
from ..records.validate import check_cell
from ..records.voc_io import read_voc_annotation, voc_annotation_text, voc_file_class_names
from ..records.vocab import LLD_CLASSES, lld_schema
from ..records.yolo_dataset import label_regions, sidecar_entry
from ..records.yolo_io import (
    REGIONS_SIDECAR,
    cells_to_lines,
    choose_patch_order,
    detect_columns,
    lines_to_cells,
    read_lines,
    read_sidecar,
)

__all__ = ["LABEL_SUFFIXES", "ImageLabels", "read_image_labels", "write_image_labels", "parse_names"]

LABEL_SUFFIXES: dict[str, str] = {
    "yolo": ".txt",
    "lld12": ".txt",
    "lld16": ".txt",
    "voc": ".xml",
    "coco": ".json",
}
"""File suffix written for each label format."""


@dataclass(frozen=True)
class ImageLabels:
    """One image's annotation and what gives it meaning.

    Attributes:
        record: the image and its cells (boxes in the image's pixels).
        classes: class names (index = class id).
        schema: attribute schema (empty for plain YOLO and VOC).
        fmt: label format to write back: ``yolo``, ``lld12``, ``lld16``, ``voc`` or ``coco``.
        names_from: where the class names came from (for the report).
    """

    record: ImageRecord
    classes: list[str]
    schema: AttributeSchema
    fmt: str
    names_from: str


def _yaml_names(path: Path) -> tuple[list[str], AttributeSchema | None]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: invalid YAML ({exc})") from None
    raw = doc.get("names") if isinstance(doc, dict) else None
    if isinstance(raw, dict):
        raw = [raw[k] for k in sorted(raw, key=int)]
    if not isinstance(raw, list):
        raise DataError(f"{path}: no 'names' list of class names")
    schema = doc.get("attributes")
    return [str(n) for n in raw], (None if schema is None else AttributeSchema.from_mapping(schema))


def parse_names(names: str | Path) -> tuple[list[str], AttributeSchema | None]:
    """Class names (and attribute schema, from a YAML) from a ``.yaml`` / ``.txt`` file or an ``a,b,c`` list."""
    path = Path(names)
    if path.is_file() and path.suffix.lower() in (".yaml", ".yml"):
        return _yaml_names(path)
    if path.is_file():
        return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()], None
    listed = [n.strip() for n in str(names).split(",") if n.strip()]
    if not listed:
        raise DataError(f"--names {names!r}: neither a file nor a comma-separated list of class names")
    return listed, None


def _neighbour_names(labels: Path) -> tuple[list[str], AttributeSchema | None, str] | None:
    for folder in list(labels.resolve().parents)[:4]:
        for name in ("data.yaml", "data.yml", "classes.txt"):
            if (folder / name).is_file():
                return (*parse_names(folder / name), str(folder / name))
    return None


def _yolo_vocab(
    names: str | None, labels: Path, fmt: str, top: int
) -> tuple[list[str], AttributeSchema, str]:
    found = (*parse_names(names), "--names") if names else _neighbour_names(labels)
    if found is not None:
        classes, schema, origin = found
        if schema is None:
            schema = lld_schema() if fmt in ("lld12", "lld16") else AttributeSchema()
        return classes, schema, origin
    if fmt in ("lld12", "lld16"):
        return list(LLD_CLASSES), lld_schema(), "LLD classes (12/16-column labels)"
    return [str(i) for i in range(top + 1)], AttributeSchema(), "class ids (no names found)"


def _read_yolo(labels: Path, image: Path, names: str | None, diag: Diagnostics) -> ImageLabels:
    width, height = image_size(image)
    lines = read_lines(labels, diag)
    fmt = detect_columns({labels: lines}) or "yolo"
    top = max((int(ln.values[0]) for ln in lines if ln.values and ln.values[0] >= 0), default=0)
    classes, schema, origin = _yolo_vocab(names, labels, fmt, top)
    order = choose_patch_order({labels: lines}) if fmt == "lld16" else "xyxy"
    numbered, patches = lines_to_cells(lines, fmt, width, height, schema, diag, labels, order)
    cells = [
        check_cell(c, width, height, len(classes), schema, diag, labels, n, lab) for c, n, lab in numbered
    ]
    entry = read_sidecar(labels.parent, diag).get(image.name, "absent")
    regions = label_regions(fmt, patches, entry, width, height)
    record = ImageRecord(image, width, height, "all", tuple(cells), regions)
    return ImageLabels(record, classes, schema, fmt, origin)


def _read_voc(labels: Path, image: Path, names: str | None, diag: Diagnostics) -> ImageLabels:
    found = voc_file_class_names(labels, diag)
    classes = parse_names(names)[0] if names else found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise DataError(f"{labels}: object names {', '.join(unknown)} are not among --names")
    record = read_voc_annotation(labels, image, classes, diag)
    return ImageLabels(record, classes, AttributeSchema(), "voc", "--names" if names else "the XML's objects")


def _read_coco(labels: Path, image: Path, diag: Diagnostics) -> ImageLabels:
    doc = load_coco_json(labels)
    classes, schema = coco_classes(doc), coco_schema(doc) or AttributeSchema()
    quiet = Diagnostics(max_logged=0)  # the file_name need not resolve: the image is given
    records = read_coco(labels, "all", [], classes, schema, quiet)
    for p in quiet.problems:
        if p.reason != "missing_image":
            diag.report(p.file, p.line, p.reason, p.message)
    record = _pick(records, image, labels)
    return ImageLabels(record.with_(path=image), classes, schema, "coco", "the COCO categories")


def _pick(records: list[ImageRecord], image: Path, where: Path) -> ImageRecord:
    """The record of ``image``: the only one, else the one with the same file name."""
    if len(records) == 1:
        return records[0]
    same = [r for r in records if r.path.name == image.name]
    if len(same) != 1:
        raise DataError(
            f"{where}: holds {len(records)} images and {len(same)} named {image.name!r}; "
            "give labels for this one image"
        )
    return same[0]


def _read_dataset(labels: Path, image: Path, diag: Diagnostics) -> ImageLabels:
    ds, _ = load_source(labels, diag)
    exact = [r for r in ds.records if r.path.resolve() == image.resolve()]
    record = exact[0] if len(exact) == 1 else _pick(ds.records, image, labels)
    return ImageLabels(record.with_(path=image), ds.classes, ds.attributes, "coco", f"the dataset {labels}")


def read_image_labels(
    labels: str | Path, image: str | Path, names: str | None = None, diag: Diagnostics | None = None
) -> ImageLabels:
    """Read the labels of ``image`` from ``labels`` (format from the suffix; see the module docstring).

    Raises ``DataError`` when the label file's image size differs from the image's.
    """
    labels, image = Path(labels), Path(image)
    diag = diag or Diagnostics()
    if not labels.exists():
        raise DataError(f"{labels}: no such label file")
    suffix = labels.suffix.lower()
    if labels.is_dir() or suffix in (".yaml", ".yml"):
        out = _read_dataset(labels, image, diag)
    elif suffix == ".txt":
        out = _read_yolo(labels, image, names, diag)
    elif suffix == ".xml":
        out = _read_voc(labels, image, names, diag)
    elif suffix == ".json":
        out = _read_coco(labels, image, diag)
    else:
        raise DataError(
            f"{labels}: unknown label format (expected .txt, .xml, .json, a dataset YAML or folder)"
        )
    actual = image_size(image)
    if (out.record.width, out.record.height) != actual:
        raise DataError(
            f"{labels}: labels are for a {out.record.width}x{out.record.height} image but {image} is "
            f"{actual[0]}x{actual[1]}"
        )
    return out


def write_image_labels(labels: ImageLabels, out_dir: Path) -> list[Path]:
    """Write ``labels.record`` as ``out_dir/<image stem><suffix>`` in ``labels.fmt``; returns the files written.

    YOLO-family output is exactly one ``.txt`` (plus ``regions.json`` for ``lld16`` regions its lines cannot
    carry). COCO output links (or copies) the image into ``out_dir`` and names it there: a COCO file must not
    reach outside its folder (:func:`leukodet.records.files.inside`), so it carries its image with it.
    """
    rec, fmt = labels.record, labels.fmt
    path = out_dir / f"{rec.stem}{LABEL_SUFFIXES[fmt]}"
    written = [path]
    if fmt in ("yolo", "lld12", "lld16"):
        patch = (
            rec.labeled_regions[0] if rec.labeled_regions else (0.0, 0.0, float(rec.width), float(rec.height))
        )
        atomic_write_text(path, cells_to_lines(rec.cells, fmt, rec.width, rec.height, labels.schema, patch))
        entry = sidecar_entry(rec) if fmt == "lld16" else "absent"
        if entry != "absent":
            written.append(out_dir / REGIONS_SIDECAR)
            atomic_write_text(written[-1], json.dumps({rec.path.name: entry}, indent=1) + "\n")
    elif fmt == "voc":
        atomic_write_text(path, voc_annotation_text(rec, rec.path.name, labels.classes))
    else:
        ds = Dataset([rec], labels.classes, labels.schema)
        if rec.path.resolve().parent != out_dir.resolve():
            place_image(rec.path, out_dir / rec.path.name)
            written.append(out_dir / rec.path.name)
        doc: dict[str, Any] = coco_document([rec], [rec.path.name], ds)
        atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
    return written
