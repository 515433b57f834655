"""What ``leukodet report`` prints on stderr (kept free of image and model imports, so the CLI stays light)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .text import skipped_line

__all__ = ["summary_lines"]


def summary_lines(doc: Mapping[str, Any], out: str | Path) -> list[str]:
    """The film text, the cell count, each flag and warning, and the files written into ``out``."""
    lines = [doc["text"], doc["differential"]["summary"]]
    skipped = skipped_line(doc)
    if skipped:
        lines.append(f"warning: {skipped}")
    lines += [f"FLAG {f['message']}: {f['explanation']}" for f in doc["flags"]["fired"]]
    lines += [f"warning: {w}" for w in doc["flags"]["warnings"]]
    files = ", ".join(str(Path(out) / n) for n in ("report.json", "report.html", "report.md"))
    return lines + [f"wrote {files} (decision support, not a diagnosis)"]
