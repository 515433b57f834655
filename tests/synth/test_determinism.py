"""Determinism: the same command and seed give byte-identical output whatever the output folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from leukodet.synth.field import render_field
from leukodet.synth.generate import generate_dataset, split_plan


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_folders_identical_bytes(tmp_path: Path) -> None:
    kw = dict(sparse=0.2, masks=True, label_rbc=True, size=192, progress=False)
    a = generate_dataset(tmp_path / "a" / "deep", 10, 3, **kw)  # type: ignore[arg-type]
    b = generate_dataset(tmp_path / "b", 10, 3, **kw)  # type: ignore[arg-type]
    ta, tb = _tree(a.parent), _tree(b.parent)
    assert ta.keys() == tb.keys()
    assert all(ta[k] == tb[k] for k in ta)
    assert sum(k.startswith("images/") for k in ta) == 10
    assert all(k.endswith(".png") for k in ta if k.startswith("images/"))
    text = b"".join(ta.values())
    assert str(tmp_path).encode() not in text


def test_other_seed_differs() -> None:
    a, b = render_field(1, size=160), render_field(2, size=160)
    assert not np.array_equal(a.image, b.image)
    c = render_field(1, size=160)
    assert np.array_equal(a.image, c.image) and a.cells == c.cells


def test_split_plan_80_10_10() -> None:
    plan = split_plan(100)
    counts = {s: sum(1 for p in plan if p[0] == s) for s in ("train", "val", "test")}
    assert counts == {"train": 80, "val": 10, "test": 10}
    assert split_plan(100) == plan
    assert len(split_plan(1)) == 1
