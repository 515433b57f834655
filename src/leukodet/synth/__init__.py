"""Synthetic blood films: procedural blood-film fields with exact labels (leukodet's embedded data).

Public entry points: :func:`generate_dataset` (the ``leukodet synth`` command), :func:`render_field`
(one field in memory: RGB image, cells with tight boxes, instance masks) and :func:`render_crop`
(one centred leukocyte). No torch here: numpy, OpenCV and Pillow only.
"""

from .crops import render_crop
from .field import PLATELET_CLASS_ID, RBC_CLASS_ID, RenderedField, full_mask, render_field
from .generate import class_names, generate_dataset

__all__ = [
    "generate_dataset",
    "render_field",
    "render_crop",
    "RenderedField",
    "full_mask",
    "class_names",
    "RBC_CLASS_ID",
    "PLATELET_CLASS_ID",
]
