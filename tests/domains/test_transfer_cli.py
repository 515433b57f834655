"""``leukodet transfer`` end to end with each label format: outputs, transfer.json, refusal, user errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from leukodet.cli import main
from leukodet.domains.homography import centre_to_edge
from leukodet.domains.images import read_rgb, write_png
from leukodet.domains.known import known_homography, warp
from leukodet.domains.labels import read_image_labels
from leukodet.domains.mapping import map_box
from leukodet.records import LLD_CLASSES, Dataset, ImageRecord, lld_schema, load_source
from leukodet.records.coco_io import coco_document
from leukodet.records.yolo_io import cells_to_lines
from leukodet.synth import render_field

from ..conftest import shared_data

SIZE = 640
REPORT_KEYS = {"inliers", "inlier_ratio", "reprojection_rmse_px", "accepted", "dropped_boxes", "homography"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> dict:
    """A synthetic field (with LLD attributes) and the same area rotated, scaled and shifted off one side."""
    root = tmp_path_factory.mktemp("pair")
    f = render_field(5, "HCM_100x_C2", SIZE)
    cells = [c for c in f.cells if c.class_id < len(LLD_CLASSES)]
    h = known_homography(SIZE, SIZE, 0.85, 7.0, (140.0, -10.0), (4e-5, 0.0))
    source = root / "src" / "images" / "field.png"
    target = root / "LCM_40x_C1" / "view.png"
    write_png(source, f.image)
    write_png(target, warp(f.image, h))
    rec = ImageRecord(source, SIZE, SIZE, "all", tuple(cells), ((60.0, 60.0, 420.0, 400.0),))
    return {"root": root, "source": source, "target": target, "h": h, "record": rec}


def _run(*args: str) -> object:
    return CliRunner().invoke(main, ["transfer", *args], catch_exceptions=False)


def _args(pair: dict, labels: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--source-image",
        str(pair["source"]),
        "--source-labels",
        str(labels),
        "--target-image",
        str(pair["target"]),
        "--out",
        str(out),
        *extra,
    ]


def _check_boxes(pair: dict, boxes: list[tuple[float, ...]]) -> float:
    """Largest error (px) of the written boxes against the true mapping of the kept source boxes."""
    truth = [map_box(c.box, centre_to_edge(pair["h"]), SIZE, SIZE) for c in pair["record"].cells]
    expected = [m.box for m in truth if m.kept_fraction >= 0.55]
    assert len(boxes) >= len(expected) and len(boxes) > 0
    return max(min(float(np.abs(np.subtract(e, b)).max()) for b in boxes) for e in expected)


def test_yolo_labels_with_neighbouring_class_names(pair, tmp_path) -> None:
    labels = pair["root"] / "src" / "labels" / "field.txt"
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text(cells_to_lines(pair["record"].cells, "yolo", SIZE, SIZE, lld_schema()))
    (pair["root"] / "src" / "classes.txt").write_text("\n".join(LLD_CLASSES) + "\n")
    out = tmp_path / "out"
    result = _run(*_args(pair, labels, out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["transfer.json", "transfer_overlay.png", "view.txt"]
    doc = json.loads((out / "transfer.json").read_text())
    assert REPORT_KEYS <= set(doc) and doc["accepted"] is True and doc["format"] == "yolo"
    assert doc["names_from"].endswith("classes.txt") and doc["classes"] == list(LLD_CLASSES)
    assert doc["target"]["domain"] == {"microscope": "LCM", "magnification": "40x", "camera": "C1"}
    assert doc["dropped_boxes"] and all(d["kept_fraction"] < 0.5 for d in doc["dropped_boxes"])
    assert doc["regions_in_labels"] is False and doc["labeled_regions"]  # the footprint, kept in the report
    mapped = read_image_labels(out / "view.txt", pair["target"], names=",".join(LLD_CLASSES))
    assert len(mapped.record.cells) == doc["boxes"]["mapped"]
    assert _check_boxes(pair, [c.box for c in mapped.record.cells]) <= 2.0


def test_yolo_labels_with_names_option_and_no_neighbours(pair, tmp_path) -> None:
    lonely = tmp_path / "a" / "b" / "c" / "d" / "e" / "field.txt"
    lonely.parent.mkdir(parents=True)
    lonely.write_text(cells_to_lines(pair["record"].cells, "yolo", SIZE, SIZE, lld_schema()))
    out = tmp_path / "out"
    result = _run(*_args(pair, lonely, out, "--names", ",".join(LLD_CLASSES)))
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.glob("*.txt")] == ["view.txt"]
    assert json.loads((out / "transfer.json").read_text())["names_from"] == "--names"


def test_coco_labels_keep_attributes_regions_and_domain(pair, tmp_path) -> None:
    rec = pair["record"]
    doc = coco_document([rec], [rec.path.name], Dataset([rec], list(LLD_CLASSES), lld_schema()))
    labels = pair["source"].parent / "field.json"
    labels.write_text(json.dumps(doc))
    out = tmp_path / "out"
    result = _run(*_args(pair, labels, out))
    assert result.exit_code == 0, result.output
    assert (out / "view.json").is_file() and not list(out.glob("*.txt"))
    ds, diag = load_source(out / "view.json")
    (mapped,) = ds.records
    assert diag.problems == [] and mapped.path.samefile(pair["target"])  # linked beside the labels
    assert mapped.domain.name == "LCM_40x_C1" and len(ds.attributes) == 7
    signatures = {(c.class_id, tuple(sorted(c.attributes.items()))) for c in rec.cells}
    assert all((c.class_id, tuple(sorted(c.attributes.items()))) in signatures for c in mapped.cells)
    (region,) = mapped.labeled_regions
    assert 0 <= region[0] < region[2] <= SIZE and 0 <= region[1] < region[3] <= SIZE
    assert _check_boxes(pair, [c.box for c in mapped.cells]) <= 2.0


def test_lld16_labels_carry_the_mapped_region_in_their_patch_columns(pair, tmp_path) -> None:
    rec = pair["record"]
    labels = tmp_path / "lld" / "field.txt"
    labels.parent.mkdir()
    labels.write_text(cells_to_lines(rec.cells, "lld16", SIZE, SIZE, lld_schema(), rec.labeled_regions[0]))
    out = tmp_path / "out"
    assert _run(*_args(pair, labels, out)).exit_code == 0
    doc = json.loads((out / "transfer.json").read_text())
    assert doc["format"] == "lld16" and doc["regions_in_labels"] is True
    mapped = read_image_labels(out / "view.txt", pair["target"])
    (region,) = mapped.record.labeled_regions
    assert list(region) == pytest.approx(doc["labeled_regions"][0], abs=0.01)
    assert [p.name for p in out.glob("*.txt")] == ["view.txt"]


def test_voc_labels_of_a_real_bccd_field(tmp_path) -> None:
    root = shared_data("bccd", "BCCD")
    source = root / "JPEGImages" / "BloodImage_00010.jpg"
    image = read_rgb(source)
    target = tmp_path / "target.png"
    write_png(target, warp(image, known_homography(640, 480, 1.1, -5.0, (10.0, 30.0))))
    out = tmp_path / "out"
    args = [
        "--source-image",
        str(source),
        "--source-labels",
        str(root / "Annotations" / "BloodImage_00010.xml"),
    ]
    result = _run(*args, "--target-image", str(target), "--out", str(out))
    assert result.exit_code == 0, result.output
    mapped = read_image_labels(out / "target.xml", target)
    doc = json.loads((out / "transfer.json").read_text())
    assert doc["format"] == "voc" and len(mapped.record.cells) == doc["boxes"]["mapped"] > 0
    assert set(mapped.classes) <= {"RBC", "WBC", "Platelets"}
    wrong = _run(*args, "--target-image", str(target), "--out", str(tmp_path / "o2"), "--names", "WBC")
    assert wrong.exit_code == 2 and "not among --names" in wrong.output


def test_refused_pair_writes_only_the_report_and_overlay(pair, tmp_path) -> None:
    labels = tmp_path / "field.txt"
    labels.write_text(cells_to_lines(pair["record"].cells, "yolo", SIZE, SIZE, lld_schema()))
    unrelated = tmp_path / "other.png"
    write_png(unrelated, render_field(9, "HCM_100x_C2", SIZE).image)
    out = tmp_path / "out"
    args = ["--source-image", str(pair["source"]), "--source-labels", str(labels)]
    result = _run(*args, "--target-image", str(unrelated), "--out", str(out))
    assert result.exit_code == 1 and "refused:" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["transfer.json", "transfer_overlay.png"]
    doc = json.loads((out / "transfer.json").read_text())
    assert doc["accepted"] is False and doc["inliers"] < 15 and doc["outputs"]["labels"] == []
    assert doc["dropped_boxes"] == [] and "inliers" in doc["reason"]


def test_user_errors_are_one_line(pair, tmp_path) -> None:
    result = _run(*_args(pair, tmp_path / "missing.txt", tmp_path / "out"))
    assert result.exit_code == 2 and result.output.startswith("error:") and "missing.txt" in result.output
    wrong = tmp_path / "wrong.json"
    rec = pair["record"].with_(width=320, height=320)
    wrong.write_text(json.dumps(coco_document([rec], ["field.png"], Dataset([rec], list(LLD_CLASSES)))))
    result = _run(*_args(pair, wrong, tmp_path / "out2"))
    assert result.exit_code == 2 and "320x320" in result.output


def test_non_empty_out_needs_overwrite_and_a_refusal_removes_the_old_labels(pair, tmp_path) -> None:
    labels = tmp_path / "field.txt"
    labels.write_text(cells_to_lines(pair["record"].cells, "yolo", SIZE, SIZE, lld_schema()))
    out = tmp_path / "out"
    assert _run(*_args(pair, labels, out)).exit_code == 0 and (out / "view.txt").is_file()
    again = _run(*_args(pair, labels, out))
    assert again.exit_code == 2 and "--overwrite" in again.output
    blank = tmp_path / "blank" / "view.png"
    write_png(blank, np.full((SIZE, SIZE, 3), 220, np.uint8))
    args = [
        "--source-image",
        str(pair["source"]),
        "--source-labels",
        str(labels),
        "--target-image",
        str(blank),
    ]
    refused = _run(*args, "--out", str(out), "--overwrite")
    assert refused.exit_code == 1 and not (out / "view.txt").exists()
    assert json.loads((out / "transfer.json").read_text())["accepted"] is False
