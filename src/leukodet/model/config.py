"""Model configuration: one frozen, serialisable dataclass describing a YOLOv5-style detector (spec §7).

Only :func:`leukodet.model.registry.create_model` / :func:`leukodet.model.detector.create_model_from_config`
read a :class:`ModelConfig`; the ``nn.Module`` classes take plain typed keyword arguments.

Anchors are ``(w, h)`` pairs in **input pixels** (the network input, e.g. 640×640), three per level, levels
ordered by stride (P3/8, P4/16, P5/32).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from leukodet.model.hierarchy import check_parents

__all__ = [
    "AnchorPairs",
    "DEFAULT_ANCHORS",
    "DEFAULT_STRIDES",
    "ModelConfig",
    "normalise_anchors",
]

AnchorPairs = tuple[tuple[tuple[float, float], ...], ...]
"""Anchors as ``levels × anchors × (w, h)`` in input pixels."""

DEFAULT_ANCHORS: AnchorPairs = (
    ((10.0, 13.0), (16.0, 30.0), (33.0, 23.0)),
    ((30.0, 61.0), (62.0, 45.0), (59.0, 119.0)),
    ((116.0, 90.0), (156.0, 198.0), (373.0, 326.0)),
)
"""YOLOv5 default anchors (COCO, 640 px input), P3, P4, P5."""

DEFAULT_STRIDES: tuple[int, ...] = (8, 16, 32)
"""Strides of the three detection levels P3, P4, P5."""


def normalise_anchors(anchors: Any, num_levels: int = 3) -> AnchorPairs:
    """Coerce anchors given in any common layout to nested ``(w, h)`` tuples.

    Args:
        anchors: ``levels × anchors × 2`` nested sequence, a ``levels × (2·anchors)`` flat-per-level sequence
            (the YOLO YAML layout), a ``(levels·anchors) × 2`` sequence, or an array/tensor of those shapes.
        num_levels: Number of detection levels to split a flat ``(K, 2)`` list into.

    Returns:
        Anchors as ``levels × anchors × (w, h)`` floats in input pixels.

    Raises:
        ValueError: If the values cannot form equal ``(w, h)`` pairs per level or are not positive.
    """
    values = anchors.tolist() if hasattr(anchors, "tolist") else anchors
    flat = _flatten(values)
    if len(flat) % (2 * num_levels) != 0:
        raise ValueError(f"anchors: {len(flat)} numbers cannot form {num_levels} levels of (w, h) pairs")
    if any(v <= 0 for v in flat):
        raise ValueError("anchors: every width and height must be > 0")
    per_level = len(flat) // num_levels
    return tuple(
        tuple((flat[i], flat[i + 1]) for i in range(start, start + per_level, 2))
        for start in range(0, len(flat), per_level)
    )


def _flatten(values: Any) -> list[float]:
    """Flatten a nested sequence of numbers into a list of floats."""
    if isinstance(values, (int, float)):
        return [float(values)]
    if not isinstance(values, Sequence):
        raise ValueError(f"anchors: expected numbers or sequences, got {type(values).__name__}")
    out: list[float] = []
    for v in values:
        out.extend(_flatten(v))
    return out


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one YOLOv5-style detector; enough to rebuild it from a checkpoint.

    Attributes:
        name: Registered preset name (``yolo_n`` … ``yolo_x``, ``test_tiny``) or any label.
        num_classes: Number of detection classes (14 for the LLD vocabulary).
        depth_multiple: Scales the number of bottlenecks in every C3 block (YOLOv5 ``depth_multiple``).
        width_multiple: Scales every channel count, rounded up to a multiple of 8 (YOLOv5 ``width_multiple``).
        anchors: ``levels × 3 × (w, h)`` anchor sizes in input pixels, levels ordered as ``strides``.
        strides: Output strides of the detection levels (P3, P4, P5).
        sppf_kernel: Max-pool kernel of the SPPF block.
        in_channels: Image channels (3 for RGB).
        attribute_sizes: values per attribute of the AttriHead (schema order); empty = no attribute head.
        attribute_dropout: dropout between the AttriHead FC layers (paper 0.2; the authors' code 0.5).
        attribute_roi, attribute_taps, attribute_context, attribute_flip: what the AttriHead pools of each box
            (ROI size, backbone maps, context margin) and its test-time mirror view
            (:class:`leukodet.attrihead_config.AttriHeadConfig`; the paper's head by default).
        class_parents: per class, the index of its parent class or ``-1`` (see :mod:`leukodet.model.hierarchy`);
            empty = a flat vocabulary.
    """

    name: str
    num_classes: int
    depth_multiple: float = 0.33
    width_multiple: float = 0.25
    anchors: AnchorPairs = DEFAULT_ANCHORS
    strides: tuple[int, ...] = DEFAULT_STRIDES
    sppf_kernel: int = 5
    in_channels: int = 3
    attribute_sizes: tuple[int, ...] = ()
    attribute_dropout: float = 0.2
    class_parents: tuple[int, ...] = ()
    attribute_roi: tuple[int, int] = (24, 30)
    attribute_taps: tuple[str, ...] = ("stem", "c3_p3")
    attribute_context: float = 0.0
    attribute_flip: bool = False

    def __post_init__(self) -> None:
        """Validate values and normalise ``anchors``/``strides`` to tuples (so lists from YAML work)."""
        object.__setattr__(self, "anchors", normalise_anchors(self.anchors, len(self.strides)))
        object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))
        object.__setattr__(self, "attribute_sizes", tuple(int(k) for k in self.attribute_sizes))
        object.__setattr__(self, "attribute_roi", tuple(int(k) for k in self.attribute_roi))
        object.__setattr__(self, "attribute_taps", tuple(str(k) for k in self.attribute_taps))
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")
        object.__setattr__(self, "class_parents", check_parents(self.class_parents, self.num_classes))
        if self.depth_multiple <= 0 or self.width_multiple <= 0:
            raise ValueError("depth_multiple and width_multiple must be > 0")
        if tuple(self.strides) != DEFAULT_STRIDES:
            raise ValueError(f"strides must be {DEFAULT_STRIDES} for this architecture, got {self.strides}")

    @property
    def num_anchors(self) -> int:
        """Anchors per level (3 for YOLOv5)."""
        return len(self.anchors[0])

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-serialisable dict (tuples become lists)."""
        out = asdict(self)
        out["anchors"] = [[list(pair) for pair in level] for level in self.anchors]
        out["strides"] = list(self.strides)
        out["attribute_sizes"] = list(self.attribute_sizes)
        out["class_parents"] = list(self.class_parents)
        out["attribute_roi"] = list(self.attribute_roi)
        out["attribute_taps"] = list(self.attribute_taps)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: On an unknown key (the message names it).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown ModelConfig key(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return cls(**dict(data))

    def with_overrides(self, **overrides: Any) -> ModelConfig:
        """Copy with some fields replaced; an unknown field name raises ``ValueError`` naming it."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(
                f"unknown model override(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return replace(self, **overrides)
