"""Per-class priors and class frequencies are respected statistically."""

from __future__ import annotations

import numpy as np

from leukodet.records.vocab import LLD_CLASSES, LLD_TABLE3_COUNTS
from leukodet.synth.priors import (
    ATTRIBUTE_NAMES,
    ATTRIBUTE_PRIORS,
    class_frequencies,
    sample_attributes,
    sample_class,
)


def test_class_frequencies_floor_and_order() -> None:
    p = class_frequencies()
    assert abs(p.sum() - 1) < 1e-9 and p.min() >= 0.01 - 1e-12
    big = [LLD_CLASSES.index(c) for c in ("Myeloblast", "None", "Lymphoblast")]
    counts = np.array([LLD_TABLE3_COUNTS[c] for c in LLD_CLASSES])
    ratio = p[big] / counts[big]
    assert np.allclose(ratio, ratio[0])  # untouched classes keep Table 3 proportions


def test_sampled_classes_match_frequencies() -> None:
    rng = np.random.default_rng(0)
    n = 20000
    hist = np.bincount([sample_class(rng) for _ in range(n)], minlength=len(LLD_CLASSES)) / n
    p = class_frequencies()
    assert np.all(np.abs(hist - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-3)


def test_sampled_attributes_match_priors() -> None:
    rng = np.random.default_rng(1)
    n = 3000
    for cname, probs in ATTRIBUTE_PRIORS.items():
        cid = LLD_CLASSES.index(cname)
        draws = np.array([[sample_attributes(rng, cid)[a] for a in ATTRIBUTE_NAMES] for _ in range(n)], float)
        pr = np.array(probs)
        assert np.all(np.abs(draws.mean(0) - pr) < 5 * np.sqrt(pr * (1 - pr) / n)), cname
