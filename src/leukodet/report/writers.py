"""Write a film report: ``report.json``, ``report.html`` and ``report.md``, each atomically.

All three pages are rendered in memory first, so a rendering error writes nothing; each file then appears
complete or not at all (temporary file + ``os.replace``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..records.diagnostics import DataError
from ..records.files import atomic_write_text
from .bank import MorphologyBank
from .html_page import render_html
from .markdown_page import render_markdown

__all__ = ["REPORT_FILES", "write_report"]

REPORT_FILES = {"json": "report.json", "html": "report.html", "markdown": "report.md"}


def write_report(doc: Mapping[str, Any], bank: MorphologyBank, out: str | Path) -> dict[str, Path]:
    """Write the three report files of ``doc`` (built from ``bank``) into folder ``out``.

    Returns:
        ``{"json": path, "html": path, "markdown": path}``.
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{folder}: exists and is not a folder")
    pages = {
        "json": json.dumps(doc, indent=1, ensure_ascii=False) + "\n",
        "html": render_html(doc, bank),
        "markdown": render_markdown(doc),
    }
    paths = {}
    for kind, text in pages.items():
        paths[kind] = folder / REPORT_FILES[kind]
        atomic_write_text(paths[kind], text)
    return paths
