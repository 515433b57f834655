"""The HTML report opened in headless Chromium: table and galleries render, no script or image error.

Without Chromium the test skips with a loud reason, except under CI (``CI`` set), where it fails.
"""

from __future__ import annotations

from pathlib import Path

from leukodet.report.bank import bank_from_predictions
from leukodet.report.document import build_report, model_info
from leukodet.report.writers import write_report

from .browser import Dom, console_messages, render
from .film import SCHEMA, film


def _report(tmp_path: Path, conf: float = 0.25) -> Path:
    bank = bank_from_predictions(film(tmp_path), conf=conf, schema=SCHEMA)
    doc = build_report(bank, model_info(None, "best.pt", bank.classes))
    return write_report(doc, bank, tmp_path / f"out{conf}")["html"]


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    dom_text, log = render(_report(tmp_path), tmp_path / "profile")
    dom = Dom(dom_text)
    root = dom.find("html")[0]
    assert "data-error" not in root, root["data-error"]
    assert root.get("data-images") == "25 0"  # the load hook ran: 2 fields + 23 crops, none broken
    assert console_messages(log) == []
    assert len(dom.find("table", id="differential")) == 1
    rows = [a["data-class"] for t, a in dom.elements if t == "tr" and "data-class" in a]
    assert rows[:3] == ["Myeloblast", "Lymphoblast", "Neutrophil"]
    galleries = [g["data-class"] for g in dom.find("div", class_="gallery")]
    assert galleries == [
        "Myeloblast",
        "Lymphoblast",
        "Neutrophil",
        "Atypical lymphocyte",
        "Lymphocyte",
        "Abnormal promyelocyte",
        "None",
    ]
    assert len(dom.find("figure", class_="cell")) == 23 and len(dom.find("span", class_="chip")) > 100
    assert len(dom.find("div", class_="flag")) == 3 and dom.find("p", id="film-text")


def test_empty_report_renders_and_the_error_hook_works(tmp_path: Path) -> None:
    page = _report(tmp_path, conf=0.99)
    broken = page.with_name("broken.html")
    html = page.read_text().replace(
        "</body>", '<img src="data:image/jpeg;base64,AAAA"><script>notDefined();</script></body>'
    )
    broken.write_text(html)
    dom = Dom(render(page, tmp_path / "p1")[0])
    root = dom.find("html")[0]
    assert "data-error" not in root and root.get("data-images") == "2 0"
    assert dom.find("table", id="differential") and dom.find("p", id="film-text")
    bad = Dom(render(broken, tmp_path / "p2")[0]).find("html")[0]
    assert "notDefined" in bad.get("data-error", "") and bad.get("data-images") == "3 1"
