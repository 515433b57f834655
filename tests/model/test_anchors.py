"""Anchor BPR on a hand case; k-means + mutation fitting recovers synthetic clusters."""

from __future__ import annotations

import numpy as np
import pytest

from leukodet.model import DEFAULT_ANCHORS, best_possible_recall, check_anchors, fit_anchors
from leukodet.model.anchors import anchor_fitness, box_sizes_for_input


def test_bpr_hand_case() -> None:
    anchors = np.array([[10.0, 10.0], [100.0, 50.0]])
    wh = np.array([[10.0, 10.0], [39.0, 10.0], [41.0, 10.0], [100.0, 13.0], [400.0, 199.0], [1.0, 1.0]])
    # ratios to the best anchor: 1, 3.9, 4.1 (→ 100×50 gives 50/10 = 5), 50/13 ≈ 3.85, 4 (not < 4), 10
    assert best_possible_recall(wh, anchors, thr=4.0) == pytest.approx(3 / 6)
    assert best_possible_recall(np.zeros((0, 2)), anchors) == 1.0
    assert anchor_fitness(np.array([[10.0, 20.0]]), np.array([[10.0, 10.0]])) == pytest.approx(0.5)


def _clusters(rng: np.random.Generator, centres: np.ndarray, per: int = 150) -> np.ndarray:
    return np.concatenate([c * np.exp(rng.normal(0, 0.08, (per, 2))) for c in centres])


def test_fit_anchors_recovers_clusters() -> None:
    rng = np.random.default_rng(1)
    centres = np.array(
        [[12, 12], [20, 40], [40, 25], [60, 60], [90, 140], [150, 90], [200, 200], [300, 260], [420, 380.0]]
    )
    wh = _clusters(rng, centres)
    anchors = fit_anchors(wh, n=9, iters=200, seed=0)
    assert anchors.shape == (9, 2)
    assert np.all(np.diff(anchors.prod(1)) >= 0)
    assert best_possible_recall(wh, anchors) >= 0.98
    # every true centre has a fitted anchor within 25 % on both sides
    ratio = np.abs(np.log(centres[:, None, :] / anchors[None])).max(-1).min(1)
    assert np.all(ratio < np.log(1.25)), ratio
    again = fit_anchors(wh, n=9, iters=200, seed=0)
    assert np.array_equal(anchors, again)


def test_check_anchors_keeps_good_and_refits_bad() -> None:
    rng = np.random.default_rng(2)
    default = np.array(DEFAULT_ANCHORS)
    good = _clusters(rng, default.reshape(-1, 2), per=40)
    kept, bpr, changed = check_anchors(good, default)
    assert not changed and bpr >= 0.98 and np.array_equal(kept, default)
    tiny = _clusters(rng, np.array([[1.5, 1.5], [3.0, 2.5], [2.0, 4.0]]) * 2, per=100)
    new, new_bpr, changed = check_anchors(tiny, default, iters=100)
    assert changed and new.shape == (3, 3, 2) and new_bpr >= 0.98
    assert new_bpr > best_possible_recall(tiny, default)


def test_fit_anchors_errors_and_few_boxes() -> None:
    with pytest.raises(ValueError, match="2×2"):
        fit_anchors(np.array([[1.0, 1.0]]))
    few = fit_anchors(np.array([[20.0, 30.0], [60.0, 40.0]]), n=9, iters=20)
    assert few.shape == (9, 2) and np.all(few > 0)


def test_box_sizes_for_input() -> None:
    wh = np.array([[100.0, 50.0]])
    img = np.array([[1280.0, 640.0]])
    assert box_sizes_for_input(wh, img, 640).tolist() == [[50.0, 50.0]]
    assert box_sizes_for_input(wh, img, 640, letterbox=True).tolist() == [[50.0, 25.0]]


def test_a_minority_source_of_large_cells_is_not_outvoted() -> None:
    rng = np.random.default_rng(0)
    small = rng.uniform(4, 12, (3000, 2))  # synthetic 40x/100x cells at 416 px
    large = rng.uniform(110, 150, (40, 2))  # one real data set's cells (BCCD at 416 px)
    tiny_anchors = np.array(
        [[3, 5], [7, 4], [6, 10], [6, 11], [7, 12], [7, 14], [17, 16], [14, 27], [18, 32]]
    )
    kept, bpr, changed = check_anchors(np.concatenate([small, large]), tiny_anchors)
    assert not changed and bpr >= 0.98  # pooled: 40 of 3,040 boxes do not move the recall
    fitted, bpr, changed = check_anchors([small, large], tiny_anchors)
    assert changed and bpr >= 0.98
    assert best_possible_recall(large, fitted) >= 0.98 and best_possible_recall(small, fitted) >= 0.98
