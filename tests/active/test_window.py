"""Window search: the area fraction and aspect of a window, the exact centre rule, the planted cluster, ties."""

from __future__ import annotations

import math

import numpy as np
import pytest

from leukodet.active.scores import FieldEvidence, unsure_weights
from leukodet.active.window import (
    best_window,
    check_fraction,
    score_map,
    window_positions,
    window_size,
    window_value,
)

from .conftest import cells_at


@pytest.mark.parametrize("size", [(640, 480), (1280, 960), (97, 61), (50, 50), (3, 700)])
@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.5, 1.0])
def test_window_has_the_area_fraction_and_aspect(size: tuple[int, int], fraction: float) -> None:
    width, height = size
    w, h = window_size(width, height, fraction)
    s = math.sqrt(fraction)
    assert abs(w - width * s) <= 0.5 + 1e-9 or w == 1
    assert abs(h - height * s) <= 0.5 + 1e-9 or h == 1
    assert abs(w * h - fraction * width * height) <= w + h + 1  # one pixel of rounding per side
    choice = best_window(width, height, fraction, np.zeros((0, 2)), np.zeros(0))
    x1, y1, x2, y2 = choice.region
    assert 0 <= x1 and 0 <= y1 and x2 <= width and y2 <= height
    assert (x2 - x1, y2 - y1) == (w, h) and all(float(v).is_integer() for v in choice.region)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")])
def test_a_bad_fraction_is_named(bad: float) -> None:
    with pytest.raises(ValueError, match="fraction must be an area fraction in"):
        check_fraction(bad)


def test_positions_reach_the_far_edge() -> None:
    assert window_positions(100, 30, 1).tolist() == list(range(71))
    assert window_positions(100, 30, 20).tolist() == [0, 20, 40, 60, 70]
    assert window_positions(30, 30, 5).tolist() == [0]


def test_score_map_is_exact_at_the_centre_rule() -> None:
    """Every window's score equals the brute-force sum, centres on the borders (integer coordinates) included."""
    rng = np.random.default_rng(3)
    centres = np.concatenate([rng.uniform(0, 40, (30, 2)), rng.integers(0, 40, (30, 2)).astype(float)])
    weights = rng.uniform(0, 1, 60)
    w, h = window_size(40, 40, 0.2)
    xs, ys = window_positions(40, w, 1), window_positions(40, h, 1)
    scores = score_map(centres, weights, xs, ys, w, h)
    brute = [[window_value(centres, weights, (x, y, x + w, y + h)) for x in xs] for y in ys]
    np.testing.assert_allclose(scores, brute, rtol=1e-12)


def _cluster(x: float, y: float, n: int = 6) -> list[tuple[float, float]]:
    return [(x + 12 * (i % 3), y + 15 * (i // 3)) for i in range(n)]


def test_the_search_finds_the_planted_cluster_of_unsure_cells() -> None:
    rng = np.random.default_rng(0)
    sure = [tuple(p) for p in rng.uniform(10, [630, 470], (40, 2))]  # confident cells all over the field
    planted = _cluster(480, 360)
    pred = cells_at(sure + planted, [0.97] * len(sure) + [0.5] * len(planted))
    centres, weights = unsure_weights(FieldEvidence(pred))
    choice = best_window(640, 480, 0.2, centres, weights)
    x1, y1, x2, y2 = choice.region
    assert all(x1 <= cx <= x2 and y1 <= cy <= y2 for cx, cy in planted)
    assert (
        choice.value >= len(planted) and choice.runner_up is not None and choice.runner_up < 1.0
    )  # only sure cells are left
    assert 0 <= x1 and 0 <= y1 and x2 <= 640 and y2 <= 480


def test_the_counted_cells_sit_away_from_the_window_edges() -> None:
    """Among the equal positions, the window is centred on the cells that score."""
    centres = np.array([[300.0, 200.0], [320.0, 230.0]])
    choice = best_window(640, 480, 0.2, centres, np.ones(2))
    x1, y1, x2, y2 = choice.region
    assert abs((x1 + x2) / 2 - 310.0) <= 1 and abs((y1 + y2) / 2 - 215.0) <= 1 and choice.value == 2.0


def test_ties_go_to_the_smallest_y_then_the_smallest_x() -> None:
    left, right = _cluster(100, 100), _cluster(500, 100)  # same y: the left one
    top_right, low_left = _cluster(450, 40), _cluster(60, 380)  # the top one, though further right
    for first, second in ((left, right), (top_right, low_left)):
        for order in (first + second, second + first):  # the order of the cells does not matter
            pred = cells_at(order, [0.5] * len(order))
            choice = best_window(640, 480, 0.2, *unsure_weights(FieldEvidence(pred)))
            x1, y1, x2, y2 = choice.region
            assert all(x1 <= cx <= x2 and y1 <= cy <= y2 for cx, cy in first)
            assert choice.runner_up == pytest.approx(choice.value)  # the other cluster is as good
            again = best_window(640, 480, 0.2, *unsure_weights(FieldEvidence(pred)))
            assert again.region == choice.region


def test_runner_up_is_what_is_left_without_the_chosen_cells() -> None:
    centres = np.array([[320.0, 240.0], [330.0, 250.0], [20.0, 20.0], [30.0, 25.0], [620.0, 470.0]])
    choice = best_window(640, 480, 0.2, centres, np.array([2.0, 1.0, 1.0, 0.5, 1.0]))
    assert choice.value == 3.0 and choice.runner_up == 1.5
    whole = best_window(640, 480, 1.0, centres, np.ones(5))
    assert whole.region == (0.0, 0.0, 640.0, 480.0) and whole.runner_up == 0.0


def test_coarse_grids_and_bad_weights() -> None:
    centres = np.array([[630.0, 470.0]])
    choice = best_window(640, 480, 0.2, centres, np.ones(1), stride=50)  # the last position is searched
    assert choice.value == 1.0 and choice.region[2] >= 630.0
    with pytest.raises(ValueError, match="non-negative"):
        best_window(640, 480, 0.2, centres, -np.ones(1))
    with pytest.raises(ValueError, match="1 cell centres but 2 weights"):
        best_window(640, 480, 0.2, centres, np.ones(2))
