"""Pascal VOC: ``Annotations/*.xml``, ``JPEGImages/``, ``ImageSets/Main/{train,val,test}.txt``.

Box coordinates are read and written as they stand in ``<bndbox>`` (no 1-based shift), so BCCD's two
zero-size RBC boxes stay zero-size and are reported, not silently widened.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .diagnostics import DataError, Diagnostics
from .files import atomic_write_text, inside, place_image, unique_names
from .images import IMAGE_SUFFIXES, image_size
from .schema import AttributeSchema, Cell, Dataset, ImageRecord
from .validate import check_cell, parse_number

__all__ = [
    "VOC_SPLITS",
    "is_voc_root",
    "voc_split_ids",
    "voc_class_names",
    "read_voc_split",
    "write_voc",
    "voc_file_class_names",
    "read_voc_annotation",
    "voc_annotation_text",
]

VOC_SPLITS: tuple[str, ...] = ("train", "val", "test")


def is_voc_root(path: Path) -> bool:
    """A folder with ``Annotations/`` and ``JPEGImages/``."""
    return (path / "Annotations").is_dir() and (path / "JPEGImages").is_dir()


def voc_split_ids(root: Path) -> dict[str, list[str]]:
    """``{split: [image ids]}`` from ``ImageSets/Main``; without it every annotation is split ``all``."""
    main = root / "ImageSets" / "Main"
    out = {s: _ids(main / f"{s}.txt") for s in VOC_SPLITS if (main / f"{s}.txt").is_file()}
    if not out:
        out = {"all": sorted(p.stem for p in (root / "Annotations").glob("*.xml"))}
    return out


def _ids(path: Path) -> list[str]:
    return [ln.split()[0] for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def _parse(xml: Path, diag: Diagnostics) -> ET.Element | None:
    try:
        return ET.parse(xml).getroot()
    except FileNotFoundError:
        diag.report(xml, None, "missing_annotation", "annotation file listed in ImageSets is missing")
    except ET.ParseError as exc:
        diag.report(xml, exc.position[0], "bad_xml", f"invalid XML: {exc}")
    return None


def voc_class_names(root: Path, diag: Diagnostics) -> list[str]:
    """Sorted set of object names over all annotations (used when no names are given)."""
    names: set[str] = set()
    for xml in sorted((root / "Annotations").glob("*.xml")):
        tree = _parse(xml, Diagnostics())
        if tree is not None:
            names.update((o.findtext("name") or "").strip() for o in tree.iter("object"))
    names.discard("")
    return sorted(names)


def _image_file(root: Path, image_id: str, tree: ET.Element) -> Path:
    name = (tree.findtext("filename") or "").strip()
    images = root / "JPEGImages"
    named = inside(images, name) if name else None
    if named is not None and named.is_file():
        return named
    for suffix in IMAGE_SUFFIXES:
        by_id = inside(images, f"{image_id}{suffix}")
        if by_id is not None and by_id.is_file():
            return by_id
    raise DataError(
        f"{root / 'Annotations' / (image_id + '.xml')}: image {name or image_id} not in JPEGImages"
    )


def _size(tree: ET.Element, image: Path) -> tuple[int, int]:
    try:
        w, h = int(tree.findtext("size/width") or 0), int(tree.findtext("size/height") or 0)
    except ValueError:
        w = h = 0
    return (w, h) if w > 0 and h > 0 else image_size(image)


def _objects(tree: ET.Element, classes: list[str], xml: Path, diag: Diagnostics) -> list[tuple[Cell, str]]:
    cells: list[tuple[Cell, str]] = []
    for obj in tree.iter("object"):
        name = (obj.findtext("name") or "").strip()
        try:
            box = tuple(
                parse_number(obj.findtext(f"bndbox/{k}") or "") for k in ("xmin", "ymin", "xmax", "ymax")
            )
        except ValueError as exc:
            diag.report(xml, None, "bad_box", f"object {name!r}: {exc}")
            continue
        cls = classes.index(name) if name in classes else -1
        cells.append((Cell(box, cls, {}), name))  # type: ignore[arg-type]
    return cells


def read_voc_split(
    root: Path, split: str, ids: list[str], classes: list[str], diag: Diagnostics
) -> list[ImageRecord]:
    """Read the images ``ids`` of one split."""
    records: list[ImageRecord] = []
    for image_id in diag.track(ids, f"{split} annotations"):
        xml = root / "Annotations" / f"{image_id}.xml"
        tree = _parse(xml, diag)
        if tree is None:
            continue
        try:
            image = _image_file(root, image_id, tree)
            width, height = _size(tree, image)
        except DataError as exc:
            diag.report(xml, None, "missing_image", str(exc).split(": ", 1)[-1])
            continue
        cells = [
            check_cell(c, width, height, len(classes), AttributeSchema(), diag, xml, class_name=repr(name))
            for c, name in _objects(tree, classes, xml, diag)
        ]
        records.append(ImageRecord(image, width, height, split, tuple(cells)))
    return records


def voc_file_class_names(xml: Path, diag: Diagnostics) -> list[str]:
    """Sorted object names of one annotation file (its classes when no names are given)."""
    tree = _parse(xml, diag)
    names = set() if tree is None else {(o.findtext("name") or "").strip() for o in tree.iter("object")}
    return sorted(names - {""})


def read_voc_annotation(xml: Path, image: Path, classes: list[str], diag: Diagnostics) -> ImageRecord:
    """Read one annotation file describing ``image`` (any folder layout); ``DataError`` if it is unreadable."""
    tree = _parse(xml, diag)
    if tree is None:
        raise DataError(f"{xml}: not a readable Pascal VOC annotation")
    width, height = _size(tree, image)
    cells = [
        check_cell(c, width, height, len(classes), AttributeSchema(), diag, xml, class_name=repr(name))
        for c, name in _objects(tree, classes, xml, diag)
    ]
    return ImageRecord(image, width, height, "all", tuple(cells))


def voc_annotation_text(rec: ImageRecord, name: str, classes: list[str]) -> str:
    """The annotation XML of ``rec`` whose image file is called ``name``."""
    return _xml(rec, name, classes)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _xml(rec: ImageRecord, name: str, classes: list[str]) -> str:
    objs = "".join(
        f"\t<object>\n\t\t<name>{classes[c.class_id]}</name>\n\t\t<difficult>0</difficult>\n\t\t<bndbox>\n"
        + "".join(f"\t\t\t<{k}>{_num(v)}</{k}>\n" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), c.box))
        + "\t\t</bndbox>\n\t</object>\n"
        for c in rec.cells
    )
    return (
        f"<annotation>\n\t<folder>JPEGImages</folder>\n\t<filename>{name}</filename>\n"
        f"\t<size>\n\t\t<width>{rec.width}</width>\n\t\t<height>{rec.height}</height>\n\t\t<depth>3</depth>\n"
        f"\t</size>\n{objs}</annotation>\n"
    )


def write_voc(ds: Dataset, dest: Path) -> dict[str, str]:
    """Write a VOC root at ``dest``; return ``{split: ImageSets file}``."""
    names = unique_names([r.path for r in ds.records], "VOC JPEGImages (one folder for all splits)")
    by_split: dict[str, list[str]] = {}
    for rec, name in zip(ds.records, names):
        stem = Path(name).stem
        place_image(rec.path, dest / "JPEGImages" / name)
        atomic_write_text(dest / "Annotations" / f"{stem}.xml", _xml(rec, name, ds.classes))
        by_split.setdefault(rec.split, []).append(stem)
    entries = {}
    for split in ds.splits:
        atomic_write_text(
            dest / "ImageSets" / "Main" / f"{split}.txt", "".join(s + "\n" for s in by_split[split])
        )
        entries[split] = f"ImageSets/Main/{split}.txt"
    return entries
