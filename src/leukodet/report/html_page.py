"""The report as one self-contained HTML page: inline CSS, images as data URIs, no external resource.

Sections: film text, flags (with rule warnings), differential table with 95 % intervals, attribute tables
(overall and per WBC type), field thumbnails with the kept boxes, one cell gallery per WBC type with attribute
chips, the model and its training data, and the decision-support disclaimer at the top and the bottom.

The only script is an inline hook that records script errors, ``console.error`` calls and images that fail to
decode as attributes of ``<html>`` (``data-error``, ``data-images="total broken"``), so a headless browser's
dumped DOM shows whether the page rendered cleanly.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ..eval.annotate import class_colour
from ..records.roles import ROLES, WBC
from .bank import BankCell, MorphologyBank
from .text import apart_lines, attribute_clause, field_counts, model_classes, review_summary, skipped_line

__all__ = ["GALLERY_LIMIT", "FIELD_LIMIT", "render_html"]

GALLERY_LIMIT = 60
"""Most cells shown per WBC type (highest scores first); the JSON lists all."""

FIELD_LIMIT = 60
"""Most field thumbnails shown; the JSON lists all fields."""

_HOOK = """(function () {
  var root = document.documentElement;
  function mark(msg) {
    var old = root.getAttribute('data-error');
    root.setAttribute('data-error', (old ? old + ' | ' : '') + String(msg));
  }
  window.addEventListener('error', function (e) {
    mark(e.message || ('cannot load ' + ((e.target && e.target.tagName) || 'resource')));
  }, true);
  var original = console.error;
  console.error = function () { mark(Array.prototype.join.call(arguments, ' ')); original.apply(console, arguments); };
  window.addEventListener('load', function () {
    var imgs = document.images, broken = 0;
    for (var i = 0; i < imgs.length; i++) { if (!imgs[i].complete || imgs[i].naturalWidth === 0) { broken++; } }
    root.setAttribute('data-images', imgs.length + ' ' + broken);
  });
})();"""

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 1.5rem auto; max-width: 72rem;
  padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
.disclaimer { background: #fff4e5; border-left: 5px solid #e08a00; padding: .6rem .9rem; font-weight: 600; }
.film-text { font-size: 1.15rem; background: #f3f6fa; padding: .8rem 1rem; border-radius: 6px; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { border: 1px solid #ccc; padding: .25rem .55rem; }
th { background: #f0f0f0; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .35rem; }
.flag { border-left: 5px solid #c62828; background: #fdecea; padding: .4rem .8rem; margin: .4rem 0; }
.flag.review { border-color: #e08a00; background: #fff4e5; } .flag.info { border-color: #1565c0;
  background: #e3f2fd; } .warning { color: #8a5a00; } .muted { color: #666; }
.fields, .gallery { display: flex; flex-wrap: wrap; gap: .6rem; }
figure { margin: 0; } .field img { max-width: 22rem; height: auto; border: 1px solid #ccc; }
.cell { width: 7.5rem; border: 3px solid #999; border-radius: 4px; padding: 2px; font-size: .75rem; }
.cell img { width: 100%; height: auto; display: block; } .noimg { height: 5rem; background: #eee; }
.chip { display: inline-block; background: #eef1f5; border-radius: 9px; padding: 0 .4rem; margin: 1px;
  font-size: .7rem; }
.review { border-left: 5px solid #2e7d32; background: #edf7ee; padding: .4rem .8rem; }
.scroll { overflow-x: auto; } dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; } dt { font-weight: 600; }
"""


def _e(value: Any) -> str:
    """HTML-escaped text; ``None`` (an unknown value) reads "unknown"."""
    return escape("unknown" if value is None else str(value))


def _data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def _ci(ci: Sequence[float] | None) -> str:
    return "–" if ci is None else f"{ci[0]:.1f}–{ci[1]:.1f}%"


def _swatch(colour: tuple[int, int, int]) -> str:
    return f'<span class="swatch" style="background: rgb{colour}"></span>'


