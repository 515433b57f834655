"""How every benchmark reports: one JSON line on stdout, saved atomically to ``benchmarks/results/<name>.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leukodet.records.files import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"


def publish(name: str, result: dict[str, Any]) -> str:
    """Print ``result`` as one JSON line and save it as ``results/<name>.json``; returns the line."""
    line = json.dumps(result)
    print(line, flush=True)
    atomic_write_text(RESULTS / f"{name}.json", line + "\n")
    return line
