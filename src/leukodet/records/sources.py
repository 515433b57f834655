"""Load any supported source into a :class:`Dataset`: a dataset YAML, a COCO file, a VOC / WBCAtt / BCDD root
or a YOLO images folder. Every problem goes to one :class:`Diagnostics`, attributed to its split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .bcdd_io import bcdd_classes, is_bcdd_root, read_bcdd
from .coco_io import coco_classes, coco_schema, load_coco_json, read_coco
from .diagnostics import DataError, Diagnostics
from .files import inside
from .images import IMAGE_SUFFIXES
from .roles import RolesError, declared_roles
from .schema import AttributeSchema, Dataset, Domain, ImageRecord
from .voc_io import is_voc_root, read_voc_split, voc_class_names, voc_split_ids
from .vocab import LLD_CLASSES, WBCATT_CLASSES, domain_from_path
from .wbcatt_io import is_wbcatt_root, read_wbcatt_split, wbcatt_schema, wbcatt_splits
from .yolo_dataset import read_yolo_split, scan_yolo_split

__all__ = ["YAML_SPLITS", "load_source", "read_dataset_yaml"]

YAML_SPLITS: tuple[str, ...] = ("train", "val", "test", "all")
"""Split keys a dataset YAML may name (``all``: a dataset without splits, as ``convert`` writes one)."""


def load_source(source: str | Path, diag: Diagnostics | None = None) -> tuple[Dataset, Diagnostics]:
    """Read ``source`` (any supported form); returns the dataset and the diagnostics collected."""
    diag = diag or Diagnostics()
    ds = _load(Path(source), diag)
    records = [r if not r.domain.is_empty() else r.with_(domain=domain_from_path(r.path)) for r in ds.records]
    return Dataset(records, ds.classes, ds.attributes, ds.roles), diag


def _load(path: Path, diag: Diagnostics) -> Dataset:
    """Dispatch on the kind of ``path`` (see :func:`load_source`)."""
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file() and path.suffix.lower() in (".yaml", ".yml"):
        return read_dataset_yaml(path, diag)
    if path.is_file() and path.suffix.lower() == ".json":
        doc = load_coco_json(path)
        classes, schema = coco_classes(doc), coco_schema(doc) or AttributeSchema()
        diag.set_split("all")
        recs = read_coco(path, "all", [], classes, schema, diag)
        return Dataset(recs, classes, schema)
    if path.is_dir():
        for name in ("data.yaml", "data.yml"):
            if (path / name).is_file():
                return read_dataset_yaml(path / name, diag)
        for probe, reader in ((is_voc_root, _voc), (is_wbcatt_root, _wbcatt), (is_bcdd_root, _bcdd)):
            if probe(path):
                return reader(path, diag)
        images = _images_under(path)
        if images:
            return _yolo_folder(path, images, diag)
    raise DataError(
        f"{path}: cannot tell the dataset format (expected a dataset YAML, a COCO .json, a VOC root, a WBCAtt "
        "root, a BCDD folder or a YOLO images folder)"
    )


def _images_under(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and "labels" not in p.parts
    )


def _voc(root: Path, diag: Diagnostics, classes: list[str] | None = None) -> Dataset:
    classes = classes or voc_class_names(root, diag)
    records: list[ImageRecord] = []
    for split, ids in voc_split_ids(root).items():
        diag.set_split(split)
        records += read_voc_split(root, split, ids, classes, diag)
    return Dataset(records, classes)


def _wbcatt(root: Path, diag: Diagnostics) -> Dataset:
    schema = wbcatt_schema(root)
    records: list[ImageRecord] = []
    for split in wbcatt_splits(root):
        diag.set_split(split)
        records += read_wbcatt_split(root, split, schema, diag)
    return Dataset(records, list(WBCATT_CLASSES), schema)


def _bcdd(root: Path, diag: Diagnostics) -> Dataset:
    classes = bcdd_classes(root)
    diag.set_split("all")
    return Dataset(read_bcdd(root, classes, diag), classes)


def _yolo_folder(folder: Path, images: list[Path], diag: Diagnostics) -> Dataset:
    """A bare YOLO images folder: names from ``classes.txt`` if present, LLD for 12/16 columns, else numbers."""
    diag.set_split("all")
    parsed, fmt = scan_yolo_split(images, Diagnostics())
    names_file = next(
        (p for p in (folder / "classes.txt", folder.parent / "classes.txt") if p.is_file()), None
    )
    if names_file is not None:
        classes = [ln.strip() for ln in names_file.read_text(encoding="utf-8").splitlines() if ln.strip()]
    elif fmt in ("lld12", "lld16"):
        classes = list(LLD_CLASSES)
    else:
        top = max((int(ln.values[0]) for lines in parsed.values() for ln in lines if ln.values), default=0)
        classes = [str(i) for i in range(top + 1)]
    records, schema, _ = read_yolo_split(images, "all", classes, None, diag)
    return Dataset(records, classes, schema)


def _key_lines(path: Path, text: str) -> dict[str, int]:
    """1-based line of each top-level key of a YAML mapping (for error messages)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value}


def _names(raw: Any, where: str) -> list[str]:
    if isinstance(raw, list):
        return [str(n) for n in raw]
    if isinstance(raw, dict):
        ids = sorted(int(k) for k in raw)
        if ids != list(range(len(ids))):
            raise DataError(f"{where}: 'names' ids must be 0..{len(ids) - 1}, found {ids}")
        return [str(raw[i] if i in raw else raw[str(i)]) for i in ids]
    raise DataError(f"{where}: 'names' must be a list or a mapping {{id: name}}")


