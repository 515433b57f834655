"""``leukodet report`` end to end with a real tiny checkpoint, and its one-line user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import leukodet.infer.predictor  # noqa: F401  (import torch at collection, not inside the timed test)
from leukodet import api
from leukodet.cli import main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A checkpoint trained for one epoch on six synthetic fields, and the folder of test fields."""
    root = tmp_path_factory.mktemp("tiny")
    data = api.synth(root / "data", images=6, seed=3, size=160)
    api.train(
        data,
        model="test_tiny",
        epochs=1,
        imgsz=160,
        batch=4,
        out=root / "run",
        progress=False,
        overrides=["augment.mosaic=0"],
    )
    return root / "run" / "weights" / "last.pt", data.parent / "images"


def _run(*args: str) -> object:
    return CliRunner().invoke(main, ["report", *args])


def test_cli_report_end_to_end(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    weights, images = tiny
    out = tmp_path / "film"
    result = _run("--weights", str(weights), str(images), "--out", str(out), "--conf", "0.001")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    doc = json.loads((out / "report.json").read_text())
    assert doc["schema"] == "leukodet.report/2" and doc["model"]["weights"] == "last.pt"
    assert doc["model"]["classes"][1] == "Myeloblast" and doc["model"]["training_data"]["train_images"] >= 1
    assert len(doc["fields"]) == 6 and doc["threshold"] == 0.001
    assert doc["differential"]["total"] + sum(a["count"] for a in doc["differential"]["apart"]) == len(
        doc["cells"]
    )
    assert doc["attributes"]["schema"] == doc["model"]["attributes"]  # what the model predicts, if anything
    if doc["model"]["attributes"] and doc["cells"]:
        assert set(doc["cells"][0]["attributes"]) == set(doc["model"]["attributes"])
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "not a diagnosis" in (out / "report.md").read_text()
    assert "wrote" in result.stderr  # type: ignore[attr-defined]


def test_cli_report_empty_film_with_custom_rules(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    weights, images = tiny
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {id: mono, kind: any_of, classes: [Monocyte, Megakaryoblast], message: m}\n"
    )
    image = sorted((images / "train").iterdir())[0]
    doc = api.report(weights, image, tmp_path / "out", conf=1.0, flags=rules)
    assert doc["text"] == "no WBC found" and doc["differential"]["total"] == 0
    assert doc["flags"]["warnings"] == [
        "rule mono: Megakaryoblast not a WBC class of the model (counted as 0)"
    ]
    assert doc["flags"]["rules"] == str(rules)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--conf", "2"], "confidence threshold must be in [0, 1], got 2.0"),
        (
            ["--flags", "{bad}"],
            "bad.yaml: rule 1 ('x'): 'threshold' must be a percentage in [0, 100], got None",
        ),
        (["--flags", "{tmp}/missing.yaml"], "missing.yaml: no such flag rules file"),
        (["--weights", "{tmp}/nope.pt"], "nope.pt: checkpoint not found"),
    ],
)
def test_cli_report_user_errors(
    tiny: tuple[Path, Path], tmp_path: Path, args: list[str], needle: str
) -> None:
    weights, images = tiny
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {id: x, kind: percent_at_least, classes: Myeloblast, message: m}\n")
    args = [a.replace("{bad}", str(bad)).replace("{tmp}", str(tmp_path)) for a in args]
    result = _run("--weights", str(weights), str(images), "--out", str(tmp_path / "o"), *args)
    err = result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == 2 and err.count("\n") == 1 and err.startswith("error: "), err  # type: ignore[attr-defined]
    assert needle in err and not (tmp_path / "o").exists()


def test_cli_report_missing_source(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    result = _run("--weights", str(tiny[0]), str(tmp_path / "nothing"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "nothing: no such image or folder" in result.stderr  # type: ignore[attr-defined]


def test_an_unreadable_field_is_left_out_and_said(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    weights, images = tiny
    film = tmp_path / "film"
    shutil.copytree(images, film)
    first = sorted(film.rglob("*.png"))[0]
    (film / "broken.png").write_bytes(first.read_bytes()[:200])
    result = _run("--weights", str(weights), str(film), "--out", str(tmp_path / "r"), "--conf", "0.001")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert [s["image"] for s in doc["skipped_fields"]] == [str(film / "broken.png")]
    assert len(doc["fields"]) == len(list(images.rglob("*.png")))
    assert "1 field could not be read and is left out of every count" in result.output  # type: ignore[attr-defined]
    assert "broken.png" in (tmp_path / "r" / "report.html").read_text()
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "bad.png").write_bytes(b"\x89PNG nothing")
    failed = _run("--weights", str(weights), str(tmp_path / "only"), "--out", str(tmp_path / "r2"))
    assert failed.exit_code == 2 and "no field of the film could be read" in failed.output  # type: ignore[attr-defined]
