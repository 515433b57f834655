"""The package's layers: no import cycle between modules and no layer importing one above it.

Every import of ``src/leukodet`` is read from the source (module-level and function-level alike, since an import
inside a function still ties the two modules), so a cycle hidden by a late import fails here too. The layers are
declared once, in :data:`LAYERS` (docs/architecture.md explains them).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "leukodet"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("_version", "config", "comparator_config", "attrihead_config", "records"),
    ("synth", "data", "model", "losses", "eval", "domains", "bundled"),
    ("infer",),
    ("engine",),
    ("report", "active"),
    ("serve",),
    ("tasks",),
    ("demo", "pretrain", "pretrain_general"),
    ("api",),
    ("cli", "__init__"),
)
"""Bottom to top: a module may import its own layer and the layers below, never one above. ``__init__`` is the
package's own ``leukodet/__init__.py`` (the lazy public names)."""


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The ``leukodet`` modules that ``path`` imports (a name imported from a package counts as its module
    when it is one, else as the package)."""
    here = _module(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                if f"{origin}.{alias.name}" in modules:
                    found.add(f"{origin}.{alias.name}")
                elif origin in modules:
                    found.add(origin)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
    return found - {here}


def _graph() -> dict[str, set[str]]:
    files = sorted(SRC.rglob("*.py"))
    modules = {_module(p) for p in files}
    return {_module(p): _imports(p, modules) for p in files}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_unit_is_in_a_layer() -> None:
    declared = {u for layer in LAYERS for u in layer}
    assert len(declared) == sum(len(layer) for layer in LAYERS), "a unit is declared in two layers"
    assert {_unit(m) for m in _graph()} == declared


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_no_layer_imports_one_above_it() -> None:
    level = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
    upward = [
        f"{a} (layer {level[_unit(a)]}) imports {b} (layer {level[_unit(b)]})"
        for a, targets in _graph().items()
        for b in sorted(targets)
        if level[_unit(b)] > level[_unit(a)]
    ]
    assert upward == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set(), "c": {"b"}}, []),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
    ],
)
def test_cycle_finder_finds_planted_cycles(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert sorted(_cycles(graph)) == expected
