"""``leukodet val`` on the command line: per class, AP, the operating point and its false detections by kind."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from leukodet import api
from leukodet.cli import main
from tests.conftest import tiny_checkpoint


def test_val_prints_each_class_operating_point_and_false_detections(tmp_path: Path) -> None:
    data = api.synth(tmp_path / "data", images=3, seed=5, size=96)
    weights = tiny_checkpoint(tmp_path / "tiny.pt", ["None", "Myeloblast", "Lymphoblast"], imgsz=96)
    args = ["val", "--weights", str(weights), "--data", str(data), "--split", "train", "--conf-op", "0.001"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    m = json.loads(result.stdout)
    op = m["operating_point"]
    for name in m["per_class"]:
        line = next(ln for ln in result.stderr.splitlines() if ln.strip().startswith(f"{name}: AP50"))
        at = op["per_class"].get(name, {"precision": 0.0, "recall": 0.0})
        assert f"P/R at conf 0.001: {at['precision']:.3f}/{at['recall']:.3f}" in line
        kinds = op["false_positives"].get(name, {})
        for kind, n in kinds.items():
            assert (f"{n} {kind}" in line) == (n > 0)
    # an untrained detector at conf 0.001 makes false detections, and the printed kinds add up to them
    assert sum(sum(k.values()) for k in op["false_positives"].values()) > 0
