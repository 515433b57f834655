"""Fine-tuning across class lists: rows are kept by class (and attribute value) name, never by index."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
import torch

from leukodet import api
from leukodet.model.registry import create_model
from leukodet.model.weight_transfer import transfer_weights
from leukodet.records import load_source, write_dataset

SRC = ["WBC", "RBC", "Platelets"]
DST = ["Platelets", "Myeloblast", "WBC"]  # Platelets moved, Myeloblast new, RBC gone


def _randomised(model: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    return model


def _rows(conv_weight: torch.Tensor, anchor: int, nc: int, row: int) -> torch.Tensor:
    return conv_weight[anchor * (5 + nc) + row]


def test_detection_head_rows_follow_class_names() -> None:
    src = _randomised(create_model("test_tiny", len(SRC)))
    dst = create_model("test_tiny", len(DST))
    fresh = {k: v.clone() for k, v in dst.state_dict().items()}
    report = transfer_weights(dst, src.state_dict(), SRC, DST)
    assert report.kept_classes == ["Platelets", "WBC"] and report.new_classes == ["Myeloblast"]
    assert report.dropped_classes == ["RBC"]
    s, d = src.state_dict(), dst.state_dict()
    for level in range(len(dst.head.convs)):
        for kind in ("weight", "bias"):
            key = f"head.convs.{level}.{kind}"
            for a in range(dst.head.num_anchors):
                for k in range(5):  # box and objectness rows of every anchor
                    assert torch.equal(_rows(d[key], a, 3, k), _rows(s[key], a, 3, k))
                # class rows by name: Platelets (dst 0) <- src 2, WBC (dst 2) <- src 0
                assert torch.equal(_rows(d[key], a, 3, 5 + 0), _rows(s[key], a, 3, 5 + 2))
                assert torch.equal(_rows(d[key], a, 3, 5 + 2), _rows(s[key], a, 3, 5 + 0))
                # the new class keeps its initialisation (class-prior bias), not RBC's row
                assert torch.equal(_rows(d[key], a, 3, 5 + 1), _rows(fresh[key], a, 3, 5 + 1))
    backbone = [k for k in s if not k.startswith("head.")]
    assert backbone and all(torch.equal(s[k], d[k]) for k in backbone)
    assert report.reinitialised == [] and report.copied == len(backbone)


def test_a_generic_wbc_starts_from_the_mean_of_the_wbc_type_rows_and_plurals_match() -> None:
    src_classes = ["None", "Myeloblast", "Neutrophil", "RBC", "Platelet"]  # synth-n-like: WBCs by type
    dst_classes = ["WBC", "RBC", "Platelets", "Smudge"]  # BCCD-like, plus a class with no source
    src = _randomised(create_model("test_tiny", len(src_classes)))
    dst = create_model("test_tiny", len(dst_classes))
    fresh = {k: v.clone() for k, v in dst.state_dict().items()}
    report = transfer_weights(dst, src.state_dict(), src_classes, dst_classes)
    assert report.kept_classes == ["RBC"] and report.new_classes == ["Smudge"]
    assert report.derived_classes == ["WBC <- mean of 2 WBC types", "Platelets <- Platelet"]
    assert any("related rows" in line for line in report.lines())
    s, d = src.state_dict(), dst.state_dict()
    ns, nd = len(src_classes), len(dst_classes)
    for level in range(len(dst.head.convs)):
        for kind in ("weight", "bias"):
            key = f"head.convs.{level}.{kind}"
            for a in range(dst.head.num_anchors):
                types = (_rows(s[key], a, ns, 5 + 1) + _rows(s[key], a, ns, 5 + 2)) / 2  # not "None"
                assert torch.allclose(_rows(d[key], a, nd, 5 + 0), types)
                assert torch.equal(_rows(d[key], a, nd, 5 + 1), _rows(s[key], a, ns, 5 + 3))
                assert torch.equal(_rows(d[key], a, nd, 5 + 2), _rows(s[key], a, ns, 5 + 4))
                assert torch.equal(_rows(d[key], a, nd, 5 + 3), _rows(fresh[key], a, nd, 5 + 3))


def test_attribute_logits_follow_attribute_and_value_names() -> None:
    src_attrs = {"cell_size": ["small", "large"], "nucleoli": ["inconspicuous", "prominent"]}
    dst_attrs = {"nucleoli": ["inconspicuous", "prominent"], "vacuoles": ["absent", "present"]}
    src = _randomised(create_model("test_tiny", 2, attribute_sizes=(2, 2)))
    dst = create_model("test_tiny", 2, attribute_sizes=(2, 2))
    report = transfer_weights(dst, src.state_dict(), ["a", "b"], ["a", "b"], src_attrs, dst_attrs)
    assert report.kept_attribute_values == ["nucleoli=inconspicuous", "nucleoli=prominent"]
    assert report.new_attribute_values == ["vacuoles=absent", "vacuoles=present"]
    last = len(dst.attribute_head.classifier) - 1
    key = f"attribute_head.classifier.{last}.weight"
    s, d = src.state_dict()[key], dst.state_dict()[key]
    assert torch.equal(d[0], s[2]) and torch.equal(d[1], s[3])  # nucleoli moved from logits 2-3 to 0-1
    assert not torch.equal(d[2], s[0])  # vacuoles does not inherit cell_size's logits
    hidden = f"attribute_head.classifier.{last - 3}.weight"
    assert torch.equal(dst.state_dict()[hidden], src.state_dict()[hidden])


def test_fine_tuning_on_other_classes_keeps_matched_rows_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = api.synth(tmp_path / "data", images=6, seed=3, size=160)
    first = api.train(
        data, model="test_tiny", epochs=1, imgsz=160, batch=3, out=tmp_path / "a", progress=False,
        recipe="short", overrides=["train.attributes=false"],
    )  # fmt: skip
    ds, _ = load_source(data)
    renamed = ["Blast cell" if c == "Myeloblast" else c for c in ds.classes]
    write_dataset(dataclasses.replace(ds, classes=renamed), tmp_path / "other", "coco")
    with caplog.at_level(logging.INFO, logger="leukodet"):
        api.train(
            tmp_path / "other" / "data.yaml", model=first["best"], epochs=1, imgsz=160, batch=3, out=tmp_path / "b",
            progress=False, recipe="short", overrides=["train.attributes=false", "train.bn_recalibration=0"],
        )  # fmt: skip
    text = caplog.text
    assert "classes new (initialised): Blast cell" in text and "Myeloblast" in text
    assert "classes kept from the checkpoint: None, Lymphoblast" in text