def _differential(doc: Mapping[str, Any], classes: Sequence[str]) -> str:
    diff = doc["differential"]
    rows = []
    for row in diff["classes"]:
        idx = classes.index(row["class"]) if row["class"] in classes else len(classes)
        rows.append(
            f'<tr data-class="{_e(row["class"])}"><td>{_swatch(class_colour(idx))}{_e(row["label"])}</td>'
            f'<td class="num">{row["count"]}</td><td class="num">{_pct(row["percent"])}</td>'
            f'<td class="num">{_ci(row["ci95"])}</td></tr>'
        )
    apart = "".join(f'<p class="muted apart">{_e(line)}</p>' for line in apart_lines(doc))
    return (
        '<section id="differential-section"><h2>Differential</h2>'
        f"<p><strong>{_e(diff['summary'])}</strong> (conventional manual differentials: 100 and 200 cells).</p>"
        '<table id="differential"><thead><tr><th>Class</th><th>Count</th><th>%</th>'
        "<th>95% CI (Wilson)</th></tr></thead><tbody>"
        + "".join(rows)
        + f'</tbody><tfoot><tr><th>WBCs</th><td class="num">{diff["total"]}</td><td></td><td></td></tr>'
        "</tfoot></table>" + apart + "</section>"
    )


def _flags(doc: Mapping[str, Any]) -> str:
    flags = doc["flags"]
    items = [
        f'<div class="flag {_e(f["severity"])}" data-flag="{_e(f["id"])}"><strong>{_e(f["message"])}</strong>'
        f'<br><span class="muted">rule {_e(f["id"])}: {_e(f["explanation"])}</span></div>'
        for f in flags["fired"]
    ]
    body = "".join(items) or '<p id="no-flags">No rule fired.</p>'
    warnings = "".join(f'<p class="warning">Warning: {_e(w)}</p>' for w in flags["warnings"])
    return (
        '<section id="flags"><h2>Flags</h2>'
        + body
        + warnings
        + f'<p class="muted">Rules: {_e(flags["rules"])}; evaluated: {_e(", ".join(flags["evaluated"]) or "none")}.'
        " A flag asks for expert review; it is not a diagnosis.</p></section>"
    )


def _tally_cells(tally: Mapping[str, Any]) -> str:
    if tally["n"] == 0:
        return '<td class="muted">no calls</td>'
    counts = ", ".join(f"{_e(v)} {k}" for v, k in tally["counts"].items())
    return f"<td><strong>{_e(tally['majority'])}</strong> <span class='muted'>({counts})</span></td>"


def _attributes(doc: Mapping[str, Any]) -> str:
    attrs = doc["attributes"]
    names = list(attrs["schema"])
    if not names:
        return (
            '<section id="morphology"><h2>Morphology</h2><p class="muted">The model predicts no attributes.</p>'
            "</section>"
        )
    head = (
        "<tr><th>Cells</th><th>n</th>"
        + "".join(f"<th>{_e(n.replace('_', ' '))}</th>" for n in names)
        + "</tr>"
    )
    overall = attrs["overall"]
    n_all = doc["differential"]["total"]
    rows = [
        f'<tr><td>All WBCs</td><td class="num">{n_all}</td>{"".join(_tally_cells(overall[n]) for n in names)}</tr>'
    ]
    for cls, entry in attrs["by_class"].items():
        if entry["n"]:
            cells = "".join(_tally_cells(entry["attributes"][n]) for n in names)
            rows.append(
                f'<tr data-class="{_e(cls)}"><td>{_e(cls)}</td><td class="num">{entry["n"]}</td>{cells}</tr>'
            )
    summaries = "".join(f"<li>{_e(e['summary'])}</li>" for e in attrs["by_class"].values() if e["n"])
    return (
        '<section id="morphology"><h2>Morphology</h2><p class="muted">Majority value per attribute (ties go to the '
        'first value of the schema), with the counts of every value.</p><div class="scroll">'
        '<table id="attributes"><thead>' + head + "</thead><tbody>" + "".join(rows) + "</tbody></table></div>"
        f'<ul id="type-summaries">{summaries}</ul></section>'
    )


def _fields(doc: Mapping[str, Any], bank: MorphologyBank) -> str:
    figures = []
    for field, info in list(zip(bank.fields, doc["fields"]))[:FIELD_LIMIT]:
        img = (
            f'<img src="{_data_uri(field.thumbnail)}" alt="field {info["index"]}">'
            if field.thumbnail
            else '<div class="noimg">image not readable</div>'
        )
        figures.append(
            f'<figure class="field">{img}<figcaption>{_e(field.image)}: {_e(field_counts(info))}'
            "</figcaption></figure>"
        )
    more = len(bank.fields) - FIELD_LIMIT
    extra = f'<p class="muted">{more} more fields are listed in report.json.</p>' if more > 0 else ""
    return f'<section id="fields"><h2>Fields ({len(bank.fields)})</h2><div class="fields">{"".join(figures)}</div>{extra}</section>'


