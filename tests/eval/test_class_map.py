"""Class mapping by exact name."""

from __future__ import annotations

import numpy as np
import pytest

from leukodet.eval import map_classes


def test_map_by_name() -> None:
    cmap = map_classes(["mono", "x", "lymph"], ["lymph", "mono", "neutro"])
    assert cmap.model_to_dataset == (1, -1, 0)
    assert cmap.classes_missing == ("neutro",) and cmap.unmapped_model_classes == ("x",)
    assert cmap.apply(np.array([2, 0, 1])).tolist() == [0, 1, -1]
    with pytest.raises(ValueError):
        cmap.apply(np.array([3]))


def test_exact_names_only_and_errors() -> None:
    with pytest.raises(ValueError, match="share no class"):
        map_classes(["Lymph"], ["lymph"])
    with pytest.raises(ValueError, match="not unique"):
        map_classes(["a", "a"], ["a"])
