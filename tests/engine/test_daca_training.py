"""``leukodet train --adapt daca``: a short run on two tiny synthetic domains logs, per epoch, how many target
pseudo-labels were composed; the burn-in keeps the first epoch source-only; the CLI needs the target data."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from leukodet import api
from leukodet.cli import main


def test_daca_run_logs_composed_pseudo_labels_per_epoch(domains: tuple[Path, Path], tmp_path: Path) -> None:
    source, target = domains
    overrides = ["adapt.method=daca", f"adapt.target_data={target}", "adapt.burn_in=0.5", "daca.det_conf=0.0001",
                 "daca.pl_conf=0.0001", "train.attributes=false"]  # fmt: skip
    summary = api.train(source, model="test_tiny", epochs=2, imgsz=128, batch=4, out=tmp_path / "run",
                        overrides=overrides, progress=False)  # fmt: skip
    assert summary["epochs"] == 2
    with open(tmp_path / "run" / "results.csv", newline="") as fh:
        first, second = list(csv.DictReader(fh))
    assert first["train/n_composed"] == "" and first["train/n_pseudo"] == ""  # burn-in: the source alone
    # with the floors at ~0 the untrained model's region has pseudo-labels, each composed grid² = 4 times
    assert float(second["train/n_pseudo"]) > 0
    assert float(second["train/n_composed"]) == pytest.approx(4 * float(second["train/n_pseudo"]))
    comp = [k for k in second if k.startswith("train/comp_")]
    assert comp and all(float(second[k]) >= 0 for k in comp)


def test_daca_source_tiles_variant_runs(domains: tuple[Path, Path], tmp_path: Path) -> None:
    source, target = domains
    overrides = ["adapt.method=daca", f"adapt.target_data={target}", "daca.source_tiles=2", "daca.det_conf=0.0001",
                 "daca.pl_conf=0.0001", "train.attributes=false"]  # fmt: skip
    api.train(source, model="test_tiny", epochs=1, imgsz=128, batch=4, out=tmp_path / "run", overrides=overrides,
              progress=False)  # fmt: skip
    with open(tmp_path / "run" / "results.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    # two of the four tiles are source pieces: each pseudo-label is composed twice
    assert float(row["train/n_composed"]) == pytest.approx(2 * float(row["train/n_pseudo"]))


def test_cli_daca_needs_target_data(domains: tuple[Path, Path], tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["train", "--data", str(domains[0]), "--out", str(tmp_path / "r"),
                                    "--adapt", "daca"])  # fmt: skip
    assert res.exit_code == 2 and "--adapt daca needs --target-data" in res.output


def test_cli_adapt_fine_tunes_a_source_checkpoint_with_daca(
    domains: tuple[Path, Path], tmp_path: Path
) -> None:
    """``leukodet adapt`` is ``train --adapt``: the run's config names the method and the target, the DACA
    columns are logged, and the start must be a (source-trained) checkpoint."""
    source, target = domains
    api.train(source, model="test_tiny", epochs=1, imgsz=128, batch=4, out=tmp_path / "src",
              overrides=["train.attributes=false"], progress=False)  # fmt: skip
    start = tmp_path / "src" / "weights" / "best.pt"
    args = ["adapt", "--data", str(source), "--target-data", str(target), "--method", "daca", "--model", str(start),
            "--out", str(tmp_path / "ad"), "--epochs", "1", "--imgsz", "128", "--batch", "4", "--set",
            "daca.det_conf=0.0001", "--set", "daca.pl_conf=0.0001", "--set", "train.attributes=false"]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    config = (tmp_path / "ad" / "config.yaml").read_text()
    assert "method: daca" in config and f"target_data: {target}" in config
    with open(tmp_path / "ad" / "results.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert float(row["train/n_pseudo"]) > 0 and "train/comp_loss_obj" in row
    missing = CliRunner().invoke(main, ["adapt", "--data", str(source), "--target-data", str(target), "--out",
                                        str(tmp_path / "x")])  # fmt: skip
    assert missing.exit_code == 2 and "--model" in missing.output
