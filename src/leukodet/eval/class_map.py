"""Map a model's class vocabulary onto a dataset's by exact name, never by index (spec §6 evaluation).

A checkpoint trained on one class list may be evaluated on a dataset with another order or another subset;
matching indices would silently score the wrong classes, so names decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ClassMap", "map_classes"]


@dataclass(frozen=True)
class ClassMap:
    """Model class index → dataset class index.

    Attributes:
        model_to_dataset: one entry per model class: its dataset index, or ``-1`` if the dataset lacks it.
        classes_missing: dataset classes the model lacks (dataset order); they score 0.
        unmapped_model_classes: model classes the dataset lacks (model order); their detections are dropped.
    """

    model_to_dataset: tuple[int, ...]
    classes_missing: tuple[str, ...]
    unmapped_model_classes: tuple[str, ...]

    def apply(self, class_ids: np.ndarray) -> np.ndarray:
        """Translate ``[N]`` model class ids to dataset ids (``-1`` for classes the dataset lacks).

        Raises:
            ValueError: if an id is outside the model vocabulary.
        """
        ids = np.asarray(class_ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.model_to_dataset)):
            raise ValueError(f"class id outside the model vocabulary of {len(self.model_to_dataset)} classes")
        table = np.asarray(self.model_to_dataset, dtype=np.int64)
        return table[ids] if ids.size else np.zeros(0, dtype=np.int64)


def _check_unique(names: Sequence[str], what: str) -> None:
    dup = sorted({n for n in names if list(names).count(n) > 1})
    if dup:
        raise ValueError(f"{what} class names are not unique: {', '.join(dup)}")


def map_classes(model_classes: Sequence[str], dataset_classes: Sequence[str]) -> ClassMap:
    """Match model classes to dataset classes by exact (case-sensitive) name.

    Args:
        model_classes: the model's class names, in its output order.
        dataset_classes: the dataset's class names, in ``Cell.class_id`` order.

    Returns:
        The :class:`ClassMap`.

    Raises:
        ValueError: if either vocabulary repeats a name, or no name is common to both.
    """
    _check_unique(model_classes, "model")
    _check_unique(dataset_classes, "dataset")
    index = {name: i for i, name in enumerate(dataset_classes)}
    mapping = tuple(index.get(name, -1) for name in model_classes)
    if all(m < 0 for m in mapping):
        raise ValueError(
            "model and dataset share no class name (matching is by exact name): "
            f"model classes [{', '.join(model_classes)}]; dataset classes [{', '.join(dataset_classes)}]"
        )
    model_set = set(model_classes)
    return ClassMap(
        model_to_dataset=mapping,
        classes_missing=tuple(n for n in dataset_classes if n not in model_set),
        unmapped_model_classes=tuple(n for n, m in zip(model_classes, mapping) if m < 0),
    )
