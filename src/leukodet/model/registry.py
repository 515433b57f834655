"""Model registry: presets registered by name (``yolo_n`` … ``yolo_x``, ``test_tiny``) for ``create_model``.

A registered entry is a function ``(num_classes) -> ModelConfig``; :func:`create_model` applies validated
overrides and anchors to that config and builds the :class:`~leukodet.model.detector.DetectionModel`. YOLOv5
depth/width multiples: n (0.33, 0.25), s (0.33, 0.50), m (0.67, 0.75), l (1.0, 1.0), x (1.33, 1.25).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from leukodet.model.config import ModelConfig, normalise_anchors
from leukodet.model.detector import DetectionModel, create_model_from_config

__all__ = [
    "ConfigFactory",
    "UnknownModelError",
    "create_model",
    "create_model_from_config",
    "list_models",
    "model_config",
    "register_model",
    "resolve_model_name",
]


class UnknownModelError(KeyError, ValueError):
    """No registered model has the name (a ``KeyError`` as before, and a ``ValueError`` so the command line
    reports it as one clear line); ``str`` is the message itself."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


ConfigFactory = Callable[[int], ModelConfig]
"""A preset: maps ``num_classes`` to the preset's :class:`ModelConfig`."""

_REGISTRY: dict[str, ConfigFactory] = {}


def register_model(fn: ConfigFactory) -> ConfigFactory:
    """Decorator registering a preset under the function's name.

    Raises:
        ValueError: If the name is already registered.
    """
    name = fn.__name__
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered")
    _REGISTRY[name] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Sorted registered names matching a shell-style ``pattern`` (e.g. ``"yolo_*"``)."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def resolve_model_name(name: str) -> str:
    """Map a short size (``"n"``), ``"yolov5n"`` or a full name (``"yolo_n"``) to the registered name.

    Raises:
        UnknownModelError: (a ``KeyError``) if nothing matches; the message lists the registered names.
    """
    key = name.strip().lower()
    for candidate in (key, f"yolo_{key}", key.replace("yolov5", "yolo_", 1)):
        if candidate in _REGISTRY:
            return candidate
    raise UnknownModelError(
        f"unknown model {name!r}; registered: {', '.join(list_models())}; "
        "FCOS (leukodet train, docs/detectors.md): fcos-n"
    )


def model_config(name: str, num_classes: int, *, anchors: Any = None, **overrides: Any) -> ModelConfig:
    """The :class:`ModelConfig` that :func:`create_model` would build (for checkpoints and logs).

    Args:
        name: Registered name or short size (see :func:`resolve_model_name`).
        num_classes: Number of detection classes.
        anchors: Optional ``[3, 3, 2]`` anchors in input pixels (tensor, array or nested lists).
        **overrides: Replacement :class:`ModelConfig` fields, e.g. ``width_multiple=0.5``.

    Raises:
        KeyError: Unknown model name.
        ValueError: Unknown override key (named in the message) or invalid value.
    """
    cfg = _REGISTRY[resolve_model_name(name)](num_classes)
    if anchors is not None:
        overrides["anchors"] = normalise_anchors(anchors, len(cfg.strides))
    return cfg.with_overrides(**overrides)


def create_model(name: str, num_classes: int, *, anchors: Any = None, **overrides: Any) -> DetectionModel:
    """Build a registered detector (randomly initialised; no weights are downloaded).

    Args:
        name: ``yolo_n`` … ``yolo_x``, ``test_tiny`` or a short size like ``"s"``.
        num_classes: Number of detection classes.
        anchors: Optional ``Tensor[3, 3, 2]`` anchors in input pixels (default: YOLOv5 COCO anchors).
        **overrides: Replacement :class:`ModelConfig` fields.

    Returns:
        The detector; ``model.config`` records the full architecture.
    """
    return create_model_from_config(model_config(name, num_classes, anchors=anchors, **overrides))


def _preset(name: str, depth: float, width: float, num_classes: int) -> ModelConfig:
    """Config of a YOLOv5 size preset."""
    return ModelConfig(name=name, num_classes=num_classes, depth_multiple=depth, width_multiple=width)


@register_model
def yolo_n(num_classes: int) -> ModelConfig:
    """YOLOv5n: depth 0.33, width 0.25 (≈1.9 M parameters at 80 classes)."""
    return _preset("yolo_n", 0.33, 0.25, num_classes)


@register_model
def yolo_s(num_classes: int) -> ModelConfig:
    """YOLOv5s: depth 0.33, width 0.50."""
    return _preset("yolo_s", 0.33, 0.50, num_classes)


@register_model
def yolo_m(num_classes: int) -> ModelConfig:
    """YOLOv5m: depth 0.67, width 0.75."""
    return _preset("yolo_m", 0.67, 0.75, num_classes)


@register_model
def yolo_l(num_classes: int) -> ModelConfig:
    """YOLOv5l: depth 1.0, width 1.0."""
    return _preset("yolo_l", 1.0, 1.0, num_classes)


@register_model
def yolo_x(num_classes: int) -> ModelConfig:
    """YOLOv5x: depth 1.33, width 1.25 (the paper's model)."""
    return _preset("yolo_x", 1.33, 1.25, num_classes)


@register_model
def test_tiny(num_classes: int) -> ModelConfig:
    """Very small variant for fast tests: depth 0.33, width 0.0625 (stem 8, P3 16 channels)."""
    return _preset("test_tiny", 0.33, 0.0625, num_classes)
