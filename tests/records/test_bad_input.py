"""Bad input: one clear message naming file and line; --strict makes it fatal; nothing dropped silently."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from leukodet.records import DataError, Diagnostics, load_source

from ..conftest import write_image


def _yolo(tmp_path: Path, lines: str, width: int = 100, height: int = 50) -> Path:
    write_image(tmp_path / "ds" / "images" / "train" / "a.png", width, height)
    (tmp_path / "ds" / "labels" / "train").mkdir(parents=True)
    (tmp_path / "ds" / "labels" / "train" / "a.txt").write_text(lines)
    (tmp_path / "ds" / "data.yaml").write_text("names: [x, y]\ntrain: images/train\n")
    return tmp_path / "ds" / "data.yaml"


@pytest.mark.parametrize(
    ("line", "reason", "text"),
    [
        ("0 0.5 0.5 0.2", "bad_columns", "expected 5 numbers"),
        ("0 0.5 abc 0.2 0.2", "not_a_number", "'abc' is not a number"),
        ("0 0.5 nan 0.2 0.2", "not_a_number", "not a finite number"),
        ("0 0.5 0.5 0 0.2", "zero_size", "zero or negative size"),
        ("7 0.5 0.5 0.2 0.2", "unknown_class", "class id 7"),
        ("0 1.5 0.5 0.2 0.2", "outside_image", "outside the 100x50 image"),
        ("0.5 0.5 0.5 0.2 0.2", "unknown_class", "class id 0.5 is not one of"),
    ],
)
def test_bad_line_named_with_file_and_line(tmp_path: Path, line: str, reason: str, text: str) -> None:
    src = _yolo(tmp_path, "1 0.5 0.5 0.2 0.2\n" + line + "\n")
    ds, diag = load_source(src)
    (problem,) = diag.problems
    assert problem.reason == reason and problem.line == 2 and problem.file.endswith("a.txt")
    assert text in str(problem) and str(problem).startswith(problem.file + ":2: ")
    with pytest.raises(DataError, match=r"a\.txt:2: "):
        load_source(src, Diagnostics(strict=True))
    parsed = reason not in ("bad_columns", "not_a_number")
    assert len(ds.records[0].cells) == (2 if parsed else 1)  # a parsed box is never dropped


def test_overshoot_of_one_pixel_is_clipped_not_invalid(tmp_path: Path) -> None:
    # box x from -0.8 px to 20 px on a 100 px wide image
    src = _yolo(tmp_path, f"0 {10.4 / 100} 0.5 {20.8 / 100} 0.2\n")
    ds, diag = load_source(src)
    assert diag.problems == []
    assert ds.records[0].cells[0].box[0] == 0.0


def test_lld_attribute_outside_schema(tmp_path: Path) -> None:
    src = _yolo(tmp_path, "1 0.5 0.5 0.2 0.2 0 1 0 1 0 1 5\n")
    (tmp_path / "ds" / "data.yaml").write_text("names: [x, y]\ntrain: images/train\n")
    ds, diag = load_source(src)
    assert [p.reason for p in diag.problems] == ["bad_attribute"]
    assert "cytoplasmic_vacuoles" in str(diag.problems[0])
    assert ds.records[0].cells[0].attributes["cytoplasmic_vacuoles"] is None
    assert ds.records[0].cells[0].attributes["nuclear_chromatin"] == 1


def test_yaml_naming_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text("names: [a]\n\nval: images/nowhere\n")
    with pytest.raises(DataError, match=r"d\.yaml:3: split 'val' names .*nowhere, which does not exist"):
        load_source(tmp_path / "d.yaml")


def test_corrupt_and_missing_images(tmp_path: Path) -> None:
    src = _yolo(tmp_path, "0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "ds" / "images" / "train" / "b.png").write_bytes(b"not a png")
    (tmp_path / "ds" / "labels" / "train" / "c.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    ds, diag = load_source(src)
    reasons = sorted(p.reason for p in diag.problems)
    assert reasons == ["bad_image", "orphan_label"]
    assert any("b.png" in str(p) and "corrupt" in str(p) for p in diag.problems)


def test_list_file_split_is_not_an_orphan_of_the_other(tmp_path: Path) -> None:
    """``train.txt`` / ``val.txt`` naming parts of one folder: each split's labels are not the other's orphans;
    a label with no image anywhere still is."""
    root = tmp_path / "ds"
    (root / "images" / "all").mkdir(parents=True)
    (root / "labels" / "all").mkdir(parents=True)
    for stem in ("a", "b"):
        write_image(root / "images" / "all" / f"{stem}.png", 32, 32)
        (root / "labels" / "all" / f"{stem}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "labels" / "all" / "gone.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "train.txt").write_text("images/all/a.png\n")
    (root / "val.txt").write_text("images/all/b.png\n")
    (root / "d.yaml").write_text("names: [a]\ntrain: train.txt\nval: val.txt\n")
    ds, diag = load_source(root / "d.yaml")
    orphans = sorted(Path(p.file).name for p in diag.problems if p.reason == "orphan_label")
    assert orphans == ["gone.txt", "gone.txt"]  # once per split that reads the folder, never a.txt / b.txt
    assert len(ds.records) == 2


def test_coco_missing_image_names_every_path_tried(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.json").write_text(
        '{"images": [{"id": 1, "file_name": "x.png", "width": 10, "height": 10}], "annotations": [], '
        '"categories": [{"id": 5, "name": "WBC"}]}'
    )
    with pytest.raises(DataError) as err:
        load_source(tmp_path / "sub" / "a.json", Diagnostics(strict=True))
    assert str(tmp_path / "sub" / "x.png") in str(err.value) and str(tmp_path / "x.png") in str(err.value)


def test_invalid_json_names_line(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"images": [\n  {"id": 1,,}\n]}')
    with pytest.raises(DataError, match=r"a\.json:2: invalid JSON"):
        load_source(tmp_path / "a.json")


def test_cli_error_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "leukodet.cli", "stats", str(tmp_path / "nothing.yaml")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_strict_makes_problems_fatal(tmp_path: Path) -> None:
    src = _yolo(tmp_path, "0 0.5 0.5 0.2\n")
    base = [sys.executable, "-m", "leukodet.cli", "stats", str(src), "--json"]
    assert subprocess.run(base, capture_output=True).returncode == 0
    proc = subprocess.run(base + ["--strict"], capture_output=True, text=True)
    assert proc.returncode == 2 and "a.txt:1: expected 5 numbers" in proc.stderr


def test_coco_entry_that_is_not_an_object(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"images": [], "annotations": [null]}')
    with pytest.raises(DataError, match=r"a\.json: 'annotations' entry 0 is not an object"):
        load_source(tmp_path / "a.json")


@pytest.mark.parametrize("name", ["../../../../etc/passwd", "/etc/passwd", "sub/../../../x.png"])
def test_a_label_file_cannot_reach_outside_its_data_set(tmp_path: Path, name: str) -> None:
    from leukodet import api

    root = tmp_path / "data"
    write_image(root / "good.png", 32, 32)
    (root / "a.json").write_text(
        '{"images": [{"id": 1, "file_name": "good.png", "width": 32, "height": 32}, '
        f'{{"id": 2, "file_name": "{name}", "width": 32, "height": 32}}], "annotations": [], '
        '"categories": [{"id": 1, "name": "WBC"}]}'
    )
    diag = Diagnostics()
    ds, _ = load_source(root / "a.json", diag)
    assert [r.path.name for r in ds.records] == ["good.png"]
    (problem,) = [p for p in diag.problems if p.reason == "outside_root"]
    assert problem.file == str(root / "a.json") and repr(name) in problem.message
    out = api.convert(root / "a.json", tmp_path / "out", "coco")
    assert sorted(p.name for p in (out.parent / "images").rglob("*") if p.is_file()) == ["good.png"]
    with pytest.raises(DataError, match="leaves the data set's folders"):
        load_source(root / "a.json", Diagnostics(strict=True))


def test_a_split_list_line_outside_the_root_is_named_with_its_line(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_image(root / "images" / "a.png", 32, 32)
    write_image(tmp_path / "secret.png", 32, 32)
    (root / "train.txt").write_text("images/a.png\n../secret.png\n")
    (root / "data.yaml").write_text("names: [WBC]\ntrain: train.txt\n")
    diag = Diagnostics()
    ds, _ = load_source(root / "data.yaml", diag)
    assert [r.path.name for r in ds.records] == ["a.png"]
    (problem,) = [p for p in diag.problems if p.reason == "outside_root"]
    assert problem.file.endswith("train.txt") and problem.line == 2


def _bomb_png(path: Path, side: int = 20_000) -> Path:
    """A small PNG whose header declares ``side``×``side`` pixels (over Pillow's decompression-bomb limit)."""
    import struct
    import zlib

    write_image(path, 8, 8)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", side, side)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    path.write_bytes(bytes(data))
    return path


def _coco_with(tmp_path: Path, bad: str) -> Path:
    """A COCO data set (train split) of two good images and one bad one (``truncated`` or ``bomb``)."""
    root = tmp_path / "data"
    for name in ("a.png", "b.png"):
        write_image(root / name, 64, 64)
    if bad == "truncated":
        good = write_image(root / "c.png", 64, 64).read_bytes()
        (root / "c.png").write_bytes(good[: len(good) // 2])
    else:
        _bomb_png(root / "c.png")
    images = ",".join(
        f'{{"id": {i}, "file_name": "{n}.png", "width": 64, "height": 64}}' for i, n in enumerate("abc", 1)
    )
    anns = ",".join(
        f'{{"id": {i}, "image_id": {i}, "category_id": 1, "bbox": [10, 10, 20, 20]}}' for i in (1, 2, 3)
    )
    (root / "train.json").write_text(
        f'{{"images": [{images}], "annotations": [{anns}], "categories": [{{"id": 1, "name": "WBC"}}]}}'
    )
    (root / "data.yaml").write_text("names: [WBC]\ntrain: train.json\n")
    return root / "data.yaml"


@pytest.mark.parametrize("bad", ["truncated", "bomb"])
def test_stats_strict_decodes_every_image_and_names_the_bad_one(tmp_path: Path, bad: str) -> None:
    from click.testing import CliRunner

    from leukodet import api
    from leukodet.cli import main

    data = _coco_with(tmp_path, bad)
    summary = api.stats(data)  # without --strict: reported and left out
    assert (
        summary["splits"]["train"]["images"] == 2
        and summary["splits"]["train"]["invalid"]["unreadable_image"] == 1
    )
    out = api.convert(data, tmp_path / "copy", "coco")
    assert sorted(p.name for p in (out.parent / "images").rglob("*.png")) == ["a.png", "b.png"]
    result = CliRunner().invoke(main, ["stats", str(data), "--strict"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert str(data.parent / "c.png") in result.output
    assert ("decompression bomb" if bad == "bomb" else "does not decode") in result.output


def test_training_leaves_an_unreadable_image_out_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from leukodet.engine.run_data import load_data

    data = _coco_with(tmp_path, "truncated")
    with caplog.at_level("WARNING"):
        bundle = load_data(str(data))
    assert sorted(r.path.name for r in bundle.train) == ["a.png", "b.png"]
    assert "1 unreadable images left out of training" in caplog.text and "c.png" in caplog.text


def test_a_binary_dataset_yaml_is_named(tmp_path: Path) -> None:
    (tmp_path / "data.yaml").write_bytes(b"\xff\xfe\x00\x00garbage\x80\x81")
    with pytest.raises(DataError, match=r"data\.yaml: not a text file"):
        load_source(tmp_path / "data.yaml")
