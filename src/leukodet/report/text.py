"""The film-level text of the paper (Rehman et al. 2025, Fig. 4b): a fixed template filled from the bank.

Reference spec Sec. 5 / D20: slots [n cells, n fields, predominant type (+%), then the majority value of each
attribute]. The predominant type is the most frequent WBC class (none class left out; a tie goes to the class
listed first in the model's vocabulary); attribute majorities are over the same WBCs (tie → value index 0, see
:mod:`.morphology`). The wording is fixed, never free-written::

    143 WBCs in 12 fields. Predominant type: Myeloblast (41.3% of WBCs). Most WBCs show open chromatin,
    regular nuclear shape, prominent nucleoli, scanty cytoplasm, moderate cytoplasmic basophilia and
    cytoplasmic vacuoles absent.

A generic ``WBC`` class (white cells the model found but did not type) is said so: "57 WBCs in 3 fields, 12 of
them untyped." (or "all untyped: ..."), and the predominant type is taken over the typed WBCs only. Red cells,
platelets and artefacts are never called WBCs: one last sentence counts red cells and platelets apart
(:func:`smear_text`).

Attributes are schema-driven: LLD attributes use the phrases below, any other attribute ``name value`` with
underscores read as spaces, and an attribute without calls (the model predicts none) is left out; with no
attribute at all the last sentence is dropped. No WBC above the threshold gives exactly :data:`NO_WBC`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .differential import Differential
from .morphology import Morphology
from .smear import SmearCounts

__all__ = [
    "LLD_PHRASES",
    "NO_WBC",
    "apart_lines",
    "attribute_clause",
    "class_summary",
    "field_counts",
    "film_text",
    "join_clauses",
    "model_classes",
    "review_summary",
    "skipped_line",
    "smear_text",
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
    """The most frequent typed WBC class and its count (tie → first in model order), ``None`` with none."""
    best = None
    for row in diff.classes:
        if not row.untyped and row.count > 0 and (best is None or row.count > best[1]):
            best = (row.name, row.count)
    return best


def _wbc_sentence(diff: Differential, n_fields: int) -> str:
    head = f"{_plural(diff.total, 'WBC')} in {_plural(n_fields, 'field')}"
    untyped = diff.untyped
    if untyped == diff.total:
        return f"{head}, all untyped: the model finds WBCs but does not name their type."
    top = predominant(diff)
    assert top is not None
    name, count = top
    of = f", {untyped} of them untyped" if untyped else ""
    return f"{head}{of}. Predominant type: {name} ({100.0 * count / diff.total:.1f}% of WBCs)."


def film_text(diff: Differential, morph: Morphology, n_fields: int, apart: str = "") -> str:
    """The film-level text (see the module docstring for the template); ``apart`` (:func:`smear_text`) is the
    last sentence, on red cells, platelets and artefacts."""
    if diff.total == 0:
        return f"{NO_WBC}. {apart}" if apart else NO_WBC
    text = _wbc_sentence(diff, n_fields)
    clauses = [attribute_clause(k, v) for k, v in morph.majority().items()]
    if clauses:
        text += f" Most WBCs show {join_clauses(clauses)}."
    return f"{text} {apart}" if apart else text


def smear_text(smear: SmearCounts) -> str:
    """``Counted apart from the WBCs: 50 RBCs (16.7 per field) and 3 platelets (1.0 per field; platelet
    estimate 20,000/µL).``; empty when the film has neither (artefacts stay in the differential's notes, so an
    LLD film's text is exactly the paper's template)."""
    parts = []
    for tally, word in ((smear.rbc, "RBC"), (smear.platelets, "platelet")):
        if tally.evaluated and tally.total:
            parts.append(f"{_plural(tally.total, word)} ({tally.mean_per_field:.1f} per field")
    if parts and smear.platelets.evaluated and smear.platelets.total:
        estimate = smear.platelet_estimate
        parts[-1] += f"; platelet estimate {estimate:,.0f}/µL"
    parts = [p + ")" for p in parts]
    return f"Counted apart from the WBCs: {join_clauses(parts)}." if parts else ""


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


def field_counts(info: Mapping[str, Any]) -> str:
    """A field's kept cells by role, e.g. ``16 cells: 1 WBC, 14 RBCs, 1 platelet``."""
    parts = [
        _plural(info.get(key, 0), word)
        for key, word in (("wbc", "WBC"), ("rbc", "RBC"), ("platelets", "platelet"))
        if key == "wbc" or info.get(key, 0)
    ]
    if info.get("apart", 0):
        parts.append(f"{info['apart']} counted apart")
    return f"{_plural(info['cells'], 'cell')}: {', '.join(parts)}"


def skipped_line(doc: Mapping[str, Any]) -> str | None:
    """``2 fields could not be read and are left out of every count: a.png (cannot decode image), ...``."""
    skipped = doc.get("skipped_fields") or []
    if not skipped:
        return None
    listed = ", ".join(f"{s['image']} ({s['reason']})" for s in skipped[:10])
    more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    verb = "could not be read and is" if len(skipped) == 1 else "could not be read and are"
    return f"{_plural(len(skipped), 'field')} {verb} left out of every count: {listed}{more}."


def apart_lines(doc: Mapping[str, Any]) -> list[str]:
    """What the differential leaves out, one sentence each: artefacts and other classes, red cells, platelets
    (with the smear estimate and its caveat); shared by the HTML and Markdown pages."""
    lines = []
    apart = doc["differential"]["apart"]
    if apart:
        counts = ", ".join(f"{a['class']} ({a['role']}) {a['count']}" for a in apart)
        lines.append(f"Counted apart (not in the percentages): {counts}.")
    smear = doc["smear"]
    rbc, plt = smear["rbc"], smear["platelets"]
    if rbc["evaluated"]:
        lines.append(
            f"Red cells: {rbc['total']} in {_plural(len(rbc['per_field']), 'field')} "
            f"({_per_field(rbc['mean_per_field'])}); {rbc['note']}."
        )
    else:
        lines.append("Red cells: not evaluated (the model has no red-cell class).")
    if plt["evaluated"]:
        estimate = plt["estimate_per_ul"]
        lines.append(
            f"Platelets: {plt['total']} in {_plural(len(plt['per_field']), 'field')} "
            f"({_per_field(plt['mean_per_field'])}); estimated {estimate:,}/µL ({plt['note']})."
        )
    else:
        lines.append("Platelets: not evaluated (the model has no platelet class).")
    return lines


def _per_field(mean: float | None) -> str:
    return "no field" if mean is None else f"{mean:.1f} per field"


def model_classes(model: Mapping[str, Any]) -> str:
    """The model's classes with their roles, e.g. ``Platelets (platelet), RBC (rbc), WBC (wbc)``."""
    roles = list(model.get("roles") or [])
    classes = list(model["classes"])
    if len(roles) != len(classes):
        return ", ".join(classes)
    return ", ".join(f"{c} ({r})" for c, r in zip(classes, roles))
