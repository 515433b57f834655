"""YOLO-family splits: an images folder (or list) with labels in the sibling ``labels`` tree."""

from __future__ import annotations

import json
from pathlib import Path

from .diagnostics import DataError, Diagnostics
from .files import atomic_write_text, place_image, unique_names
from .images import IMAGE_SUFFIXES, image_size
from .schema import AttributeSchema, Box, Dataset, Domain, ImageRecord
from .validate import check_cell
from .vocab import lld_schema
from .yolo_io import (
    REGIONS_SIDECAR,
    ParsedLine,
    cells_to_lines,
    choose_patch_order,
    detect_columns,
    label_path,
    lines_to_cells,
    read_lines,
    read_sidecar,
)

__all__ = [
    "scan_yolo_split",
    "read_yolo_split",
    "write_yolo",
    "report_orphan_labels",
    "label_regions",
    "sidecar_entry",
]


def scan_yolo_split(images: list[Path], diag: Diagnostics) -> tuple[dict[Path, list[ParsedLine]], str | None]:
    """Parse the label file of every image; return ``{image: lines}`` and the split's format (or None)."""
    parsed: dict[Path, list[ParsedLine]] = {}
    for image in diag.track(images, "labels"):
        lp = label_path(image)
        parsed[image] = read_lines(lp, diag) if lp.is_file() else []
    return parsed, detect_columns(parsed)


def _full_image(region: Box, width: int, height: int) -> bool:
    x1, y1, x2, y2 = region
    return x1 <= 1 and y1 <= 1 and x2 >= width - 1 and y2 >= height - 1


def label_regions(
    fmt: str, patches: list[Box], sidecar_entry: object, width: int, height: int
) -> tuple[Box, ...] | None:
    """Labelled regions of one image: its ``regions.json`` entry (``"absent"`` if none), else the lld16 patches."""
    if sidecar_entry != "absent":
        return None if sidecar_entry is None else tuple(sidecar_entry)  # type: ignore[arg-type]
    if fmt != "lld16":
        return None
    if len(patches) == 1 and _full_image(patches[0], width, height):
        return None
    return tuple(patches)


def read_yolo_split(
    images: list[Path],
    split: str,
    classes: list[str],
    schema: AttributeSchema | None,
    diag: Diagnostics,
    domain: Domain = Domain(),
) -> tuple[list[ImageRecord], AttributeSchema, str | None]:
    """Read one YOLO-family split.

    Args:
        images: image files of the split (labels are found with :func:`label_path`).
        schema: the dataset's attribute schema; ``None`` = not given (LLD preset for 12/16-column files).

    Returns:
        records, the schema used, and the detected format (``yolo``/``lld12``/``lld16`` or None if no lines).
    """
    parsed, fmt = scan_yolo_split(images, diag)
    report_orphan_labels(images, diag)
    if schema is None:
        schema = lld_schema() if fmt in ("lld12", "lld16") else AttributeSchema()
    order = choose_patch_order(parsed) if fmt == "lld16" else "xyxy"
    sidecars: dict[Path, dict[str, list[Box] | None]] = {}
    records: list[ImageRecord] = []
    for image, lines in diag.track(parsed.items(), f"{split} images", len(parsed)):
        try:
            width, height = image_size(image)
        except DataError as exc:
            diag.report(image, None, "bad_image", str(exc).split(": ", 1)[-1])
            continue
        lp = label_path(image)
        numbered, patches = lines_to_cells(lines, fmt or "yolo", width, height, schema, diag, lp, order)
        cells = [
            check_cell(c, width, height, len(classes), schema, diag, lp, n, lab) for c, n, lab in numbered
        ]
        if lp.parent not in sidecars:
            sidecars[lp.parent] = read_sidecar(lp.parent, diag)
        entry = sidecars[lp.parent].get(image.name, "absent")
        regions = label_regions(fmt or "yolo", patches, entry, width, height)
        records.append(ImageRecord(image, width, height, split, tuple(cells), regions, domain))
    return records, schema, fmt


def report_orphan_labels(images: list[Path], diag: Diagnostics) -> None:
    """Report label files that have no image on disk (they would otherwise be ignored silently).

    An image that exists but belongs to another split (a ``train.txt`` list naming part of a folder) is not
    missing: its label is that split's, not an orphan."""
    image_dirs: dict[Path, set[Path]] = {}
    for image in images:
        image_dirs.setdefault(label_path(image).parent, set()).add(image.parent)
    for labels_dir, dirs in image_dirs.items():
        stems = {p.stem for d in dirs for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
        for txt in sorted(labels_dir.glob("*.txt")):
            if txt.stem not in stems:
                diag.report(txt, None, "orphan_label", "label file has no image")


def sidecar_entry(rec: ImageRecord) -> list[list[float]] | None | str:
    """What regions.json must hold for ``rec`` (``"absent"`` when its label lines carry the region)."""
    if rec.cells and (rec.labeled_regions is None or len(rec.labeled_regions) == 1):
        return "absent"
    if rec.labeled_regions is None:
        return None
    return [[x1, y1, x2 - x1, y2 - y1] for x1, y1, x2, y2 in rec.labeled_regions]


def write_yolo(ds: Dataset, dest: Path, fmt: str) -> dict[str, str]:
    """Write ``ds`` as ``dest/images/<split>/`` + ``dest/labels/<split>/*.txt``; return ``{split: images dir}``.

    For ``lld16`` the patch columns hold the image's single labelled region (the whole image when fully
    labelled); images whose regions the lines cannot carry (none, several, or no boxes) go to
    ``labels/<split>/regions.json``.
    """
    entries: dict[str, str] = {}
    for split in ds.splits:
        recs = ds.split(split)
        names = unique_names([r.path for r in recs], f"split {split}")
        sidecar: dict[str, object] = {}
        for rec, name in zip(recs, names):
            place_image(rec.path, dest / "images" / split / name)
            full: Box = (0.0, 0.0, float(rec.width), float(rec.height))
            patch = rec.labeled_regions[0] if rec.labeled_regions else full
            text = cells_to_lines(rec.cells, fmt, rec.width, rec.height, ds.attributes, patch)
            atomic_write_text(dest / "labels" / split / (Path(name).stem + ".txt"), text)
            entry = sidecar_entry(rec) if fmt == "lld16" else "absent"
            if entry != "absent":
                sidecar[name] = entry
        if sidecar:
            atomic_write_text(dest / "labels" / split / REGIONS_SIDECAR, json.dumps(sidecar, indent=1) + "\n")
        entries[split] = f"images/{split}"
    return entries
