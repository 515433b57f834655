"""``leukodet ablate``: every (method, seed) is trained once, appended as it finishes, and skipped on re-runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from leukodet import api
from leukodet.cli import main
from leukodet.engine.ablation import run_ablation, summarise


@pytest.fixture(scope="module")
def sparse_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ablate")
    return api.synth(root / "data", images=10, seed=6, size=128, sparse=0.2, progress=False)


def test_runs_append_and_resume(sparse_data: Path, tmp_path: Path) -> None:
    calls: list[tuple[str, int]] = []

    def train_fn(source: Path, **kw: object) -> dict:
        calls.append((str(kw["overrides"]), int(kw["seed"])))  # type: ignore[call-overload]
        return api.train(
            source, model="test_tiny", epochs=1, imgsz=128, batch=4, progress=False,
            **{k: v for k, v in kw.items() if k != "time"},
        )  # fmt: skip

    kwargs = {"train_fn": train_fn, "val_fn": api.val, "methods": ("naive", "sladet"), "seeds": (0,)}
    doc = run_ablation(sparse_data, tmp_path, full_data=sparse_data, **kwargs)
    saved = json.loads((tmp_path / "ablation.json").read_text())
    assert [(r["method"], r["seed"]) for r in saved["runs"]] == [("naive", 0), ("sladet", 0), ("full", 0)]
    assert set(saved["summary"]) == {"naive", "sladet", "full"} and doc["summary"] == saved["summary"]
    row = saved["runs"][1]
    assert {"map50", "map50_95", "ap50", "operating_point"} <= set(row)
    assert {"recall", "precision", "f1", "count_abs_err_per_image"} <= set(row["operating_point"])
    assert len(calls) == 3 and "sparse.method=sladet" in calls[1][0]
    run_ablation(sparse_data, tmp_path, full_data=sparse_data, **kwargs)  # again: nothing left to do
    assert len(calls) == 3


def test_summary_means_and_cli_errors(sparse_data: Path, tmp_path: Path) -> None:
    runs = [
        {
            "method": "naive",
            "map50": 0.5,
            "map50_95": 0.2,
            "operating_point": {"recall": 0.6, "precision": 0.9},
        },
        {
            "method": "naive",
            "map50": 0.7,
            "map50_95": 0.4,
            "operating_point": {"recall": 0.8, "precision": 0.7},
        },
    ]
    s = summarise(runs)["naive"]
    assert s["seeds"] == 2 and s["map50"]["mean"] == pytest.approx(0.6) and s["recall"]["sd"] > 0
    runner = CliRunner()
    bad = runner.invoke(main, ["ablate", "--data", str(sparse_data), "--time", "1", "--out", str(tmp_path),
                               "--seeds", "a,b"])  # fmt: skip
    assert bad.exit_code == 2 and "--seeds 'a,b'" in bad.output
    bad = runner.invoke(main, ["ablate", "--data", str(sparse_data), "--time", "1", "--out", str(tmp_path),
                               "--methods", "magic"])  # fmt: skip
    assert bad.exit_code == 2 and "unknown sparse method(s) magic" in bad.output


def test_hinge_variant_passes_its_sign(sparse_data: Path, tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def train_fn(source: Path, **kw: object) -> dict:
        seen.append(list(kw["overrides"]))  # type: ignore[call-overload]
        raise RuntimeError("stop after the first call")

    with pytest.raises(RuntimeError):
        run_ablation(
            sparse_data, tmp_path, train_fn=train_fn, val_fn=api.val, methods=("sladet-fixed",), seeds=(0,)
        )
    assert "sparse.method=sladet" in seen[0] and "sparse.triplet_sign=fixed" in seen[0]
