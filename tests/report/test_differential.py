"""Wilson intervals against hand-computed values, the differential and the 100/200-cell targets."""

from __future__ import annotations

import math

import pytest

from leukodet.report.bank import BankCell, MorphologyBank
from leukodet.report.differential import differential, target_summary, wilson_interval

Z = 1.959963984540054


def _wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    """The other textbook form: (k + z²/2 ± z·sqrt(k(n-k)/n + z²/4)) / (n + z²)."""
    root = Z * math.sqrt(k * (n - k) / n + Z * Z / 4)
    return (k + Z * Z / 2 - root) / (n + Z * Z), (k + Z * Z / 2 + root) / (n + Z * Z)


@pytest.mark.parametrize(
    "k,n", [(0, 1), (1, 1), (0, 20), (10, 20), (2, 20), (12, 143), (200, 200), (1, 1000)]
)
def test_wilson_matches_the_hand_formula(k: int, n: int) -> None:
    lo, hi = wilson_interval(k, n)  # type: ignore[misc]
    want = _wilson_by_hand(k, n)
    assert lo == pytest.approx(max(0.0, want[0]), abs=1e-12) and hi == pytest.approx(
        min(1.0, want[1]), abs=1e-12
    )
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_wilson_published_values() -> None:
    # 10/20 and 0/20 computed by hand: 0.2993-0.7007 and 0-0.1611
    assert wilson_interval(10, 20) == pytest.approx((0.29930, 0.70070), abs=5e-5)
    assert wilson_interval(0, 20) == pytest.approx((0.0, 0.16113), abs=5e-5)
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_target_summary_wording() -> None:
    assert target_summary(143) == "counted 143 cells: ≥ 100 met, 200 not met"
    assert target_summary(200) == "counted 200 cells: ≥ 100 met, ≥ 200 met"
    assert target_summary(0) == "counted 0 cells: 100 not met, 200 not met"
    assert target_summary(1) == "counted 1 cell: 100 not met, 200 not met"


def _bank(names: list[str]) -> MorphologyBank:
    cells = tuple(BankCell(0, (0.0, 0.0, 1.0, 1.0), n, 0.9, {}) for n in names)
    return MorphologyBank((), cells, ("None", "Myeloblast", "Neutrophil"), {}, 0.25)


def test_none_class_is_counted_apart() -> None:
    diff = differential(_bank(["None"] * 5 + ["Myeloblast"] * 3 + ["Neutrophil"]))
    assert diff.total == 4 and diff.apart == (("None", "artefact", 5),)
    rows = {r.name: r for r in diff.classes}
    assert set(rows) == {"Myeloblast", "Neutrophil"}
    assert rows["Myeloblast"].percent == pytest.approx(75.0)
    assert rows["Myeloblast"].ci95 == pytest.approx(tuple(100 * v for v in _wilson_by_hand(3, 4)))


def test_red_cells_are_not_wbcs_and_a_generic_wbc_is_untyped() -> None:
    cells = tuple(BankCell(0, (0.0, 0.0, 1.0, 1.0), n, 0.9, {}) for n in ["RBC", "WBC", "WBC"])
    bank = MorphologyBank((), cells, ("RBC", "WBC"), {}, 0.25)
    diff = differential(bank)
    assert bank.roles == ("rbc", "wbc") and diff.total == 2 and diff.untyped == 2 and diff.apart == ()
    (row,) = diff.classes
    assert row.name == "WBC" and row.untyped and row.label == "WBC, untyped" and row.percent == 100.0


def test_only_none_cells_gives_null_percentages() -> None:
    diff = differential(_bank(["None", "None"]))
    assert diff.total == 0 and diff.apart == (("None", "artefact", 2),)
    assert all(r.count == 0 and r.percent is None and r.ci95 is None for r in diff.classes)
