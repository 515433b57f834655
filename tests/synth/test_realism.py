"""Realism of HCM_100x_C2 fields against the real LLD samples (``../shared/data/lld-samples``).

Segmentation heuristic, applied identically to real and synthetic fields (CIELAB, L 0–100):
background = pixels within 4 L of the 75th percentile of L (the plain glass is the brightest mode);
WBC nucleus = a* > 15 and L < 45 (deep purple); RBC = L < background L − 12 and a* < 8 (dark, not purple).
Colour distance is ΔE*ab (CIE76). The WBC/RBC diameter ratio of the synthetic ground truth (median box
heights; heights are not squashed) is compared with the ratio measured on the samples: median height of
isolated RBC blobs (dark components, solidity > 0.93, no purple) vs median height of WBC blobs (purple
components closed by 9 px, area > 250 px, not touching the border).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from leukodet.synth.field import RBC_CLASS_ID, render_field

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SAMPLES = SHARED / "data" / "lld-samples"

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"real LLD samples not found at {SAMPLES}")


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def region_means(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Mean CIELAB of background, RBC and WBC nucleus pixels (heuristic in the module docstring)."""
    lab = _lab(rgb)
    L, a = lab[..., 0], lab[..., 1]
    bg_l = np.percentile(L, 75)
    masks = {
        "background": np.abs(L - bg_l) < 4,
        "rbc": (L < bg_l - 12) & (a < 8),
        "nucleus": (a > 15) & (L < 45),
    }
    return {k: lab[m].mean(0) for k, m in masks.items()}


def _blobs(rgb: np.ndarray) -> tuple[list[int], list[int]]:
    """Heights of isolated RBC blobs and of WBC blobs in a real field."""
    lab = _lab(rgb)
    L, a = lab[..., 0], lab[..., 1]
    h, w = L.shape
    dark = cv2.morphologyEx(
        (L < np.percentile(L, 75) - 8).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)
    )
    n, lbl, st, _ = cv2.connectedComponentsWithStats(dark)
    rbc = []
    for i in range(1, n):
        x, y, bw, bh, area = st[i]
        if area < 300 or x == 0 or y == 0 or x + bw >= w or y + bh >= h:
            continue
        comp = (lbl[y : y + bh, x : x + bw] == i).astype(np.uint8)
        cnts, _ = cv2.findContours(comp, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if (
            area / max(cv2.contourArea(cv2.convexHull(cnts[0])), 1) > 0.93
            and (a[y : y + bh, x : x + bw][comp > 0] > 12).mean() < 0.05
        ):
            rbc.append(int(bh))
    nuc = cv2.morphologyEx(((a > 12) & (L < 55)).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    n2, _, s2, _ = cv2.connectedComponentsWithStats(nuc)
    wbc = [
        int(s2[i][3])
        for i in range(1, n2)
        if s2[i][4] > 250
        and s2[i][1] > 0
        and s2[i][1] + s2[i][3] < h
        and s2[i][0] > 0
        and s2[i][0] + s2[i][2] < w
    ]
    return rbc, wbc


def _real() -> list[np.ndarray]:
    return [cv2.imread(str(p))[..., ::-1] for p in sorted(SAMPLES.glob("*.png"))]


def test_mean_colours_within_delta_e_12() -> None:
    real = [region_means(im) for im in _real()]
    synth = [region_means(render_field(s, "HCM_100x_C2", 640).image) for s in range(4)]
    for key in ("background", "rbc", "nucleus"):
        r = np.mean([m[key] for m in real], 0)
        s = np.mean([m[key] for m in synth], 0)
        de = float(np.linalg.norm(r - s))
        assert de <= 12.0, f"{key}: real {r.round(1)} synthetic {s.round(1)} ΔE {de:.1f}"


def test_wbc_rbc_diameter_ratio_within_20_percent() -> None:
    rbc_h: list[int] = []
    wbc_h: list[int] = []
    for im in _real():
        r, w = _blobs(im)
        rbc_h += r
        wbc_h += w
    real_ratio = float(np.median(wbc_h) / np.median(rbc_h))
    s_rbc: list[float] = []
    s_wbc: list[float] = []
    for s in range(4):
        f = render_field(s, "HCM_100x_C2", 640)
        for c in f.cells:
            x1, y1, x2, y2 = c.box
            if 0 < y1 and y2 < 640:
                (s_rbc if c.class_id == RBC_CLASS_ID else s_wbc if c.class_id < RBC_CLASS_ID else []).append(
                    y2 - y1
                )
    synth_ratio = float(np.median(s_wbc) / np.median(s_rbc))
    assert abs(synth_ratio / real_ratio - 1) <= 0.2, (real_ratio, synth_ratio)
