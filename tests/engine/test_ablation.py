"""``leukodet ablate``: every (method, seed) is trained once, appended as it finishes, and skipped on re-runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from leukodet import api
from leukodet.cli import main
from leukodet.engine.ablation import run_ablation, summarise
from leukodet.engine.protocol import TwoPhase
from leukodet.eval.paired import paired_difference, t_quantile_975


@pytest.fixture(scope="module")
def sparse_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ablate")
    return api.synth(root / "data", images=10, seed=6, size=128, sparse=0.2, progress=False)


def test_runs_append_and_resume(sparse_data: Path, tmp_path: Path) -> None:
    calls: list[tuple[str, int]] = []

    def train_fn(source: Path, **kw: object) -> dict:
        calls.append((str(kw["overrides"]), int(kw["seed"])))  # type: ignore[call-overload]
        assert kw["epochs"] == 1 and kw["time"] is None  # a fixed epoch count, no wall-clock budget
        return api.train(source, model="test_tiny", imgsz=128, batch=4, progress=False, **kw)

    kwargs = {"train_fn": train_fn, "val_fn": api.val, "methods": ("naive", "sladet"), "seeds": (0,)}
    kwargs |= {"epochs": 1, "minutes": None}
    doc = run_ablation(sparse_data, tmp_path, full_data=sparse_data, **kwargs)
    saved = json.loads((tmp_path / "ablation.json").read_text())
    assert [(r["method"], r["seed"]) for r in saved["runs"]] == [("naive", 0), ("sladet", 0), ("full", 0)]
    assert set(saved["summary"]) == {"naive", "sladet", "full"} and doc["summary"] == saved["summary"]
    row = saved["runs"][1]
    assert {"map50", "map50_95", "ap50", "operating_point"} <= set(row) and saved["budget"] == {"epochs": 1}
    assert row["sparse"]["pseudo_labels_per_epoch"] == [None] and "never ran" in row["sparse"]["note"]
    assert len(row["val_map50_95"]) == 1
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
    s = summarise([{**r, "seed": i} for i, r in enumerate(runs)])["naive"]
    assert s["seeds"] == 2 and s["map50"]["mean"] == pytest.approx(0.6) and s["recall"]["sd"] > 0
    runner = CliRunner()
    none = runner.invoke(main, ["ablate", "--data", str(sparse_data), "--out", str(tmp_path)])
    assert none.exit_code == 2 and "give one budget" in none.output
    bad = runner.invoke(main, ["ablate", "--data", str(sparse_data), "--epochs", "1", "--out", str(tmp_path),
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


def _rows(method: str, map50_95: list[float]) -> list[dict]:
    return [
        {
            "method": method,
            "seed": seed,
            "map50": v,
            "map50_95": v,
            "operating_point": {"recall": v, "precision": v},
        }
        for seed, v in enumerate(map50_95)
    ]


def test_paired_differences_with_a_95_interval_and_the_plateau_check() -> None:
    naive = _rows("naive", [0.10, 0.30, 0.20, 0.50, 0.40])  # a seed spread of 0.16
    region = _rows("region", [0.12, 0.33, 0.21, 0.53, 0.42])  # 0.02 better on every seed
    full = _rows("full", [0.6] * 5)
    for row, curve in zip(full, ([0.1, 0.3, 0.5, 0.6, 0.6, 0.6, 0.605], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])):
        row["val_map50_95"] = curve
    summary = summarise(naive + region + full[:1])
    diff = summary["region"]["paired"]["vs_naive"]["map50_95"]
    assert diff["n"] == 5 and diff["mean"] == pytest.approx(0.022)
    # sd of (0.02, 0.03, 0.01, 0.03, 0.02) = 0.008367; t(4) = 2.776: half-width 0.0104
    assert diff["ci95"] == pytest.approx((0.0116, 0.0324), abs=1e-4) and diff["excludes_zero"]
    assert "paired" not in summary["naive"] and "vs_region" in summary["full"]["paired"]
    assert summary["full"]["plateau"]["plateaued"]  # the last 2 of 7 epochs add 0.005 < 0.01
    rising = summarise(naive + full[:2])["full"]["plateau"]
    assert not rising["plateaued"] and rising["last_window_gain"][1] == pytest.approx(0.2)
    assert t_quantile_975(4) == 2.776 and t_quantile_975(60) == pytest.approx(2.000, abs=1e-3)
    same = paired_difference({0: 0.5}, {0: 0.4})
    assert same["ci95"] is None and not same["excludes_zero"]  # one seed: no interval


def test_two_phase_ablation_shares_phase1_and_runs_phase2_without_augmentation(
    sparse_data: Path, tmp_path: Path
) -> None:
    calls: list[dict] = []

    def train_fn(source: Path, **kw: object) -> dict:
        calls.append(dict(kw))
        run = Path(str(kw["out"]))
        (run / "weights").mkdir(parents=True)
        (run / "weights" / "last.pt").write_bytes(b"x")
        (run / "config.yaml").write_text("x")
        (run / "results.csv").write_text("epoch\n" + "".join(f"{i}\n" for i in range(int(kw["epochs"]))))
        return {"out": str(run), "best": "", "epochs": kw["epochs"], "seconds": 0}

    def val_fn(*args: object, **kw: object) -> dict:
        raise RuntimeError("stop after the first method's phase 2")

    plan = TwoPhase(phase1_epochs=2, phase2_epochs=1)
    with pytest.raises(RuntimeError):
        run_ablation(sparse_data, tmp_path, train_fn=train_fn, val_fn=val_fn, methods=("naive", "sladet"),
                     seeds=(0,), protocol=plan, minutes=None)  # fmt: skip
    assert len(calls) == 2
    phase1, naive = calls[0], calls[1]
    assert phase1["epochs"] == 2 and "sparse.method=crop" in phase1["overrides"]
    assert not any(o.startswith("augment.") for o in phase1["overrides"])  # phase 1 keeps the strong set
    assert (
        naive["model"] == str(tmp_path / "runs" / "phase1_s0" / "weights" / "last.pt")
        and naive["epochs"] == 1
    )
    over = naive["overrides"]
    assert "sparse.method=naive" in over and "loss.fl_gamma=1.5" in over and "sparse.burn_in=0.0" in over
    assert {"augment.mosaic=0.0", "augment.scale=0.0", "augment.hsv_v=0.0", "augment.hed=0.0"} <= set(over)
    assert "sparse.triplet_end=0.8" in over  # detection only: D7's 40 of 50 epochs
    assert "sparse.triplet_end=0.333333" in TwoPhase().phase2(attributes=True)  # 10 of 30


def test_an_empty_method_list_runs_full_labels_alone(
    sparse_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``methods=[]`` with ``full_data`` trains the full-label reference only (``None`` means every method)."""
    from leukodet.tasks import training

    trained: list[str] = []
    monkeypatch.setattr(
        training, "train", lambda source, **kw: trained.append(kw["out"].name) or {"best": "w"}
    )
    monkeypatch.setattr(training, "val", lambda *a, **kw: {"map50": 0.5, "map50_95": 0.3, "per_class": {}})
    monkeypatch.setattr(
        "leukodet.engine.ablation._row", lambda method, seed, s, m: {"method": method, "seed": seed}
    )
    monkeypatch.setattr("leukodet.engine.ablation.summarise", lambda runs: {})
    api.ablate(sparse_data, tmp_path, full_data=sparse_data, epochs=1, seeds=[0], methods=[])
    assert trained == ["full_s0"]
