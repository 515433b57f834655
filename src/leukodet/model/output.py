"""The detector's single typed output (train and eval alike): raw per-level logits plus named feature maps.

Feature-map channels per preset (640×640 input; spatial size = input / stride):

=========  ==================  ==================  ==================
preset     ``stem`` (s4)       ``c3_p3`` (s8)      ``neck_p3`` (s8)
=========  ==================  ==================  ==================
yolo_n     32                  64                  64
yolo_s     64                  128                 128
yolo_m     96                  192                 192
yolo_l     128                 256                 256
yolo_x     160                 320                 320
test_tiny  8                   16                  16
=========  ==================  ==================  ==================

``neck_p4`` / ``neck_p5`` (strides 16 / 32) are provided too: 2× and 4× the ``neck_p3`` channels.
:attr:`leukodet.model.detector.DetectionModel.feature_channels` gives the exact numbers for any model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["DetectorOutput", "FEATURE_KEYS"]

FEATURE_KEYS: tuple[str, ...] = ("stem", "c3_p3", "neck_p3", "neck_p4", "neck_p5")
"""Keys of :attr:`DetectorOutput.features`, in that order."""


@dataclass
class DetectorOutput:
    """Raw detector output.

    Attributes:
        levels: One tensor per level (strides 8, 16, 32), ``[B, A=3, H_l, W_l, 5 + num_classes]`` raw logits,
            last dim ``(tx, ty, tw, th, objectness, class logits…)``; no sigmoid applied.
        strides: Stride of each level in input pixels, e.g. ``(8, 16, 32)``.
        anchors: ``[L=3, A=3, 2]`` anchor ``(w, h)`` in input pixels, levels ordered as ``strides``.
        features: Named maps ``[B, C, H/s, W/s]``: ``"stem"`` (backbone module 1, stride 4), ``"c3_p3"``
            (backbone module 4, stride 8), ``"neck_p3"`` (neck module 17, stride 8), ``"neck_p4"``,
            ``"neck_p5"`` (neck modules 20, 23).
        image_size: ``(H, W)`` of the input batch in pixels.
        attribute_logits: ``[N, Σ K_a]`` AttriHead logits for the boxes passed to the forward, else ``None``.
        class_parents: the model's class hierarchy (:mod:`leukodet.model.hierarchy`); empty = flat.
    """

    levels: list[Tensor]
    strides: tuple[int, ...]
    anchors: Tensor
    features: dict[str, Tensor] = field(default_factory=dict)
    image_size: tuple[int, int] | None = None
    attribute_logits: Tensor | None = None
    class_parents: tuple[int, ...] = ()

    @property
    def num_classes(self) -> int:
        """Number of classes (last dim of every level minus 5)."""
        return int(self.levels[0].shape[-1]) - 5

    @property
    def batch_size(self) -> int:
        """Number of images in the batch."""
        return int(self.levels[0].shape[0])


def _register_for_export() -> None:
    """Register :class:`DetectorOutput` as a pytree node so ``torch.export`` can trace the detector."""
    try:
        torch.export.register_dataclass(DetectorOutput, serialized_type_name="leukodet.model.DetectorOutput")
    except ValueError:  # already registered (module re-imported)
        pass


_register_for_export()
