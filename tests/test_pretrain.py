"""``leukodet pretrain``: corpus over domains, fixed-epoch training, fp16 release with its card, resumable, and
deterministic corpus given the seed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from leukodet.engine.checkpoint import load_checkpoint
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
