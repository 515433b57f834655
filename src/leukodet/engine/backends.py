"""Prediction backends: ``torch`` (a ``.pt`` checkpoint, :class:`~.predict.Detector`) or ``onnx`` (an exported
``model.onnx`` run by ONNX Runtime, :class:`~.onnx_backend.OnnxDetector`). Both predict identically."""

from __future__ import annotations

from pathlib import Path

import torch

from .predict import Detector

__all__ = ["BACKENDS", "check_backend", "load_detector"]

BACKENDS: tuple[str, ...] = ("torch", "onnx")


def check_backend(backend: str) -> str:
    """``backend`` itself when it is one of :data:`BACKENDS`; a ``ValueError`` naming them otherwise."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    return backend


def load_detector(
    weights: str | Path, backend: str = "torch", device: str | torch.device = "cpu"
) -> Detector:
    """The detector of ``weights`` on ``backend``: a ``.pt`` checkpoint for ``torch``, a ``model.onnx`` export
    (``leukodet export``) for ``onnx``; a clear ``ValueError`` for the other kind of file."""
    if check_backend(backend) == "onnx":
        from .onnx_backend import OnnxDetector

        return OnnxDetector.load(weights, device)
    if Path(weights).suffix.lower() == ".onnx":
        raise ValueError(
            f"{weights}: an ONNX model; pass --backend onnx to run it (or give a .pt checkpoint)"
        )
    return Detector.load(weights, device)
