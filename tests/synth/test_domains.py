"""Every LLD domain renders, and domains differ as documented (noise, blur, scale)."""

from __future__ import annotations

import numpy as np
import pytest

from leukodet.records.vocab import LLD_DOMAINS
from leukodet.synth.domains import domain_params
from leukodet.synth.field import RBC_CLASS_ID, render_field
from leukodet.synth.layout import RBC_DIAMETER, REFERENCE_SIZE


@pytest.mark.parametrize("domain", LLD_DOMAINS)
def test_domain_renders(domain: str) -> None:
    f = render_field(3, domain, 192)
    assert f.image.shape == (192, 192, 3) and f.image.dtype == np.uint8
    assert any(c.class_id < RBC_CLASS_ID for c in f.cells)


def test_unknown_domain_rejected() -> None:
    with pytest.raises(ValueError, match="unknown domain"):
        domain_params("XYZ_100x_C2")


def _hf_noise(img: np.ndarray) -> float:
    """Median absolute pixel-to-pixel difference (noise proxy on flat background)."""
    g = img.astype(np.float32).mean(-1)
    return float(np.median(np.abs(np.diff(g, axis=1))))


def _sharpness(img: np.ndarray) -> float:
    """Upper percentile of gradient magnitude (edges)."""
    g = img.astype(np.float32).mean(-1)
    return float(np.percentile(np.abs(np.diff(g, axis=1)), 99.5))


def test_c1_noisier_than_c2() -> None:
    c1 = np.mean([_hf_noise(render_field(s, "HCM_100x_C1", 320).image) for s in range(3)])
    c2 = np.mean([_hf_noise(render_field(s, "HCM_100x_C2", 320).image) for s in range(3)])
    assert c1 > 1.5 * c2


def test_lcm_blurrier_than_hcm() -> None:
    lcm = np.mean([_sharpness(render_field(s, "LCM_100x_C2", 320).image) for s in range(3)])
    hcm = np.mean([_sharpness(render_field(s, "HCM_100x_C2", 320).image) for s in range(3)])
    assert lcm < 0.8 * hcm


@pytest.mark.parametrize("domain,scale", [("HCM_40x_C2", 0.4), ("HCM_10x_C2", 0.1)])
def test_magnification_scales_cells(domain: str, scale: float) -> None:
    f = render_field(4, domain, 640)
    heights = [
        c.box[3] - c.box[1] for c in f.cells if c.class_id == RBC_CLASS_ID and 0 < c.box[1] and c.box[3] < 640
    ]
    expected = RBC_DIAMETER[0] * scale * 640 / REFERENCE_SIZE
    assert abs(np.median(heights) / expected - 1) < 0.25
    n_wbc = sum(c.class_id < RBC_CLASS_ID for c in f.cells)
    assert n_wbc > 6  # a lower-magnification field covers more area
