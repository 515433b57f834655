"""Stain normalisation: Reinhard matches the reference statistics, Macenko recovers known stain vectors."""

from __future__ import annotations

import numpy as np
import pytest

from leukodet.data.stain import (
    StainNormalizer,
    macenko_normalize,
    macenko_stains,
    reinhard_normalize,
    reinhard_stats,
)
from leukodet.synth import render_field

H = np.array([0.65, 0.70, 0.29])
E = np.array([0.07, 0.99, 0.11])


def _stained(stains: np.ndarray, seed: int, size: int = 64) -> np.ndarray:
    """An image made of two stains with known unit OD vectors (columns of ``stains``)."""
    rng = np.random.default_rng(seed)
    conc = rng.uniform(0.0, 1.2, (2, size * size))
    conc[:, : size * size // 5] *= 0.05  # some near-background pixels
    od = (stains / np.linalg.norm(stains, axis=0)) @ conc
    return np.clip(255.0 * np.exp(-od) - 1.0 + 0.5, 0, 255).T.reshape(size, size, 3).astype(np.uint8)


def test_reinhard_matches_reference_statistics() -> None:
    a, b = render_field(1, "HCM_100x_C2", 160).image, render_field(2, "LCM_100x_C1", 160).image
    mean, std = reinhard_stats(b)
    out = reinhard_normalize(a, mean, std)
    got_mean, got_std = reinhard_stats(out)
    assert np.abs(got_mean - mean).max() < 1.5 and np.abs(got_std - std).max() < 1.5
    own = reinhard_normalize(a, *reinhard_stats(a))
    assert np.abs(own.astype(int) - a.astype(int)).max() <= 2  # to its own statistics: unchanged


def test_macenko_recovers_known_stain_vectors() -> None:
    stains = np.stack([H, E], 1)
    found = macenko_stains(_stained(stains, 0))
    assert found is not None
    vectors, max_conc = found
    cos = np.abs((vectors.T @ (stains / np.linalg.norm(stains, axis=0))).diagonal())
    assert cos.min() > 0.99, cos
    assert max_conc.shape == (2,) and (max_conc > 0.5).all()


def test_macenko_maps_one_staining_onto_another() -> None:
    source = _stained(np.stack([np.array([0.45, 0.80, 0.40]), np.array([0.20, 0.95, 0.25])], 1), 1)
    ref_vectors, ref_conc = macenko_stains(_stained(np.stack([H, E], 1), 2))
    out = macenko_normalize(source, ref_vectors, ref_conc)
    vectors, _ = macenko_stains(out)
    assert np.abs((vectors.T @ ref_vectors).diagonal()).min() > 0.99
    blank = np.full((32, 32, 3), 250, np.uint8)
    assert macenko_normalize(blank, ref_vectors, ref_conc) is blank  # nothing stained: left alone


@pytest.mark.parametrize("method", ["reinhard", "macenko"])
def test_normalizer_fits_and_round_trips(method: str) -> None:
    images = [render_field(s, "HCM_100x_C2", 128).image for s in range(3)]
    norm = StainNormalizer.fit(method, images)
    again = StainNormalizer.from_dict(norm.to_dict())
    probe = render_field(9, "LCM_100x_C1", 128).image
    out = again(probe)
    assert out.shape == probe.shape and out.dtype == np.uint8
    assert np.array_equal(out, norm(probe)) and not np.array_equal(out, probe)


def test_none_and_bad_methods() -> None:
    probe = render_field(3, "HCM_100x_C2", 64).image
    assert StainNormalizer.from_dict(None)(probe) is probe
    assert StainNormalizer.fit("none", [probe]).method == "none"
    with pytest.raises(ValueError, match="expected one of none, reinhard, macenko"):
        StainNormalizer.fit("vahadane", [probe])
    with pytest.raises(ValueError, match="unknown method"):
        StainNormalizer.from_dict({"method": "x"})
