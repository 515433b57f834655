"""Sparse splits keep exactly the boxes whose centre is in the region, are seed-stable and byte-identical."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from leukodet.records import load_source, write_dataset
from leukodet.records.sparsify import sample_region, sparsify_dataset

from ..conftest import lld_dataset


def _source(tmp_path: Path) -> Path:
    ds = lld_dataset(tmp_path, with_regions=False)
    return write_dataset(ds, tmp_path / "full", "coco")


def test_region_keeps_exactly_centres_inside(tmp_path: Path) -> None:
    full, _ = load_source(_source(tmp_path))
    sparse = sparsify_dataset(full, 0.2, seed=7)
    for before, after in zip(full.records, sparse.records):
        if before.split != "train":
            assert after == before
            continue
        (region,) = after.labeled_regions
        x1, y1, x2, y2 = region
        assert (
            abs((x2 - x1) * (y2 - y1) - 0.2 * before.width * before.height)
            < 1e-6 * before.width * before.height
        )
        assert abs((x2 - x1) / (y2 - y1) - before.width / before.height) < 1e-9
        inside = [c for c in before.cells if x1 <= c.center[0] <= x2 and y1 <= c.center[1] <= y2]
        assert list(after.cells) == inside  # whole, unclipped boxes, same order


def test_region_is_seed_stable_and_seed_dependent() -> None:
    assert sample_region(640, 480, 0.2, 3, "a") == sample_region(640, 480, 0.2, 3, "a")
    assert sample_region(640, 480, 0.2, 3, "a") != sample_region(640, 480, 0.2, 4, "a")
    assert sample_region(640, 480, 0.2, 3, "a") != sample_region(640, 480, 0.2, 3, "b")


def test_image_mode_labels_a_fraction_fully(tmp_path: Path) -> None:
    full, _ = load_source(_source(tmp_path))
    sparse = sparsify_dataset(full, 0.5, seed=1, mode="image")
    train = sparse.split("train")
    assert sum(r.labeled_regions is None for r in train) == 2
    assert all(r.cells == () for r in train if r.labeled_regions == ())


def _cli_sparsify(src: Path, out: Path) -> subprocess.CompletedProcess[str]:
    args = ["sparsify", str(src), "--fraction", "0.2", "--seed", "5", "--out", str(out)]
    return subprocess.run([sys.executable, "-m", "leukodet.cli", *args], capture_output=True, text=True)


def test_cli_output_byte_identical_across_folders(tmp_path: Path) -> None:
    src = _source(tmp_path)
    assert _cli_sparsify(src, tmp_path / "a").returncode == 0
    assert _cli_sparsify(src, tmp_path / "deeper" / "b").returncode == 0
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(
        p.relative_to(tmp_path / "deeper" / "b")
        for p in (tmp_path / "deeper" / "b").rglob("*")
        if p.is_file()
    )
    assert files_a == files_b and files_a
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "deeper" / "b" / rel).read_bytes(), rel
    text = (tmp_path / "a" / "annotations" / "train.json").read_text()
    assert "labeled_regions" in text and str(tmp_path) not in text
    back, _ = load_source(tmp_path / "a" / "data.yaml")
    assert all(r.labeled_regions is not None for r in back.split("train"))
    assert all(r.labeled_regions is None for r in back.split("val"))


def test_cli_refuses_non_empty_output(tmp_path: Path) -> None:
    src = _source(tmp_path)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    proc = _cli_sparsify(src, tmp_path / "busy")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error:") and "not empty" in proc.stderr
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"
