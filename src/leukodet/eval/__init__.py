"""Evaluation of detections (spec §6): COCO and YOLOv5-protocol mAP, operating point, region restriction.

numpy + faster-coco-eval only (no torch), so saved predictions can be scored anywhere.
"""

from leukodet.eval.class_map import ClassMap, map_classes
from leukodet.eval.detection import evaluate
from leukodet.records.prediction import Prediction

__all__ = ["ClassMap", "Prediction", "evaluate", "map_classes"]