def read_dataset_yaml(path: Path, diag: Diagnostics) -> Dataset:
    """Read an ultralytics-style dataset YAML (``names``, ``attributes``, ``path``, and the splits
    ``train``/``val``/``test``/``all``).

    Extensions: ``domain`` (a name like ``HCM_100x_C2`` or a mapping) applies to images without their own; a
    split entry may be a mapping ``{path: ..., domain: ...}`` to set a domain per split (or per entry). An
    image's domain is, first found: its own (COCO ``domain``), its split entry's, the nearest folder of its
    path named like an LLD subset, the YAML's ``domain``. ``roles`` (a list in class order or a mapping
    ``{class: role}``) declares what each class is for the film report (:mod:`leukodet.records.roles`).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (a dataset YAML must be UTF-8 text)") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise DataError(f"{path}{line}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(doc, dict):
        raise DataError(f"{path}: a dataset YAML must be a mapping with names and train/val/test")
    lines = _key_lines(path, text)

    def where(key: str) -> str:
        return f"{path}:{lines[key]}" if key in lines else str(path)

    if "names" not in doc:
        raise DataError(f"{path}: missing 'names' (the class names)")
    classes = _names(doc["names"], where("names"))
    try:
        roles = declared_roles(doc.get("roles"), classes, where("roles"))
    except RolesError as exc:
        raise DataError(str(exc)) from None
    schema = None if doc.get("attributes") is None else AttributeSchema.from_mapping(doc["attributes"])
    domain = _domain(doc.get("domain"), where("domain"))
    root = path.parent / str(doc.get("path") or ".")
    splits = [s for s in YAML_SPLITS if doc.get(s)]
    if not splits:
        raise DataError(f"{path}: names none of the splits {', '.join(YAML_SPLITS)}")
    records: list[ImageRecord] = []
    for split in splits:
        diag.set_split(split)
        entries = doc[split] if isinstance(doc[split], list) else [doc[split]]
        for entry in entries:
            entry, own = _split_entry(entry, where(split))
            target = root / str(entry)
            if not target.exists():
                raise DataError(f"{where(split)}: split '{split}' names {target}, which does not exist")
            recs, schema = _read_split(target, split, root, classes, schema, diag)
            records += [
                r if not r.domain.is_empty() else r.with_(domain=_first(own, r, domain)) for r in recs
            ]
    return Dataset(records, classes, schema or AttributeSchema(), roles)


def _listed_images(listing: Path, root: Path, diag: Diagnostics) -> list[Path]:
    """The images a ``.txt`` split list names (one path per line, relative to the data root); a line whose
    path leaves the root is reported with its line number and skipped."""
    out = []
    for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        path = inside(root, line.strip())
        if path is None:
            diag.report(listing, number, "outside_root", f"{line.strip()!r} leaves the data root {root}")
            continue
        out.append(path)
    return out


def _split_entry(entry: Any, where: str) -> tuple[Any, Domain]:
    """A split entry and its own domain: ``{path: ..., domain: ...}`` or a plain path (no domain)."""
    if not isinstance(entry, dict):
        return entry, Domain()
    unknown = set(entry) - {"path", "domain"}
    if "path" not in entry or unknown:
        raise DataError(
            f"{where}: a split entry mapping takes 'path' and 'domain' (got {', '.join(map(str, entry))})"
        )
    return entry["path"], _domain(entry.get("domain"), where)


def _first(own: Domain, rec: ImageRecord, default: Domain) -> Domain:
    """The split entry's domain, else the image folder's LLD name, else the YAML's default."""
    if not own.is_empty():
        return own
    from_path = domain_from_path(rec.path)
    return from_path if not from_path.is_empty() else default


def _domain(raw: Any, where: str) -> Domain:
    try:
        return Domain.from_name(raw) if isinstance(raw, str) else Domain.from_dict(raw)
    except (ValueError, AttributeError) as exc:
        raise DataError(f"{where}: bad 'domain': {exc}") from None


def _read_split(
    target: Path,
    split: str,
    root: Path,
    classes: list[str],
    schema: AttributeSchema | None,
    diag: Diagnostics,
) -> tuple[list[ImageRecord], AttributeSchema | None]:
    """Read one split entry; returns its records and the (possibly now established) schema."""
    if target.suffix.lower() == ".json":
        if schema is None:
            schema = coco_schema(load_coco_json(target)) or AttributeSchema()
        return read_coco(target, split, [root], classes, schema, diag), schema
    if target.is_dir():
        images = [p for p in _images_under(target)]
        recs, schema, _ = read_yolo_split(images, split, classes, schema, diag)
        return recs, schema
    if target.suffix.lower() == ".txt":
        voc_root = target.parents[2] if len(target.parents) > 2 else target.parent
        if target.parent.name == "Main" and is_voc_root(voc_root):
            ids = [ln.split()[0] for ln in target.read_text(encoding="utf-8").splitlines() if ln.strip()]
            return read_voc_split(voc_root, split, ids, classes, diag), schema or AttributeSchema()
        listed = _listed_images(target, root, diag)
        recs, schema, _ = read_yolo_split(listed, split, classes, schema, diag)
        return recs, schema
    raise DataError(f"{target}: a split must be an images folder, a COCO .json or a .txt list")
