"""Vocabularies: the 14 LLD classes, the LLD attribute schema, other datasets' classes, LLD domain names.

One source of truth for names (Rehman et al. 2025, Sec. 3.3 and Table 3; reference spec Sec. 1.1 and 1.4).
"""

from __future__ import annotations

from pathlib import Path

from .schema import AttributeSchema, Domain

__all__ = [
    "LLD_CLASSES",
    "LLD_ATTRIBUTES",
    "LLD_NOT_APPLICABLE",
    "LLD_TABLE3_COUNTS",
    "WBCATT_CLASSES",
    "WBCATT_TO_LLD",
    "LLD_DOMAINS",
    "lld_schema",
    "LLD_WBC_TYPES",
    "GENERIC_WBC",
    "class_parents",
    "domain_from_path",
    "domain_of",
]

LLD_CLASSES: tuple[str, ...] = (
    "None",
    "Myeloblast",
    "Lymphoblast",
    "Neutrophil",
    "Atypical lymphocyte",
    "Promonocyte",
    "Monoblast",
    "Lymphocyte",
    "Myelocyte",
    "Abnormal promyelocyte",
    "Monocyte",
    "Metamyelocyte",
    "Eosinophil",
    "Basophil",
)
"""The 14 LeukemiaAttri classes in the authors' YOLO index order (class 0 "None" = artefacts/unnamed cells)."""

LLD_WBC_TYPES: tuple[str, ...] = tuple(c for c in LLD_CLASSES if c != "None")
"""The LLD classes that are WBC types (all but ``None``)."""

GENERIC_WBC = "WBC"
"""The class name of a white cell of no named type (BCCD, BCDD): the parent of the WBC types."""


def class_parents(names: list[str] | tuple[str, ...]) -> tuple[int, ...]:
    """The class hierarchy of a vocabulary (:mod:`leukodet.model.hierarchy`): every LLD WBC type is a child of
    :data:`GENERIC_WBC` when both are named; ``()`` (flat) when the vocabulary has no such pair."""
    names = list(names)
    if GENERIC_WBC not in names or not set(names) & set(LLD_WBC_TYPES):
        return ()
    wbc = names.index(GENERIC_WBC)
    return tuple(wbc if n in LLD_WBC_TYPES else -1 for n in names)


LLD_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "cell_size": ("small", "large"),
    "nuclear_chromatin": ("open", "coarse"),
    "nuclear_shape": ("regular", "irregular"),
    "nucleoli": ("inconspicuous", "prominent"),
    "cytoplasm": ("scanty", "abundant"),
    "cytoplasmic_basophilia": ("slight", "moderate"),
    "cytoplasmic_vacuoles": ("absent", "prominent"),
}
"""LLD attributes in label-column order (a0..a6); value index 0/1 as in the files."""

LLD_NOT_APPLICABLE: int = 2
"""Value written in LLD label files for "not applicable" (class None boxes)."""

LLD_TABLE3_COUNTS: dict[str, int] = {
    "Monocyte": 205,
    "Basophil": 19,
    "Promonocyte": 346,
    "Neutrophil": 1293,
    "Metamyelocyte": 101,
    "Lymphocyte": 322,
    "Abnormal promyelocyte": 276,
    "Monoblast": 484,
    "Lymphoblast": 1722,
    "Myelocyte": 304,
    "Eosinophil": 85,
    "Myeloblast": 2157,
    "Atypical lymphocyte": 419,
    "None": 2560,
}
"""Cell counts of one LeukemiaAttri subset (Rehman et al. 2025, Table 3, column A)."""

WBCATT_CLASSES: tuple[str, ...] = (
    "Basophil",
    "Eosinophil",
    "Erythroblast",
    "IG",
    "Lymphocyte",
    "Monocyte",
    "Neutrophil",
)
"""PBC-YOLO class order used by the WBCAtt crops' YOLO boxes."""

LLD_DOMAINS: tuple[str, ...] = tuple(
    f"{m}_{x}_{c}" for m in ("HCM", "LCM") for x in ("100x", "40x", "10x") for c in ("C1", "C2")
)
"""The 12 LeukemiaAttri subsets (Rehman et al. 2025, Table 2)."""


def lld_schema() -> AttributeSchema:
    """The LLD attribute schema (7 binary attributes, cell size first)."""
    return AttributeSchema.from_mapping(LLD_ATTRIBUTES)


def domain_from_path(path: str | Path) -> Domain:
    """The domain named by the nearest folder of ``path`` called like an LLD subset (``.../LCM_40x_C1/...``);
    an empty :class:`Domain` when no folder is."""
    for part in reversed(Path(path).parent.parts):
        if part in LLD_DOMAINS:
            return Domain.from_name(part)
    return Domain()


def domain_of(name: str) -> Domain:
    """Domain of an LLD subset name, e.g. ``HCM_100x_C2``; raises ``ValueError`` for unknown names."""
    if name not in LLD_DOMAINS:
        raise ValueError(f"unknown domain {name!r}; expected one of: {', '.join(LLD_DOMAINS)}")
    return Domain.from_name(name)


WBCATT_TO_LLD: dict[str, tuple[str, dict[str, str]]] = {
    "cell_size": ("cell_size", {"big": "large", "small": "small"}),
    "chromatin_density": ("nuclear_chromatin", {"densely": "coarse", "loosely": "open"}),
    "nucleus_shape": (
        "nuclear_shape",
        {
            "unsegmented-round": "regular",
            "unsegmented-indented": "irregular",
            "unsegmented-band": "irregular",
            "segmented-bilobed": "irregular",
            "segmented-multilobed": "irregular",
            "irregular": "irregular",
        },
    ),
    "nuclear_cytoplasmic_ratio": ("cytoplasm", {"high": "scanty", "low": "abundant"}),
    "cytoplasm_colour": (
        "cytoplasmic_basophilia",
        {"blue": "moderate", "light blue": "slight", "purple blue": "slight"},
    ),
    "cytoplasm_vacuole": ("cytoplasmic_vacuoles", {"no": "absent", "yes": "prominent"}),
}
"""WBCAtt attribute → (LLD attribute, {WBCAtt value: LLD value}), so a WBCAtt-trained head can serve LLD.

Chromatin density → chromatin (dense = coarse), nucleus shape → nuclear shape (only an unsegmented round
nucleus is regular), N:C ratio → cytoplasm amount (high ratio = scanty), cytoplasm colour → basophilia (deep
blue = moderate), vacuole → vacuoles, cell size → size. LLD's nucleoli has no WBCAtt counterpart; WBCAtt's
cell shape, cytoplasm texture and the three granule attributes have no LLD counterpart."""
