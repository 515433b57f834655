"""Sparse-LeukemiaAttri 16-column files: patch column order (D14), 640-px scaling, empty files, sidecar."""

from __future__ import annotations

import json
from pathlib import Path

from leukodet.records import load_source

from ..conftest import write_image

ATTRS = "0 1 0 1 0 1 0"


def _ds(tmp_path: Path, files: dict[str, str], size: tuple[int, int] = (640, 640)) -> Path:
    for stem, text in files.items():
        write_image(tmp_path / "images" / "train" / f"{stem}.png", *size)
        (tmp_path / "labels" / "train").mkdir(parents=True, exist_ok=True)
        (tmp_path / "labels" / "train" / f"{stem}.txt").write_text(text)
    return tmp_path / "images" / "train"


def test_code_order_x1_y1_x2_y2(tmp_path: Path) -> None:
    # patch x 100..300, y 400..600; box centre (200, 500) px
    src = _ds(tmp_path, {"a": f"1 0.3125 0.78125 0.05 0.05 100 400 300 600 {ATTRS}\n"})
    ds, diag = load_source(src)
    assert diag.problems == []
    assert ds.classes[1] == "Myeloblast"
    assert ds.records[0].labeled_regions == ((100.0, 400.0, 300.0, 600.0),)
    assert ds.records[0].cells[0].attributes["nuclear_chromatin"] == 1


def test_readme_order_x1_x2_y1_y2_detected(tmp_path: Path) -> None:
    # patch x 300..500, y 0..200 written as px1 px2 py1 py2; read as x1 y1 x2 y2 it is no rectangle
    src = _ds(tmp_path, {"a": f"1 0.625 0.15625 0.05 0.05 300 500 0 200 {ATTRS}\n"})
    ds, diag = load_source(src)
    assert diag.problems == []
    assert ds.records[0].labeled_regions == ((300.0, 0.0, 500.0, 200.0),)


def test_patch_scaled_from_640_to_image_size(tmp_path: Path) -> None:
    src = _ds(tmp_path, {"a": f"1 0.3125 0.78125 0.05 0.05 100 400 300 600 {ATTRS}\n"}, size=(1280, 720))
    ds, _ = load_source(src)
    assert ds.records[0].labeled_regions == ((200.0, 450.0, 600.0, 675.0),)


def test_empty_file_means_nothing_labelled_unless_sidecar(tmp_path: Path) -> None:
    src = _ds(
        tmp_path,
        {"a": f"1 0.3125 0.78125 0.05 0.05 100 400 300 600 {ATTRS}\n", "b": "", "c": ""},
    )
    (tmp_path / "labels" / "train" / "regions.json").write_text(json.dumps({"c.png": [[10, 20, 30, 40]]}))
    ds, _ = load_source(src)
    by = {r.stem: r for r in ds.records}
    assert by["b"].labeled_regions == ()
    assert by["c"].labeled_regions == ((10.0, 20.0, 40.0, 60.0),)


def test_not_applicable_is_two(tmp_path: Path) -> None:
    src = _ds(tmp_path, {"a": "0 0.3125 0.78125 0.05 0.05 0 0 640 640 2 2 2 2 2 2 2\n"})
    ds, _ = load_source(src)
    assert set(ds.records[0].cells[0].attributes.values()) == {None}
    assert ds.records[0].labeled_regions is None  # a whole-image patch = fully labelled
