"""Per-class priors of the synthetic generator: attribute probabilities, class frequencies, cell counts.

The attribute table encodes hematology-textbook tendencies (e.g. blasts: open chromatin, prominent nucleoli,
scanty cytoplasm; neutrophils: coarse chromatin, multilobed nucleus, abundant pale cytoplasm). Each entry is
the probability that the attribute takes value index 1 (``large``, ``coarse``, ``irregular``, ``prominent``,
``abundant``, ``moderate``, ``prominent``) for a cell of that class; attributes are drawn independently given
the class. Every probability lies in [0.03, 0.97] so that every value of every attribute occurs for every
class given enough cells. Class ``None`` (artefacts, smudge cells, bare nuclei) has no attributes (all
``None`` = not applicable). Class frequencies follow Rehman et al. (2025) Table 3 with a 1 % floor.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from leukodet.records.vocab import LLD_ATTRIBUTES, LLD_CLASSES, LLD_TABLE3_COUNTS

__all__ = [
    "ATTRIBUTE_NAMES",
    "ATTRIBUTE_PRIORS",
    "CLASS_FLOOR",
    "class_frequencies",
    "sample_class",
    "sample_attributes",
    "sample_wbc_count",
]

ATTRIBUTE_NAMES: tuple[str, ...] = tuple(LLD_ATTRIBUTES)
"""Attribute names in LLD column order (cell_size, nuclear_chromatin, ..., cytoplasmic_vacuoles)."""

# P(value index 1) per class, columns in ATTRIBUTE_NAMES order:
#                          size  chrom shape nucli cyto  baso  vacu
ATTRIBUTE_PRIORS: dict[str, tuple[float, ...]] = {
    "Myeloblast":            (0.70, 0.10, 0.20, 0.85, 0.30, 0.70, 0.10),
    "Lymphoblast":           (0.30, 0.15, 0.25, 0.60, 0.10, 0.60, 0.15),
    "Neutrophil":            (0.55, 0.95, 0.97, 0.03, 0.95, 0.05, 0.05),
    "Atypical lymphocyte":   (0.80, 0.60, 0.40, 0.15, 0.85, 0.90, 0.15),
    "Promonocyte":           (0.90, 0.20, 0.80, 0.40, 0.80, 0.60, 0.30),
    "Monoblast":             (0.95, 0.10, 0.20, 0.80, 0.80, 0.70, 0.25),
    "Lymphocyte":            (0.10, 0.95, 0.10, 0.03, 0.10, 0.30, 0.03),
    "Myelocyte":             (0.70, 0.70, 0.20, 0.10, 0.90, 0.20, 0.05),
    "Abnormal promyelocyte": (0.85, 0.30, 0.60, 0.50, 0.80, 0.40, 0.10),
    "Monocyte":              (0.95, 0.40, 0.90, 0.05, 0.95, 0.40, 0.60),
    "Metamyelocyte":         (0.60, 0.80, 0.95, 0.03, 0.90, 0.10, 0.05),
    "Eosinophil":            (0.60, 0.90, 0.90, 0.03, 0.95, 0.05, 0.03),
    "Basophil":              (0.40, 0.90, 0.70, 0.03, 0.70, 0.30, 0.10),
}  # fmt: skip
"""Probability of attribute value index 1 per class (class ``None`` has no attributes)."""

CLASS_FLOOR: float = 0.01
"""Minimum frequency of every class (so that rare classes such as Basophil appear in small datasets)."""


def class_frequencies(floor: float = CLASS_FLOOR) -> np.ndarray:
    """Class probabilities in LLD index order: Table 3 proportions, each raised to at least ``floor``.

    Args:
        floor: minimum probability of each class; the remaining mass is shared proportionally to Table 3.

    Returns:
        Float64 array of length 14 summing to 1.
    """
    counts = np.array([LLD_TABLE3_COUNTS[c] for c in LLD_CLASSES], dtype=np.float64)
    p = counts / counts.sum()
    low = p < floor
    for _ in range(len(p)):
        fixed = floor * low.sum()
        p = np.where(low, floor, p / p[~low].sum() * (1.0 - fixed) if (~low).any() else p)
        new_low = p < floor - 1e-12
        if not (new_low & ~low).any():
            break
        low |= new_low
    return p / p.sum()


_FREQ = class_frequencies()


def sample_class(rng: np.random.Generator, freqs: np.ndarray | None = None) -> int:
    """Draw one class index (LLD order) from ``freqs`` (default: Table 3 with the 1 % floor)."""
    p = _FREQ if freqs is None else freqs
    return int(rng.choice(len(p), p=p))


def sample_attributes(rng: np.random.Generator, class_id: int) -> dict[str, int | None]:
    """Draw the 7 binary attributes of a cell of ``class_id`` from :data:`ATTRIBUTE_PRIORS`.

    Always consumes exactly 7 uniform draws so that the random stream does not depend on the class.

    Returns:
        ``{attribute name: 0 | 1}``; every value is ``None`` for class ``None`` (index 0).
    """
    u = rng.random(len(ATTRIBUTE_NAMES))
    name = LLD_CLASSES[class_id]
    if name not in ATTRIBUTE_PRIORS:
        return {a: None for a in ATTRIBUTE_NAMES}
    probs = ATTRIBUTE_PRIORS[name]
    return {a: int(u[i] < probs[i]) for i, a in enumerate(ATTRIBUTE_NAMES)}


def sample_wbc_count(rng: np.random.Generator, field_factor: float, cap: int = 40) -> int:
    """Number of WBC-like objects in a field.

    A 100x field at the reference size holds ``1 + Binomial(5, 0.4)`` objects (1–6, mean 3); a field that
    covers ``field_factor`` times that area (lower magnification) holds ``1 + Binomial(5 * f, 0.4)``,
    capped at ``cap``.
    """
    trials = max(1, int(round(5 * field_factor)))
    return int(min(cap, 1 + rng.binomial(trials, 0.4)))


def attribute_marginals(counts: Mapping[int, int]) -> dict[str, float]:
    """Expected P(value 1) per attribute for a given class histogram (used by tests and docs)."""
    total = sum(n for c, n in counts.items() if LLD_CLASSES[c] in ATTRIBUTE_PRIORS)
    out = {}
    for i, a in enumerate(ATTRIBUTE_NAMES):
        s = sum(
            n * ATTRIBUTE_PRIORS[LLD_CLASSES[c]][i]
            for c, n in counts.items()
            if LLD_CLASSES[c] in ATTRIBUTE_PRIORS
        )
        out[a] = s / total if total else float("nan")
    return out
