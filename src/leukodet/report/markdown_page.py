"""The report as Markdown (GitHub-flavoured tables, no images): the same sections as the HTML page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .text import apart_lines, field_counts, model_classes, review_summary, skipped_line

__all__ = ["render_markdown"]


def _cell(value: Any) -> str:
    """A table cell: ``None`` as an en dash, pipes and newlines escaped."""
    text = "–" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def _ci(ci: Sequence[float] | None) -> str:
    return "–" if ci is None else f"{ci[0]:.1f}–{ci[1]:.1f}%"


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]


def _flags(doc: Mapping[str, Any]) -> list[str]:
    flags = doc["flags"]
    lines = ["## Flags", ""]
    for f in flags["fired"]:
        lines.append(f"- **{f['message']}** ({f['severity']}; rule `{f['id']}`: {f['explanation']})")
    if not flags["fired"]:
        lines.append("No rule fired.")
    lines += [f"- Warning: {w}" for w in flags["warnings"]]
    evaluated = ", ".join(flags["evaluated"]) or "none"
    return lines + [
        "",
        f"Rules: {flags['rules']}; evaluated: {evaluated}. A flag asks for expert review.",
        "",
    ]


def _differential(doc: Mapping[str, Any]) -> list[str]:
    diff = doc["differential"]
    rows = [(r["label"], r["count"], _pct(r["percent"]), _ci(r["ci95"])) for r in diff["classes"]]
    rows.append(("**WBCs**", diff["total"], "", ""))
    lines = [
        "## Differential",
        "",
        f"**{diff['summary']}** (conventional manual differentials: 100 and 200).",
        "",
    ]
    lines += _table(("Class", "Count", "%", "95% CI (Wilson)"), rows)
    lines += ["", *(f"- {line}" for line in apart_lines(doc))]
    return lines + [""]


def _tally(t: Mapping[str, Any]) -> str:
    if t["n"] == 0:
        return "no calls"
    counts = ", ".join(f"{v} {k}" for v, k in t["counts"].items())
    return f"**{t['majority']}** ({counts})"


def _attributes(doc: Mapping[str, Any]) -> list[str]:
    attrs = doc["attributes"]
    names = list(attrs["schema"])
    lines = ["## Morphology", ""]
    if not names:
        return lines + ["The model predicts no attributes.", ""]
    rows = [["All WBCs", doc["differential"]["total"], *(_tally(attrs["overall"][n]) for n in names)]]
    for cls, entry in attrs["by_class"].items():
        if entry["n"]:
            rows.append([cls, entry["n"], *(_tally(entry["attributes"][n]) for n in names)])
    lines += ["Majority value per attribute (ties go to the first value of the schema).", ""]
    lines += _table(("Cells", "n", *names), rows) + [""]
    summaries = [f"- {e['summary']}" for e in attrs["by_class"].values() if e["n"]]
    return lines + (["Per WBC type:", "", *summaries, ""] if summaries else [])


def _v(value: Any) -> str:
    """A model fact; ``None`` (not known) reads "unknown"."""
    return "unknown" if value is None else str(value)


def _model(doc: Mapping[str, Any]) -> list[str]:
    m = {k: _v(v) if not isinstance(v, (list, dict)) else v for k, v in doc["model"].items()}
    t = {k: _v(v) for k, v in doc["model"]["training_data"].items()}
    return [
        "## Model",
        "",
        f"- Weights: {m['weights']} ({m['name']}), trained with leukodet {m['leukodet']}",
        f"- Classes (role): {model_classes(doc['model'])}",
        f"- Attributes: {', '.join(m['attributes']) or 'none'}",
        f"- Training data: {t.get('source')}: {t.get('train_images')} images, {t.get('train_boxes')} boxes; "
        f"{t.get('val_images')} validation images",
        f"- Report: {doc['generated_by']}, {doc['created']}, schema {doc['schema']}",
        "",
    ]


def _review(doc: Mapping[str, Any]) -> list[str]:
    note = review_summary(doc.get("review"))
    return [f"**{note}**", ""] if note else []


def render_markdown(doc: Mapping[str, Any]) -> str:
    """The Markdown page of report ``doc``."""
    fields = [(f["index"], f["image"], field_counts(f)) for f in doc["fields"]]
    lines = [
        "# Blood film report",
        "",
        f"> **{doc['disclaimer']}**",
        "",
        f"{len(doc['fields'])} fields; cells kept at confidence ≥ {doc['threshold']:g}; model {_v(doc['model']['weights'])}.",
        "",
        *_review(doc),
        *([f"**Warning: {skipped_line(doc)}**", ""] if skipped_line(doc) else []),
        "## Film description",
        "",
        doc["text"],
        "",
        *_flags(doc),
        *_differential(doc),
        *_attributes(doc),
        "## Fields",
        "",
        *_table(("#", "Image", "Cells"), fields),
        "",
        *_model(doc),
        f"> **{doc['disclaimer']}**",
    ]
    return "\n".join(lines) + "\n"
