"""docs/paper_map.md stays honest: every function it names exists, cites its equation, and sits at the line given."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(
    r"^\| (?P<eq>[0-9–-]+) \| [^|]+ \| `(?P<name>leukodet\.[\w.]+)` \| `(?P<file>[\w/.]+):(?P<line>\d+)` \|$"
)
CITED = re.compile(r"Eqs?\.\s*\(?(\d+)\)?(?:\s*[-–]\s*\(?(\d+)\)?)?")


def _rows() -> list[dict[str, str]]:
    text = (ROOT / "docs" / "paper_map.md").read_text()
    return [m.groupdict() for line in text.splitlines() if (m := ROW.match(line))]


def _equations(spec: str) -> set[int]:
    """``"4"`` → {4}; ``"4–13"`` → {4, 13} (the ends of a range are what a docstring must cite)."""
    return {int(x) for x in re.split(r"[–-]", spec)}


def _cited(doc: str) -> set[int]:
    found: set[int] = set()
    for first, last in CITED.findall(doc):
        found |= set(range(int(first), int(last or first) + 1))
    return found


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_table_names_every_equation_of_the_paper() -> None:
    covered = set().union(*(_equations(r["eq"]) for r in _rows()))
    assert covered >= set(range(1, 14))


@pytest.mark.parametrize("row", _rows(), ids=lambda r: f"Eq{r['eq']}-{r['name'].rsplit('.', 1)[-1]}")
def test_function_cites_its_equation_at_the_line_given(row: dict[str, str]) -> None:
    fn = _resolve(row["name"])
    doc = inspect.getdoc(fn) or ""
    assert _equations(row["eq"]) <= _cited(doc), f"{row['name']}: docstring cites {sorted(_cited(doc))}"
    file = Path(inspect.getsourcefile(fn) or "").resolve()
    line = inspect.getsourcelines(fn)[1]
    assert (file, line) == ((ROOT / row["file"]).resolve(), int(row["line"])), (
        f"docs/paper_map.md: {row['name']} is at {file.relative_to(ROOT)}:{line}"
    )


def test_citation_reader() -> None:
    assert _cited("Eqs. (4)-(13) for one batch; Eq. 3 too") == set(range(3, 14))
    assert _cited("Eq. (10): the hinge") == {10}
    assert _cited("no equation here") == set()
