"""A fixed synthetic film built from hand-made predictions (two fields, 20 WBCs, 3 None, 2 below threshold)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from leukodet.records.prediction import AttributeCall, Prediction
from leukodet.records.vocab import LLD_ATTRIBUTES, LLD_CLASSES

SCHEMA = {k: v for k, v in LLD_ATTRIBUTES.items() if k != "cell_size"}
"""The six predicted LLD attributes (spec Sec. 2)."""

FIELD_CELLS: tuple[tuple[tuple[str, float], ...], ...] = (
    (("Myeloblast", 0.9),) * 6
    + (("Lymphoblast", 0.8),) * 2
    + (("Abnormal promyelocyte", 0.7), ("Neutrophil", 0.95), ("None", 0.6), ("None", 0.5))
    + (("Monoblast", 0.1), ("Monoblast", 0.2)),
    (("Myeloblast", 0.85),) * 4
    + (("Neutrophil", 0.9),) * 3
    + (("Atypical lymphocyte", 0.6),) * 2
    + (("Lymphocyte", 0.3), ("None", 0.4)),
)
"""(class, score) per cell and field; the two Monoblasts score below the 0.25 threshold."""


def wbc_attributes(j: int) -> dict[str, AttributeCall]:
    """Attributes of the j-th WBC: chromatin 12 coarse / 8 open, shape tied 10/10, nucleoli 15 prominent,
    cytoplasm 15 scanty, basophilia 11 moderate, vacuoles always absent."""
    values = {
        "nuclear_chromatin": "coarse" if j < 12 else "open",
        "nuclear_shape": "irregular" if j % 2 == 0 else "regular",
        "nucleoli": "prominent" if j < 15 else "inconspicuous",
        "cytoplasm": "abundant" if j < 5 else "scanty",
        "cytoplasmic_basophilia": "moderate" if j < 11 else "slight",
        "cytoplasmic_vacuoles": "absent",
    }
    return {k: AttributeCall(v, 0.9) for k, v in values.items()}


NONE_ATTRIBUTES = {
    "nuclear_shape": AttributeCall("irregular", 0.5),
    "cytoplasmic_vacuoles": AttributeCall("prominent", 0.5),
}
"""Calls on None cells: they would break the nuclear-shape tie towards 'irregular' if they were counted."""


def film(folder: Path, attributes: bool = True, size: tuple[int, int] = (240, 200)) -> list[Prediction]:
    """Write the two field images into ``folder`` and return their predictions."""
    w, h = size
    rng = np.random.default_rng(0)
    preds, j = [], 0
    for f, cells in enumerate(FIELD_CELLS):
        path = folder / f"field{f}.png"
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
        boxes, attrs = [], []
        for i, (name, score) in enumerate(cells):
            x, y = 10 + 36 * (i % 6), 10 + 60 * (i // 6)
            boxes.append([x, y, x + 30, y + 40])
            wbc = name != "None" and score >= 0.25
            attrs.append(wbc_attributes(j) if wbc else dict(NONE_ATTRIBUTES))
            j += wbc
        preds.append(
            Prediction(
                np.array(boxes, float),
                np.array([s for _, s in cells]),
                np.array([LLD_CLASSES.index(n) for n, _ in cells]),
                LLD_CLASSES,
                str(path),
                w,
                h,
                attrs if attributes else None,
            )
        )
    return preds
