"""The film-level text of the paper (Rehman et al. 2025, Fig. 4b): a fixed template filled from the bank.

Reference spec Sec. 5 / D20: slots [n cells, n fields, predominant type (+%), then the majority value of each
attribute]. The predominant type is the most frequent WBC class (none class left out; a tie goes to the class
listed first in the model's vocabulary); attribute majorities are over the same WBCs (tie → value index 0, see
:mod:`.morphology`). The wording is fixed, never free-written::

    143 WBCs in 12 fields. Predominant type: Myeloblast (41.3% of WBCs). Most WBCs show open chromatin,
    regular nuclear shape, prominent nucleoli, scanty cytoplasm, moderate cytoplasmic basophilia and
    cytoplasmic vacuoles absent.

Attributes are schema-driven: LLD attributes use the phrases below, any other attribute ``name value`` with
underscores read as spaces, and an attribute without calls (the model predicts none) is left out; with no
attribute at all the last sentence is dropped. No WBC above the threshold gives exactly :data:`NO_WBC`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .differential import Differential
from .morphology import Morphology

__all__ = [
    "LLD_PHRASES",
    "NO_WBC",
    "attribute_clause",
    "class_summary",
    "film_text",
    "join_clauses",
    "review_summary",
]

NO_WBC = "no WBC found"

LLD_PHRASES: dict[str, str] = {
    "cell_size": "{v} cell size",
    "nuclear_chromatin": "{v} chromatin",
    "nuclear_chromatio": "{v} chromatin",  # the key spelled as in UH's LeukemiaAttri COCO loader
    "nuclear_shape": "{v} nuclear shape",
    "nucleoli": "{v} nucleoli",
    "nucleolus": "{v} nucleoli",
    "cytoplasm": "{v} cytoplasm",
    "cytoplasmic_basophilia": "{v} cytoplasmic basophilia",
    "cytoplasmic_vacuoles": "cytoplasmic vacuoles {v}",
}
"""Fixed phrase per LLD attribute (and the UH spellings); ``{v}`` is the value word (spec Sec. 1.4)."""


def attribute_clause(name: str, value: str) -> str:
    """The fixed phrase of one attribute value, e.g. ``open chromatin`` or ``granularity fine``."""
    template = LLD_PHRASES.get(name, name.replace("_", " ").strip() + " {v}")
    return template.format(v=value)


def join_clauses(clauses: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(clauses) <= 1:
        return "".join(clauses)
    return ", ".join(clauses[:-1]) + " and " + clauses[-1]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def predominant(diff: Differential) -> tuple[str, int] | None:
    """The most frequent WBC class and its count (tie → first in model order), ``None`` with no WBC."""
    best = None
    for row in diff.classes:
        if row.count > 0 and (best is None or row.count > best[1]):
            best = (row.name, row.count)
    return best


def film_text(diff: Differential, morph: Morphology, n_fields: int) -> str:
    """The film-level text (see the module docstring for the template)."""
    top = predominant(diff)
    if top is None or diff.total == 0:
        return NO_WBC
    name, count = top
    pct = 100.0 * count / diff.total
    text = (
        f"{_plural(diff.total, 'WBC')} in {_plural(n_fields, 'field')}. "
        f"Predominant type: {name} ({pct:.1f}% of WBCs)."
    )
    clauses = [attribute_clause(k, v) for k, v in morph.majority().items()]
    if clauses:
        text += f" Most WBCs show {join_clauses(clauses)}."
    return text


def class_summary(name: str, n: int, majority: Mapping[str, str]) -> str:
    """One WBC type's line, e.g. ``Myeloblast (60 cells): open chromatin and prominent nucleoli.``"""
    head = f"{name} ({_plural(n, 'cell')})"
    if n == 0:
        return f"{head}."
    clauses = [attribute_clause(k, v) for k, v in majority.items()]
    return f"{head}: {join_clauses(clauses)}." if clauses else f"{head}: no attribute predicted."


def review_summary(review: Mapping[str, Any] | None) -> str | None:
    """One sentence on a person's review of the report (the ``review`` section), ``None`` when unreviewed."""
    if not review or not review.get("changes"):
        return None
    cells = review["reviewed_cells"]
    ids = ", ".join(str(i) for i in cells[:30]) + (", ..." if len(cells) > 30 else "")
    return (
        f"Reviewed by {', '.join(review['reviewers'])}: {_plural(review['changes'], 'change')}, "
        f"{_plural(len(cells), 'cell')} reviewed (ids {ids}), {len(review['changed_cells'])} changed from the "
        f"model's call; last change {review['updated']}. The model's own output is kept "
        f"({review['model_report']}) and every change is in the audit log ({review['audit']})."
    )
