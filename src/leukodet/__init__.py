"""leukodet: white-blood-cell detection, morphological attributes and sparse-annotation training for
peripheral blood film microscopy (Rehman et al. 2025: AttriDet + SLA-Det on the Large Leukemia Dataset).

Importing the package is light: torch is imported only by the layers that need it.
"""

from typing import Any

from ._version import __version__

__all__ = ["__version__", "Detector", "InferConfig", "train", "val", "create_model"]


def __getattr__(name: str) -> Any:
    """Lazy public API: ``from leukodet import Detector, train, val`` without importing torch up front."""
    if name == "Detector":
        from .infer.predictor import Detector

        return Detector
    if name == "InferConfig":
        from .infer.config import InferConfig

        return InferConfig
    if name in ("train", "val"):
        from . import api

        return getattr(api, name)
    if name == "create_model":
        from .model.registry import create_model

        return create_model
    raise AttributeError(f"module 'leukodet' has no attribute {name!r}")
