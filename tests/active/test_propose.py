"""``leukodet propose`` / ``api.propose``: the outputs, read back by the dataset loader; random = sparsify; bad
input is one line and exit status 2."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from leukodet import api
from leukodet.active import evidence
from leukodet.active.propose import propose_region
from leukodet.active.scores import FieldEvidence
from leukodet.cli import main
from leukodet.records.schema import Dataset, ImageRecord
from leukodet.records.sources import load_source
from leukodet.records.sparsify import sample_region, sparsify_dataset

from .conftest import TINY_CLASSES, cells_at


def _check_region(region: list[float], width: int, height: int, fraction: float) -> None:
    """Inside the image, the image's aspect and the area fraction, to a pixel of rounding per side."""
    x1, y1, x2, y2 = region
    assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
    s = math.sqrt(fraction)
    assert abs((x2 - x1) - width * s) <= 1 and abs((y2 - y1) - height * s) <= 1


def _read_back(out: Path) -> tuple[Dataset, dict]:
    doc = json.loads((out / "proposals.json").read_text())
    ds, diag = load_source(out / "data.yaml")
    assert not diag.problems
    return ds, doc


def test_random_is_sparsifys_region() -> None:
    rec = ImageRecord(Path("/x/field_07.png"), 640, 480, "train")
    sparse = sparsify_dataset(Dataset([rec], ["a"]), 0.2, seed=3)
    mine = propose_region("random", None, 640, 480, 0.2, seed=3, key="field_07")
    assert mine.region == sparse.records[0].labeled_regions[0] == sample_region(640, 480, 0.2, 3, "field_07")
    assert mine.value is None and mine.runner_up is None and not mine.fallback


def test_a_field_without_any_score_falls_back_to_random() -> None:
    pred = cells_at([(100, 100)], [0.99])  # unsure weight 1 - |2 * 0.99 - 1| = 0.02 > 0: scores
    assert not propose_region("unsure", FieldEvidence(pred), 640, 480, 0.2).fallback
    quiet = propose_region("band", FieldEvidence(pred), 640, 480, 0.2, seed=1, key="k")
    assert quiet.fallback and quiet.value == 0.0 and quiet.region == sample_region(640, 480, 0.2, 1, "k")


@pytest.mark.parametrize("score", ["random", "entropy", "flip"])
def test_api_writes_a_dataset_the_loader_reads_back(
    score: str, weights: Path, fields: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    doc = api.propose(weights, [str(tmp_path / "fields")], out, fraction=0.2, score=score, seed=5, conf=0.001)
    ds, back = _read_back(out)
    assert back == json.loads(json.dumps(doc)) and back["format"] == "leukodet.proposals/1"
    assert ds.classes == TINY_CLASSES and ds.splits == ["train"] and len(ds.records) == 3
    by_name = {r.path.name: r for r in ds.records}
    for entry, path in zip(back["images"], fields):
        rec = by_name[path.name]
        assert entry["source"] == str(path) and (out / entry["image"]).is_file()
        assert rec.labeled_regions == (tuple(entry["region"]),) and entry["score"] == score
        _check_region(entry["region"], rec.width, rec.height, 0.2)
        x1, y1, x2, y2 = entry["region"]
        assert all(x1 <= c.center[0] <= x2 and y1 <= c.center[1] <= y2 for c in rec.cells)
        assert entry["candidates"] == len(rec.cells)
        if score == "random":
            assert entry["region"] == pytest.approx(
                list(sample_region(rec.width, rec.height, 0.2, 5, path.stem))
            )
        else:
            assert entry["value"] is not None and entry["runner_up"] is not None


def test_api_puts_the_patch_on_the_planted_cluster(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the model's predictions replaced by a field with one cluster of unsure cells."""
    from tests.conftest import write_image

    write_image(tmp_path / "fields" / "a.png", 640, 480)
    planted = [(500.0 + 10 * i, 80.0 + 12 * (i % 2)) for i in range(5)]
    sure = [(60.0, 400.0), (200.0, 420.0), (90.0, 90.0)]
    pred = cells_at(
        sure + planted, [0.98] * 3 + [0.45, 0.5, 0.55, 0.5, 0.6], classes=[1, 1, 2, 1, 2, 1, 2, 1]
    )
    monkeypatch.setattr(evidence, "field_evidence", lambda det, images, cfg, score: [FieldEvidence(pred)])
    doc = api.propose(weights, tmp_path / "fields", tmp_path / "out", score="unsure")
    ds, _ = _read_back(tmp_path / "out")
    (entry,) = doc["images"]
    assert sorted(c.center for c in ds.records[0].cells) == sorted(planted)
    assert entry["value"] > 4.5 and entry["runner_up"] < 0.1 and entry["candidates"] == 5
    _check_region(entry["region"], 640, 480, 0.2)


def test_cli_end_to_end(weights: Path, fields: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["propose", "--weights", str(weights), *map(str, fields), "--out", str(out), "--score", "band"]
    res = CliRunner().invoke(main, [*args, "--conf", "0.001", "--fraction", "0.3", "--seed", "2"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["images"] == 3 and summary["skipped"] == 0 and summary["score"] == "band"
    ds, doc = _read_back(out)
    assert doc["band"] == [0.7, 0.95] and doc["fraction"] == 0.3 and doc["seed"] == 2
    assert all(r.labeled_regions is not None and len(r.labeled_regions) == 1 for r in ds.records)
    again = CliRunner().invoke(main, [*args])  # the folder is not empty now
    assert again.exit_code == 2 and "--overwrite" in again.stderr


def test_an_unreadable_field_is_skipped_and_named(weights: Path, fields: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "fields" / "broken.png"
    bad.write_bytes(b"not an image")
    doc = api.propose(weights, tmp_path / "fields", tmp_path / "out", score="unsure", conf=0.001)
    assert len(doc["images"]) == 3 and [s["source"] for s in doc["skipped"]] == [str(bad)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--fraction", "1.5"], "error: fraction must be an area fraction in (0, 1], got 1.5"),
        (["--fraction", "0"], "error: fraction must be an area fraction in (0, 1], got 0.0"),
        (
            ["--score", "margin"],
            "error: unknown score 'margin' (choose from random, entropy, band, flip, unsure)",
        ),
        (["--conf", "2"], "error: confidence threshold must be in [0, 1], got 2.0"),
        (["--weights", "missing.pt"], "checkpoint not found"),
        (["nowhere/"], "nowhere: no such image or folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    change: list[str], message: str, weights: Path, fields: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["propose", "--weights", str(weights), str(tmp_path / "fields"), "--out", str(out), *change]
    if change[0] == "--weights":
        args = [
            "propose",
            str(tmp_path / "fields"),
            "--out",
            str(out),
            "--weights",
            str(tmp_path / change[1]),
        ]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: ") and message in res.stderr
    assert not out.exists()


def test_propose_is_in_the_public_api() -> None:
    assert "propose" in api.__all__ and api.propose.__module__ == "leukodet.active.propose"
    assert np.isclose(api.propose.__kwdefaults__["fraction"], 0.2)
    assert api.propose.__kwdefaults__["score"] == "entropy"


def test_fields_sharing_a_file_name_are_refused_before_predicting(weights: Path, tmp_path: Path) -> None:
    from tests.conftest import write_image

    one, two = write_image(tmp_path / "a" / "f.png", 64, 48), write_image(tmp_path / "b" / "f.png", 64, 48)
    res = CliRunner().invoke(main, ["propose", "--weights", "missing.pt", str(one), str(two), "--out", "o"])
    assert res.exit_code == 2 and "two images share the file name 'f.png'" in res.stderr
