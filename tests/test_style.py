"""Code-shape rules from docs/design: small modules and functions, no catch-all modules, records without torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "leukodet"


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_module_and_function_sizes() -> None:
    too_long = []
    for path in _modules():
        text = path.read_text()
        if text.count("\n") > 400:
            too_long.append(f"{path.relative_to(SRC)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    too_long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, too_long


def test_no_catch_all_module_names() -> None:
    bad = [p for p in _modules() if p.stem in {"utils", "misc", "general", "helpers", "common"}]
    assert not bad


def test_records_layer_imports_no_torch() -> None:
    code = "import sys, leukodet.records, leukodet.records.sources; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_ruff_lint_and_format_clean() -> None:
    root = SRC.parents[1]
    paths = [str(root / p) for p in ("src", "tests", "benchmarks")]
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", *paths], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout[-3000:]
    fmt = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *paths], capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout[-3000:]
