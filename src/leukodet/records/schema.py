"""Typed records of the data model: images, cells, labelled regions, domains, datasets.

Pure Python (no torch): every reader produces these records and every writer consumes them. One internal
convention: boxes are absolute-pixel ``(x1, y1, x2, y2)`` of the image as stored on disk; normalised or
640-px coordinates exist only at file I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = [
    "Box",
    "Attribute",
    "AttributeSchema",
    "Domain",
    "Cell",
    "ImageRecord",
    "Dataset",
    "SPLIT_ORDER",
]

Box = tuple[float, float, float, float]
"""Absolute-pixel ``(x1, y1, x2, y2)`` box."""

SPLIT_ORDER: tuple[str, ...] = ("train", "val", "test", "all")
"""Canonical split order used whenever splits are listed or written."""


@dataclass(frozen=True)
class Attribute:
    """One morphological attribute and its ordered value names (kept verbatim, e.g. ``light blue``)."""

    name: str
    values: tuple[str, ...]

    def index(self, value: str) -> int:
        """Return the index of ``value``; raises ``ValueError`` naming the allowed values."""
        try:
            return self.values.index(value)
        except ValueError:
            raise ValueError(
                f"attribute {self.name!r} has no value {value!r} (allowed: {', '.join(self.values)})"
            ) from None


@dataclass(frozen=True)
class AttributeSchema:
    """Ordered attributes of a dataset: data, not code, so binary (LLD) and multi-valued (WBCAtt) both fit."""

    attributes: tuple[Attribute, ...] = ()

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Sequence[str]] | None) -> AttributeSchema:
        """Build from ``{name: [values]}`` (the YAML / COCO form); ``None`` gives the empty schema."""
        if not mapping:
            return cls(())
        return cls(tuple(Attribute(str(k), tuple(str(v) for v in vals)) for k, vals in mapping.items()))

    def to_mapping(self) -> dict[str, list[str]]:
        """Inverse of :meth:`from_mapping`."""
        return {a.name: list(a.values) for a in self.attributes}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    def __len__(self) -> int:
        return len(self.attributes)

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self.attributes)

    def __getitem__(self, name: str) -> Attribute:
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(f"unknown attribute {name!r} (schema: {', '.join(self.names) or 'empty'})")


@dataclass(frozen=True)
class Domain:
    """Acquisition domain of an image (LLD subsets: microscope HCM/LCM, magnification, camera C1/C2)."""

    microscope: str | None = None
    magnification: str | None = None
    camera: str | None = None

    def is_empty(self) -> bool:
        return self.microscope is None and self.magnification is None and self.camera is None

    def to_dict(self) -> dict[str, str]:
        """Non-empty fields only, in a fixed order."""
        out = {"microscope": self.microscope, "magnification": self.magnification, "camera": self.camera}
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_dict(cls, d: Mapping[str, object] | None) -> Domain:
        d = d or {}
        unknown = set(d) - {"microscope", "magnification", "camera"}
        if unknown:
            raise ValueError(f"unknown domain keys: {', '.join(sorted(unknown))}")

        def get(k: str) -> str | None:
            v = d.get(k)
            return None if v is None else str(v)

        return cls(get("microscope"), get("magnification"), get("camera"))

    @classmethod
    def from_name(cls, name: str) -> Domain:
        """Parse an LLD subset name such as ``HCM_100x_C2``."""
        parts = name.split("_")
        if len(parts) != 3:
            raise ValueError(
                f"domain name {name!r} is not MICROSCOPE_MAGNIFICATION_CAMERA (e.g. HCM_100x_C2)"
            )
        return cls(*parts)

    @property
    def name(self) -> str:
        """``HCM_100x_C2`` style name; missing parts shown as ``?``."""
        return "_".join(p or "?" for p in (self.microscope, self.magnification, self.camera))


@dataclass(frozen=True)
class Cell:
    """One annotated object.

    Attributes:
        box: absolute-pixel xyxy box in the image's own pixels.
        class_id: index into the dataset's class names (may be out of range in a bad file: see ``validate``).
        attributes: ``{attribute name: value index}`` for every attribute of the schema; ``None`` means
            "not applicable" (LLD value 2, COCO ``null``/absent). Empty when the schema is empty.
    """

    box: Box
    class_id: int
    attributes: Mapping[str, int | None] = field(default_factory=dict)

    @property
    def center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2.0, (y1 + y2) / 2.0

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


@dataclass(frozen=True)
class ImageRecord:
    """One image (a microscope field) and its annotation.

    Attributes:
        path: absolute path of the image file.
        width, height: image size in pixels.
        split: split name (``train``/``val``/``test``/``all`` or any name from a dataset YAML).
        cells: every parsed box, valid or not (readers never drop a parsed box).
        labeled_regions: rectangles (absolute-pixel xyxy) inside which every cell is labelled.
            ``None`` = the whole image is labelled; ``()`` = nothing in this image is labelled.
        domain: acquisition domain tags.
    """

    path: Path
    width: int
    height: int
    split: str = "all"
    cells: tuple[Cell, ...] = ()
    labeled_regions: tuple[Box, ...] | None = None
    domain: Domain = Domain()

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def fully_labeled(self) -> bool:
        return self.labeled_regions is None

    def with_(self, **changes: object) -> ImageRecord:
        """Return a copy with ``changes`` applied (dataclasses.replace)."""
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass
class Dataset:
    """Records of all splits plus the vocabulary that gives them meaning."""

    records: list[ImageRecord]
    classes: list[str]
    attributes: AttributeSchema = AttributeSchema()
    roles: dict[str, str] = field(default_factory=dict)
    """Roles declared for classes (``{class: role}``, :mod:`leukodet.records.roles`); the others take defaults."""

    @property
    def splits(self) -> list[str]:
        """Split names present, canonical ones first (train, val, test, all), then others in first-seen order."""
        seen: list[str] = []
        for r in self.records:
            if r.split not in seen:
                seen.append(r.split)
        canon = [s for s in SPLIT_ORDER if s in seen]
        return canon + [s for s in seen if s not in SPLIT_ORDER]

    def split(self, name: str) -> list[ImageRecord]:
        return [r for r in self.records if r.split == name]

    def num_boxes(self) -> int:
        return sum(len(r.cells) for r in self.records)
