"""Prediction backends: ``torch`` (a ``.pt`` checkpoint, :class:`~.predict.Detector`) or ``onnx`` (an exported
``model.onnx`` run by ONNX Runtime, :class:`~.onnx_backend.OnnxDetector`). Both predict identically."""

from __future__ import annotations

from pathlib import Path

import torch

from .config import BACKENDS, check_backend
from .predictor import Detector

__all__ = ["BACKENDS", "check_backend", "load_detector"]


def load_detector(
    weights: str | Path,
    backend: str = "torch",
    device: str | torch.device = "cpu",
    crop_model: str | Path | None = None,
) -> Detector:
    """The detector of ``weights`` on ``backend``: a ``.pt`` checkpoint for ``torch``, a ``model.onnx`` export
    (``leukodet export``) for ``onnx``; a clear ``ValueError`` for the other kind of file. ``crop_model``: a
    crop classifier checkpoint (``leukodet train-crops``) that predicts the attributes instead of the AttriHead
    (torch backend)."""
    if crop_model is not None:
        if check_backend(backend) == "onnx":
            raise ValueError(
                "--crop-model runs on the torch backend (the ONNX export holds the AttriHead only)"
            )
        from ..model.crop_classifier import load_crop_classifier

        classifier = load_crop_classifier(crop_model, device)  # checked before the detector is loaded
        return load_detector(weights, backend, device).use_crops(classifier)
    if check_backend(backend) == "onnx":
        from .onnx_backend import OnnxDetector

        return OnnxDetector.load(weights, device)
    if Path(weights).suffix.lower() == ".onnx":
        raise ValueError(
            f"{weights}: an ONNX model; pass --backend onnx to run it (or give a .pt checkpoint)"
        )
    return Detector.load(weights, device)
