"""YOLOv5-style one-stage detector on ``torchvision.ops`` primitives (paper §3; spec §3, §6, §7).

Public API: :func:`create_model` / :func:`list_models` (registry), :class:`DetectionModel` returning a
:class:`DetectorOutput`, :func:`decode_boxes` and :func:`postprocess` → :class:`Detections`, anchor fitting
(:func:`check_anchors`) and :func:`model_info`. Layering: imports only torch/torchvision/numpy (no data,
losses or engine).
"""

from leukodet.model.anchors import best_possible_recall, check_anchors, fit_anchors
from leukodet.model.complexity import model_info
from leukodet.model.config import DEFAULT_ANCHORS, DEFAULT_STRIDES, ModelConfig
from leukodet.model.decode import box_from_logits, decode_boxes, decode_level, make_grid
from leukodet.model.detector import DetectionModel, create_model_from_config
from leukodet.model.output import DetectorOutput
from leukodet.model.postprocess import Detections, postprocess
from leukodet.model.registry import (
    create_model,
    list_models,
    model_config,
    register_model,
    resolve_model_name,
)

__all__ = [
    "DEFAULT_ANCHORS",
    "DEFAULT_STRIDES",
    "Detections",
    "DetectionModel",
    "DetectorOutput",
    "ModelConfig",
    "best_possible_recall",
    "box_from_logits",
    "check_anchors",
    "create_model",
    "create_model_from_config",
    "decode_boxes",
    "decode_level",
    "fit_anchors",
    "list_models",
    "make_grid",
    "model_config",
    "model_info",
    "postprocess",
    "register_model",
    "resolve_model_name",
]