def _cell_figure(cell: BankCell, colour: tuple[int, int, int]) -> str:
    img = (
        f'<img src="{_data_uri(cell.crop)}" alt="{_e(cell.class_name)}">'
        if cell.crop
        else '<div class="noimg"></div>'
    )
    chips = "".join(
        f'<span class="chip" title="{_e(name)}{"" if s is None else f" {s:.2f}"}">{_e(attribute_clause(name, v))}</span>'
        for name, (v, s) in cell.attributes.items()
    )
    return (
        f'<figure class="cell" style="border-color: rgb{colour}">{img}<figcaption>score {cell.score:.2f}'
        f"<br>{chips}</figcaption></figure>"
    )


def _classes(bank: MorphologyBank) -> list[str]:
    """The vocabulary, then any class seen but not in it (colour index = position)."""
    return list(bank.classes) + sorted({c.class_name for c in bank.cells} - set(bank.classes))


def _galleries(bank: MorphologyBank) -> str:
    parts = []
    classes = _classes(bank)
    rank = {role: i for i, role in enumerate(ROLES)}
    order = sorted(range(len(classes)), key=lambda i: rank[bank.role(classes[i])])  # WBCs first, by role
    for idx in order:
        cls = classes[idx]
        members = sorted((c for c in bank.cells if c.class_name == cls), key=lambda c: -c.score)
        if not members:
            continue
        shown = "".join(_cell_figure(c, class_colour(idx)) for c in members[:GALLERY_LIMIT])
        note = f" (showing the {GALLERY_LIMIT} highest scores)" if len(members) > GALLERY_LIMIT else ""
        role = bank.role(cls)
        apart = "" if role == WBC else f" ({role}, not a WBC)"
        parts.append(
            f"<h3>{_swatch(class_colour(idx))}{_e(cls)}{apart}: {len(members)}{note}</h3>"
            f'<div class="gallery" data-class="{_e(cls)}">{shown}</div>'
        )
    body = "".join(parts) or '<p class="muted">No cell above the threshold.</p>'
    return f'<section id="galleries"><h2>Cells by class</h2>{body}</section>'


def _model(doc: Mapping[str, Any]) -> str:
    m = doc["model"]
    t = m["training_data"]
    rows = [
        ("Weights", m["weights"]),
        ("Architecture", m["name"]),
        ("Classes (role)", model_classes(m)),
        ("Attributes", ", ".join(m["attributes"]) or "none"),
        ("Training data", f"{t.get('source')}: {t.get('train_images')} images, {t.get('train_boxes')} boxes"),
        ("Validation images", t.get("val_images")),
        ("Trained with", f"leukodet {m['leukodet']}"),
        ("Report", f"{doc['generated_by']}, {doc['created']}, schema {doc['schema']}"),
    ]
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return f'<section id="model"><h2>Model</h2><dl>{items}</dl></section>'


def render_html(doc: Mapping[str, Any], bank: MorphologyBank) -> str:
    """The page for report ``doc`` (images from ``bank``, which the document was built from)."""
    n_fields = len(doc["fields"])
    summary = (
        f"{n_fields} field{'s' if n_fields != 1 else ''}; cells kept at confidence ≥ {doc['threshold']:g}; "
        f"model {_e(doc['model']['weights'])}."
    )
    skipped = skipped_line(doc)
    if skipped:
        summary += f'</p><p class="warning" id="skipped-fields">{_e(skipped)}'
    disclaimer = f'<p class="disclaimer" role="note">{_e(doc["disclaimer"])}</p>'
    reviewed = review_summary(doc.get("review"))
    note = f'<p class="review" id="review-note">{_e(reviewed)}</p>' if reviewed else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>leukodet film report</title><script>{_HOOK}</script><style>{_CSS}</style></head><body>"
        f"<header><h1>Blood film report</h1>{disclaimer}<p class='muted'>{summary}</p>{note}</header>"
        f'<section id="summary"><h2>Film description</h2><p class="film-text" id="film-text">{_e(doc["text"])}</p>'
        '<p class="muted">Fixed template filled from the detections (predominant WBC type, majority attribute '
        "values); never free-written.</p></section>"
        + _flags(doc)
        + _differential(doc, _classes(bank))
        + _attributes(doc)
        + _fields(doc, bank)
        + _galleries(bank)
        + _model(doc)
        + f"<footer>{disclaimer}</footer></body></html>\n"
    )
