"""Domains: tags from folder names, split entries and COCO; ``leukodet domains`` scores every model per domain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from leukodet import api
from leukodet.cli import main
from leukodet.records import LLD_CLASSES, Domain, load_source
from leukodet.records.vocab import domain_from_path

from ..conftest import write_image


def test_domain_from_folder_names(tmp_path: Path) -> None:
    assert domain_from_path(tmp_path / "LCM_40x_C1" / "images" / "a.png") == Domain("LCM", "40x", "C1")
    assert domain_from_path(tmp_path / "HCM_100x_C2" / "LCM_10x_C2" / "a.png") == Domain("LCM", "10x", "C2")
    assert domain_from_path(tmp_path / "x" / "a.png").is_empty()
    assert domain_from_path(Path("HCM_100x_C1.png")).is_empty()  # a file name is not a folder
    for name in ("HCM_100x_C1", "LCM_10x_C2"):
        img = write_image(tmp_path / "lld" / name / "images" / "f.png", 32, 32)
        (img.parent.parent / "labels").mkdir()
        (img.parent.parent / "labels" / "f.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    ds, _ = load_source(tmp_path / "lld")
    assert sorted(r.domain.name for r in ds.records) == ["HCM_100x_C1", "LCM_10x_C2"]


def test_split_entry_domain_beats_folder_and_default(tmp_path: Path) -> None:
    for split in ("train", "test"):
        img = write_image(tmp_path / "HCM_40x_C1" / split / "images" / "f.png", 32, 32)
        (img.parent.parent / "labels").mkdir()
        (img.parent.parent / "labels" / "f.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    doc = {
        "names": ["WBC"],
        "domain": "LCM_10x_C2",
        "train": "HCM_40x_C1/train/images",
        "test": {"path": "HCM_40x_C1/test/images", "domain": "LCM_100x_C2"},
    }
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(doc))
    ds, _ = load_source(tmp_path / "data.yaml")
    assert ds.split("train")[0].domain.name == "HCM_40x_C1"  # the folder beats the YAML default
    assert ds.split("test")[0].domain.name == "LCM_100x_C2"  # the split entry beats the folder
    bad = {**doc, "test": {"folder": "x"}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(Exception, match="split entry mapping takes 'path' and 'domain'"):
        load_source(tmp_path / "bad.yaml")


def test_coco_splits_listed_from_a_parent_yaml(tmp_path: Path) -> None:
    """COCO file names are relative to their dataset root (above ``annotations/``), not to a YAML elsewhere;
    the domain comes from the COCO ``domain`` extension."""
    for name, domain in (("hcm", "HCM_100x_C2"), ("lcm", "LCM_100x_C2")):
        api.synth(tmp_path / name, images=10, seed=3, size=96, domain=domain)
    doc = {"names": list(LLD_CLASSES), "test": ["hcm/annotations/test.json", "lcm/annotations/test.json"]}
    (tmp_path / "both.yaml").write_text(yaml.safe_dump(doc))
    ds, _ = load_source(tmp_path / "both.yaml")
    test = ds.split("test")
    assert [r.domain.name for r in test] == ["HCM_100x_C2", "LCM_100x_C2"]
    assert all(r.path.is_file() and r.path.parent.parent.parent.name in ("hcm", "lcm") for r in test)


@pytest.fixture(scope="module")
def two_domains(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("domains")
    hcm = api.synth(root / "hcm", images=20, seed=5, size=128, domain="HCM_100x_C2", fmt="lld12")
    api.synth(root / "lcm", images=20, seed=6, size=128, domain="LCM_100x_C2", fmt="lld12")
    combined = {  # YOLO files hold no domain: each split entry names its own
        "names": list(LLD_CLASSES),
        "test": [
            {"path": "hcm/images/test", "domain": "HCM_100x_C2"},
            {"path": "lcm/images/test", "domain": "LCM_100x_C2"},
        ],
    }
    (root / "both.yaml").write_text(yaml.safe_dump(combined))
    run = api.train(hcm, model="test_tiny", epochs=1, imgsz=128, batch=4, out=root / "run", progress=False,
                    overrides=["train.attributes=false"])  # fmt: skip
    return root / "both.yaml", Path(run["best"])


def test_matrix_per_domain_and_all(two_domains: tuple[Path, Path], tmp_path: Path) -> None:
    data, weights = two_domains
    doc = api.domains(data, [weights, weights], split="test", out=tmp_path)
    assert doc["domains"] == ["HCM_100x_C2", "LCM_100x_C2", "all"]
    assert [r["model"] for r in doc["rows"]] == ["HCM_100x_C2", "HCM_100x_C2"]  # the training domain
    cells = doc["rows"][0]["cells"]
    assert [cells[d]["images"] for d in doc["domains"]] == [2, 2, 4]
    assert cells["all"]["map50"] == pytest.approx(api.val(weights, data, split="test")["map50"])
    assert all(0.0 <= c["map50"] <= 1.0 for c in cells.values())
    assert json.loads((tmp_path / "domains.json").read_text()) == doc
    assert "| HCM_100x_C2 |" in (tmp_path / "domains.md").read_text()


def test_cli_domains(two_domains: tuple[Path, Path], tmp_path: Path) -> None:
    data, weights = two_domains
    res = CliRunner().invoke(main, ["domains", str(data), "--weights", str(weights), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["split"] == "test"
    res = CliRunner().invoke(main, ["domains", str(data), "--weights", str(weights), "--split", "val"])
    assert res.exit_code == 2 and "no split 'val'" in res.output
