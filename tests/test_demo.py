"""``leukodet demo``: the whole job from a pretrained start (zero-shot figures, SLA-Det fine-tune, gain, report)
and from random weights when no model is bundled. Tiny fields and a seconds-long budget keep it under 30 s."""

from __future__ import annotations

from pathlib import Path

import torch

from leukodet import api
from leukodet.model.checkpoint import load_checkpoint, save_checkpoint
from leukodet.model.registry import create_model
from leukodet.records import LLD_CLASSES, lld_schema
from leukodet.records.vocab import class_parents

NAMES = [*LLD_CLASSES, "RBC", "Platelet", "WBC"]
SMALL = {"images": 10, "minutes": 0.05, "size": 160, "imgsz": 128}


def _start(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    sizes = [len(v) for v in lld_schema().to_mapping().values()]
    model = create_model("test_tiny", len(NAMES), attribute_sizes=sizes, class_parents=class_parents(NAMES))
    schema = lld_schema()
    meta = {
        "classes": NAMES,
        "imgsz": 128,
        "model_config": model.config.to_dict(),
        "attributes": schema.to_mapping(),
        "attribute_order": list(schema.names),
        "leukodet": "test",
    }
    return save_checkpoint(path, model.state_dict(), meta)


def test_demo_fine_tunes_a_pretrained_start_with_sladet_and_reports(tmp_path: Path) -> None:
    lines: list[str] = []
    start, shown = _start(tmp_path / "start.pt"), _start(tmp_path / "general.pt", seed=1)
    result = api.demo(tmp_path / "out", model=str(start), showcase=str(shown), echo=lines.append, **SMALL)
    text = "\n".join(lines)
    assert "never trained on these fields" in text and "gain: mAP50" in text
    assert f"{start} as it comes (the start of step 4)" in text
    assert result["showcase"]["model"] == str(shown) and result["showcase"]["report"]["model"]["weights"] == (
        "general.pt"
    )
    assert (tmp_path / "out" / "start_report" / "report.html").is_file()
    assert result["start"] is not None and "WBC" in result["start"]["per_class"]  # typed WBCs scored as WBC
    assert load_checkpoint(result["train"]["best"])["metadata"]["sparse_method"] == "sladet"
    assert (tmp_path / "out" / "start_test_metrics.json").is_file()
    assert (tmp_path / "out" / "report" / "report.html").is_file()
    config = (tmp_path / "out" / "run" / "config.yaml").read_text()
    assert f"model: {start}" in config


def test_demo_trains_from_random_weights_when_no_model_is_bundled(tmp_path: Path) -> None:
    lines: list[str] = []
    result = api.demo(
        tmp_path / "out", model="no-such-model", showcase="nor-this", echo=lines.append, **SMALL
    )
    assert any("'no-such-model' is not bundled" in line for line in lines)
    assert result["start"] is None and not any("gain" in line for line in lines)
    assert result["showcase"]["model"] is None and not (tmp_path / "out" / "start_report").exists()
    assert (tmp_path / "out" / "report" / "report.json").is_file()
