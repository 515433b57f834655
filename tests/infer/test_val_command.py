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
        fit = op["localisation"].get(name)
        assert ("(localisation: median IoU" in line) == (fit is not None)
        if fit:
            assert f"size x{fit['median_size_ratio']:.2f}" in line
    # an untrained detector at conf 0.001 makes false detections, and the printed kinds add up to them
    assert sum(sum(k.values()) for k in op["false_positives"].values()) > 0


def test_val_line_says_how_localisation_errors_miss() -> None:
    from leukodet.cli.model_commands import _miss

    fit = {"n": 4, "median_iou": 0.31, "median_size_ratio": 0.62, "too_small": 0.75, "too_large": 0.0,
           "median_centre_offset": 0.1}  # fmt: skip
    assert _miss(fit) == " (localisation: median IoU 0.31, size x0.62, 75% too small, 0% too large)"
    assert _miss(None) == ""


def test_val_iou_sets_the_nms_and_is_recorded(tmp_path: Path) -> None:
    data = api.synth(tmp_path / "data", images=3, seed=5, size=96)
    weights = tiny_checkpoint(tmp_path / "tiny.pt", ["None", "Myeloblast", "Lymphoblast"], imgsz=96)
    base = ["val", "--weights", str(weights), "--data", str(data), "--split", "train", "--conf-op", "0.001"]

    def kept(*extra: str) -> tuple[float, int]:
        result = CliRunner().invoke(main, [*base, *extra])
        assert result.exit_code == 0, result.stderr
        m = json.loads(result.stdout)
        return m["nms_iou"], sum(sum(k.values()) for k in m["operating_point"]["false_positives"].values())

    protocol, strict = kept(), kept("--iou", "0.05")
    assert protocol[0] == 0.6 and strict[0] == 0.05
    assert strict[1] < protocol[1]  # an untrained detector's overlapping boxes: a stricter NMS keeps fewer
    bad = CliRunner().invoke(main, [*base, "--iou", "0"])
    assert bad.exit_code == 2 and "--iou" in bad.output
