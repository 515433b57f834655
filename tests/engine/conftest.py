"""Fixtures shared by the engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from leukodet import api


@pytest.fixture(scope="module")
def domains(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two tiny synthetic domains for the adaptation tests: a labelled source (HCM 100x) and a target (LCM 100x)."""
    root = tmp_path_factory.mktemp("domains")
    source = api.synth(root / "hcm", images=8, seed=3, size=128, domain="HCM_100x_C2")
    target = api.synth(root / "lcm", images=6, seed=4, size=128, domain="LCM_100x_C2")
    return source, target
