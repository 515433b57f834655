"""``leukodet train --adapt confmix``: target images are mixed in, target labels never used, terms logged."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from leukodet import api
from leukodet.cli import main
from leukodet.engine.adaptation import target_records


def test_target_labels_are_dropped(domains: tuple[Path, Path]) -> None:
    records = target_records(str(domains[1]))
    assert records and all(r.cells == () and r.labeled_regions is None for r in records)


def test_confmix_run_logs_mixed_terms(domains: tuple[Path, Path], tmp_path: Path) -> None:
    source, target = domains
    overrides = ["adapt.method=confmix", f"adapt.target_data={target}", "adapt.det_conf=0.0001",
                 "adapt.pl_conf=0.0001", "train.attributes=false"]  # fmt: skip
    summary = api.train(source, model="test_tiny", epochs=1, imgsz=128, batch=4, out=tmp_path / "run",
                        overrides=overrides, progress=False)  # fmt: skip
    assert summary["epochs"] == 1
    with open(tmp_path / "run" / "results.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    mixed = [k for k in row if k.startswith("train/mix_")]
    assert mixed and all(float(row[k]) >= 0 for k in mixed)
    assert float(row["train/delta"]) == 0.0  # epoch 0 of the run: the loose end of the schedule
    assert float(row["train/n_pseudo"]) > 0  # with the floors at ~0 the untrained model yields pseudo-labels


def test_variant_without_target_negatives_trains_pseudo_labels(
    domains: tuple[Path, Path], tmp_path: Path
) -> None:
    """``adapt.target_negatives=false``: the pasted cell is unlabelled but for its pseudo-labels, which enter
    as Eq. 7 terms (logged as mix_loss_pl_*)."""
    source, target = domains
    overrides = ["adapt.method=confmix", f"adapt.target_data={target}", "adapt.det_conf=0.0001",
                 "adapt.pl_conf=0.0001", "adapt.target_negatives=false", "train.attributes=false"]  # fmt: skip
    api.train(source, model="test_tiny", epochs=1, imgsz=128, batch=4, out=tmp_path / "run",
              overrides=overrides, progress=False)  # fmt: skip
    with open(tmp_path / "run" / "results.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert float(row["train/n_pseudo"]) > 0
    assert {"train/mix_loss_pl_box", "train/mix_loss_pl_obj", "train/mix_loss_pl_cls"} <= set(row)
    assert float(row["train/mix_loss_pl_obj"]) > 0


def test_cli_needs_target_data(domains: tuple[Path, Path], tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["train", "--data", str(domains[0]), "--out", str(tmp_path / "r"),
                                    "--adapt", "confmix"])  # fmt: skip
    assert res.exit_code == 2 and "--target-data" in res.output


def test_stain_normalisation_travels_in_the_checkpoint(domains: tuple[Path, Path], tmp_path: Path) -> None:
    from leukodet import Detector
    from leukodet.data.stain import StainNormalizer

    source, target = domains
    summary = api.train(source, model="test_tiny", epochs=1, imgsz=128, batch=4, out=tmp_path / "run",
                        overrides=["train.stain_norm=reinhard", "train.attributes=false"], progress=False)  # fmt: skip
    det = Detector.load(summary["best"])
    assert det.stain.method == "reinhard" and len(det.stain.reference["mean"]) == 3
    calls: list[int] = []

    class Spy(StainNormalizer):
        def __call__(self, image):  # type: ignore[no-untyped-def]
            calls.append(1)
            return super().__call__(image)

    det.stain = Spy(det.stain.method, det.stain.reference)
    fields = sorted(str(p) for p in (target.parent / "images" / "train").glob("*.png"))[:2]
    assert len(det.predict(fields)) == 2 and len(calls) == 2  # prediction applies the training reference
    with pytest.raises(Exception, match="train.stain_norm"):
        api.train(source, model="test_tiny", epochs=1, out=tmp_path / "bad", overrides=["train.stain_norm=x"])
