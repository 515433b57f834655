"""How a trained network predicts: one :class:`InferConfig` for every caller (val, predict, report, serve, ONNX).

The product defaults (conf 0.25, NMS IoU 0.45, 300 detections) and the evaluation protocol (conf 0.001, IoU 0.6,
multi-label, never tiled: what COCO and YOLOv5 validation score) are two values of the same dataclass, so no
caller restates a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import EVAL_CONF, EVAL_IOU, MAX_DET, PREDICT_CONF, PREDICT_IOU

__all__ = ["BACKENDS", "InferConfig", "check_backend", "check_conf", "check_tile_overlap"]

BACKENDS: tuple[str, ...] = ("torch", "onnx")
"""``torch``: a ``.pt`` checkpoint; ``onnx``: an exported ``model.onnx`` run by ONNX Runtime."""


def check_backend(backend: str) -> str:
    """``backend`` itself when it is one of :data:`BACKENDS`; a ``ValueError`` naming them otherwise."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    return backend


def check_conf(conf: float) -> float:
    """``conf`` as a float in [0, 1]; ``ValueError`` naming the value otherwise."""
    value = float(conf)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"confidence threshold must be in [0, 1], got {conf}")
    return value


def check_tile_overlap(tile_overlap: float) -> float:
    """Return ``tile_overlap`` if it is a fraction in ``[0, 0.5]``.

    Raises:
        ValueError: otherwise.
    """
    if not 0.0 <= tile_overlap <= 0.5:
        raise ValueError(f"tile overlap must be a fraction of the tile in [0, 0.5], got {tile_overlap}")
    return float(tile_overlap)


@dataclass(frozen=True)
class InferConfig:
    """Thresholds, input size, tiling and batching of one prediction pass.

    Attributes:
        conf: score threshold of a kept detection.
        iou: NMS IoU threshold (within an image or tile, and across tiles).
        max_det: most detections per image.
        imgsz: network input size (``None``: the checkpoint's), rounded up to the model stride; also the tile side.
        tile: ``True`` tiles every image, ``False`` none, ``None`` those with a long side above ``2 * imgsz``.
        tile_overlap: least tile overlap as a fraction of the tile (raised to ``tiling.MIN_OVERLAP``).
        batch: images (or tiles of one image) per forward pass.
        multi_label: one row per class above ``conf`` instead of the best class only.
        backend: :data:`BACKENDS`, the runtime a checkpoint is loaded with.
    """

    conf: float = PREDICT_CONF
    iou: float = PREDICT_IOU
    max_det: int = MAX_DET
    imgsz: int | None = None
    tile: bool | None = None
    tile_overlap: float = 0.2
    batch: int = 8
    multi_label: bool = False
    backend: str = "torch"

    def __post_init__(self) -> None:
        check_conf(self.conf)
        if not 0.0 < self.iou <= 1.0:
            raise ValueError(f"iou: expected an IoU in (0, 1], got {self.iou}")
        if self.max_det < 1 or self.batch < 1:
            raise ValueError(f"max_det and batch: expected integers >= 1, got {self.max_det}, {self.batch}")
        if self.imgsz is not None and self.imgsz < 1:
            raise ValueError(f"imgsz: expected a positive size, got {self.imgsz}")
        check_tile_overlap(self.tile_overlap)
        check_backend(self.backend)

    @classmethod
    def protocol(
        cls, conf: float = EVAL_CONF, iou: float = EVAL_IOU, max_det: int = MAX_DET, **changes: Any
    ) -> InferConfig:
        """The evaluation protocol: a low confidence floor, multi-label NMS, whole letterboxed images."""
        return cls(
            **{"conf": conf, "iou": iou, "max_det": max_det, "multi_label": True, "tile": False, **changes}
        )
