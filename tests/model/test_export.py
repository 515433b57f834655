"""Export smoke: ``torch.export`` traces the detector and reproduces its typed output; layering holds."""

from __future__ import annotations

import subprocess
import sys

import torch

from leukodet.model import DetectorOutput, create_model

torch.set_num_threads(1)


def test_torch_export_roundtrip() -> None:
    torch.manual_seed(0)
    model = create_model("test_tiny", 3).eval()
    x = torch.rand(1, 3, 64, 64)
    exported = torch.export.export(model, (x,))
    got = exported.module()(x)
    with torch.no_grad():
        ref = model(x)
    assert isinstance(got, DetectorOutput) and got.strides == ref.strides
    for a, b in zip(got.levels, ref.levels):
        assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(got.features["neck_p3"], ref.features["neck_p3"], atol=1e-5)


def test_model_layer_imports_no_higher_layers() -> None:
    code = (
        "import sys, leukodet.model; "
        "bad = [m for m in sys.modules if m.split('.')[:2] in "
        "(['leukodet', 'data'], ['leukodet', 'losses'], ['leukodet', 'engine'], ['leukodet', 'eval'])]; "
        "sys.exit(bool(bad))"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
