"""``leukodet pretrain``: corpus over domains, fixed-epoch training, fp16 release with its card, resumable, and
deterministic corpus given the seed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from leukodet.model.checkpoint import load_checkpoint
from leukodet.pretrain import SETTINGS, build_corpus, label_small_cells, pretrain

TINY = {
    "model": "test_tiny",
    "domains": ("HCM_100x_C2", "LCM_40x_C1"),
    "fields_100x": 10,
    "field_size": 128,
    "imgsz": 128,
    "epochs": 1,
    "batch": 8,
}


def test_pretrain_writes_a_release_with_its_card_and_resumes(tmp_path: Path) -> None:
    lines: list[str] = []
    card = pretrain(tmp_path / "p", "cpu", echo=lines.append, **TINY)
    release = tmp_path / "p" / "synth-n.pt"
    ckpt = load_checkpoint(release)
    assert ckpt["metadata"]["card"] == card == json.loads((tmp_path / "p" / "card.json").read_text())
    assert card["classes"][-3:] == ["RBC", "Platelet", "WBC"] and len(card["classes"]) == 17
    parents = ckpt["metadata"]["model_config"]["class_parents"]  # the WBC types are children of WBC
    assert parents == [-1] + [16] * 13 + [-1, -1, -1]
    assert card["epochs"] == 1 and card["training_data"]["real_images"] == 0
    assert "--setting cpu" in card["command"] and "--epochs 1" in card["command"]
    assert card["training_data"]["fields_per_domain"] == {"HCM_100x_C2": 10, "LCM_40x_C1": 10}
    assert card["wall_clock_seconds"]["train"] > 0 and 0.0 <= card["figures"]["map50"] <= 1.0
    assert all(t.dtype == torch.float16 for t in ckpt["model"].values() if t.is_floating_point())
    data = (tmp_path / "p" / "corpus" / "data.yaml").read_text()
    assert "LCM_40x_C1/annotations/train.json" in data and "domain: LCM_40x_C1" in data
    corpus = tmp_path / "p" / "corpus" / "HCM_100x_C2" / "annotations" / "train.json"
    stamp = corpus.stat().st_mtime_ns
    pretrain(tmp_path / "p", "cpu", echo=lines.append, **TINY)  # resumes: nothing is rebuilt or retrained
    assert corpus.stat().st_mtime_ns == stamp
    assert len((tmp_path / "p" / "run" / "results.csv").read_text().splitlines()) == 2
    assert sum("training" in line for line in lines) == 1


def test_the_corpus_depends_only_on_the_seed_and_small_cells_are_unlabelled_at_10x(tmp_path: Path) -> None:
    s = replace(SETTINGS["cpu"], domains=("HCM_100x_C1",), fields_100x=10, field_size=96)
    a, b = build_corpus(tmp_path / "a", s), build_corpus(tmp_path / "b", s)
    for split in ("train", "val", "test"):
        ja, jb = (
            json.loads((d.parent / "HCM_100x_C1" / "annotations" / f"{split}.json").read_text())
            for d in (a, b)
        )
        assert ja["annotations"] == jb["annotations"]
    names = {
        c["name"]
        for c in json.loads((tmp_path / "a" / "HCM_100x_C1" / "annotations" / "train.json").read_text())[
            "categories"
        ]
    }
    assert {"RBC", "Platelet"} <= names
    assert label_small_cells("HCM_40x_C2") and not label_small_cells("LCM_10x_C1")


def test_the_card_command_names_the_chosen_setting_and_every_change() -> None:
    from leukodet.pretrain import recipe_command

    assert recipe_command("gpu", {}) == "leukodet pretrain --out runs/pretrain --setting gpu"
    cmd = recipe_command("cpu", {"epochs": 2, "fields_100x": 10, "device": "cuda", "imgsz": 160})
    assert cmd == (
        "leukodet pretrain --out runs/pretrain --setting cpu --epochs 2 --fields 10 --device cuda"
        " (API: imgsz=160)"
    )
    assert "PretrainSettings" in recipe_command(None, {})
    sets = recipe_command("cpu", {"extra_overrides": ("augment.hed=0.1", "train.stain_norm=reinhard")})
    assert sets.endswith("--setting cpu --set augment.hed=0.1 --set train.stain_norm=reinhard")


def test_extra_overrides_follow_the_settings_own_and_are_checked_first() -> None:
    import pytest

    from leukodet.config import ConfigError
    from leukodet.pretrain import SETTINGS, with_extra
    from leukodet.pretrain_general import GENERAL_SETTINGS

    base = GENERAL_SETTINGS["cpu"]
    s = with_extra(base, ("train.stain_norm=macenko",))
    assert s.overrides == (*base.overrides, "train.stain_norm=macenko") and with_extra(base, ()) is base
    with pytest.raises(ConfigError, match="augment.nope"):
        with_extra(SETTINGS["cpu"], ("augment.nope=1",))


def _real_set(root: Path, names: list[str]) -> Path:
    """A tiny YOLO data set with train/val/test splits (two images each) and the given class names."""
    from tests.conftest import write_image

    for split in ("train", "val", "test"):
        for i in range(2):
            write_image(root / "images" / split / f"{split}{i}.png", 160, 120, seed=i)
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            lines = [f"{k} {0.2 + 0.25 * k:.2f} 0.5 0.15 0.2" for k in range(len(names))]
            (root / "labels" / split / f"{split}{i}.txt").write_text("\n".join(lines) + "\n")
    (root / "data.yaml").write_text(
        f"names: {names}\ntrain: images/train\nval: images/val\ntest: images/test\n"
    )
    return root / "data.yaml"


def test_general_stage_trains_on_real_train_and_val_only_and_refuses_bcdd(tmp_path: Path) -> None:
    import pytest
    import yaml

    from leukodet.pretrain_general import prepare_real, pretrain_general

    out = tmp_path / "p"
    pretrain(out, "cpu", echo=lambda _: None, **TINY)
    real = _real_set(tmp_path / "bccd", ["Platelets", "RBC", "WBC"])
    lines: list[str] = []
    small = {"imgsz": 128, "epochs": 1, "batch": 4, "domains": ("HCM_100x_C2",)}
    card = pretrain_general(out, {"bccd": real}, "cpu", echo=lines.append, **small)
    data = yaml.safe_load((out / "general" / "data.yaml").read_text())
    assert "test" not in data and data["names"][-3:] == ["RBC", "Platelet", "WBC"]
    listed = [e["path"] for split in ("train", "val") for e in data[split]]
    assert "real/bccd/annotations/train.json" in listed and not any("test" in p for p in listed)
    renamed = yaml.safe_load((out / "general" / "real" / "bccd" / "data.yaml").read_text())
    assert renamed["names"] == ["Platelet", "RBC", "WBC"]  # BCCD's 'Platelets' in the corpus's words
    ckpt = load_checkpoint(out / "general-n.pt")
    assert ckpt["metadata"]["card"] == card and card["start"] == "synth-n.pt"
    assert ckpt["metadata"]["classes"] == data["names"] and card["epochs"] == 1
    assert set(card["figures"]) == {"bccd_test", "synthetic_test"}
    assert card["training_data"]["real"]["bccd"]["trained_on"] == ["train"]
    assert any("fine-tuning from" in line and "synth-n.pt" in line for line in lines)
    bcdd = tmp_path / "bcdd"
    (bcdd / "images").mkdir(parents=True)
    (bcdd / "annotations.csv").write_text("image,xmin,ymin,xmax,ymax,label\n")
    with pytest.raises(ValueError, match="BCDD is the cross-lab check"):
        prepare_real("lab2", bcdd, tmp_path / "x")
    odd = _real_set(tmp_path / "odd", ["Blast"])
    with pytest.raises(ValueError, match="'Blast' has no name in the general vocabulary"):
        prepare_real("odd", odd, tmp_path / "y")


def test_stage_all_checks_the_real_data_first_then_runs_both_stages_in_one_folder(
    tmp_path: Path, monkeypatch
) -> None:
    from click.testing import CliRunner

    from leukodet import api
    from leukodet.cli import main

    calls: list[tuple[str, dict]] = []
    fake = {"figures": {}}
    monkeypatch.setattr(
        api, "pretrain", lambda out, s, **kw: calls.append(("synth", {"out": out, **kw})) or fake
    )
    monkeypatch.setattr(
        api,
        "pretrain_general",
        lambda out, real, s, **kw: calls.append(("general", {"out": out, "real": real, **kw})) or fake,
    )
    out = str(tmp_path / "r")
    missing = CliRunner().invoke(
        main, ["pretrain", "--stage", "all", "--out", out, "--real", f"bccd={tmp_path}/nope"]
    )
    assert missing.exit_code != 0 and "no such data set" in missing.output and calls == []
    none = CliRunner().invoke(main, ["pretrain", "--stage", "all", "--out", out])
    assert none.exit_code != 0 and "needs at least one real data set" in none.output and calls == []
    real = tmp_path / "bccd"
    real.mkdir()
    ok = CliRunner().invoke(
        main, ["pretrain", "--stage", "all", "--out", out, "--real", f"bccd={real}", "--epochs", "2"]
    )
    assert ok.exit_code == 0, ok.output
    assert [c[0] for c in calls] == ["synth", "general"]
    assert calls[0][1]["out"] == calls[1][1]["out"] == out and calls[1][1]["real"] == {"bccd": real}
    assert calls[0][1]["epochs"] == calls[1][1]["epochs"] == 2


def test_both_stages_pin_the_optics_so_the_shipped_models_do_not_follow_the_defaults() -> None:
    """The optics became default in #21; the bundled models' recipe names its own values, so changing
    ``AugmentConfig``'s defaults does not change what ``leukodet pretrain`` trains."""
    from leukodet.pretrain_general import GENERAL_AUGMENT

    optics = {"augment.hed", "augment.blur", "augment.jpeg"}
    for setting in SETTINGS.values():
        assert optics <= {o.split("=")[0] for o in setting.overrides}, setting
    assert optics <= {o.split("=")[0] for o in GENERAL_AUGMENT}
