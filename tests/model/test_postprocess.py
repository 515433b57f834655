"""NMS post-processing: class-aware vs agnostic suppression, multi-label, max_det and conf threshold."""

from __future__ import annotations

import torch
from torchvision.ops import box_convert

from leukodet.model import DetectorOutput, postprocess
from leukodet.model.decode import decode_boxes
from leukodet.model.postprocess import Detections, postprocess_decoded


def _pred(rows: list[tuple[float, float, float, float, float, list[float]]]) -> torch.Tensor:
    """Decoded ``[1, N, 5 + nc]`` predictions from (cx, cy, w, h, obj, class probs)."""
    return torch.tensor([[[cx, cy, w, h, obj, *cls] for cx, cy, w, h, obj, cls in rows]])


OVERLAP = [  # two heavily overlapping boxes + one far away
    (50.0, 50.0, 20.0, 20.0, 0.9, [0.9, 0.1]),
    (51.0, 50.0, 20.0, 20.0, 0.8, [0.9, 0.1]),
    (150.0, 150.0, 20.0, 20.0, 0.9, [0.8, 0.1]),
]


def test_nms_same_class() -> None:
    (det,) = postprocess_decoded(_pred(OVERLAP), conf=0.25, iou=0.45)
    assert isinstance(det, Detections) and len(det) == 2
    assert det.keep_index.tolist() == [0, 2]
    assert torch.allclose(det.scores, torch.tensor([0.81, 0.72]))
    assert torch.allclose(det.boxes[0], torch.tensor([40.0, 40.0, 60.0, 60.0]))
    assert det.labels.dtype == torch.long


def test_different_classes_kept_unless_agnostic() -> None:
    rows = [OVERLAP[0], (51.0, 50.0, 20.0, 20.0, 0.8, [0.1, 0.9])]
    (det,) = postprocess_decoded(_pred(rows), conf=0.25, iou=0.45)
    assert sorted(det.labels.tolist()) == [0, 1]
    (det,) = postprocess_decoded(_pred(rows), conf=0.25, iou=0.45, agnostic=True)
    assert det.labels.tolist() == [0] and det.keep_index.tolist() == [0]


def test_multi_label() -> None:
    rows = [(50.0, 50.0, 20.0, 20.0, 0.9, [0.9, 0.5])]
    (single,) = postprocess_decoded(_pred(rows), conf=0.25)
    (multi,) = postprocess_decoded(_pred(rows), conf=0.25, multi_label=True)
    assert single.labels.tolist() == [0]
    assert multi.labels.tolist() == [0, 1] and multi.keep_index.tolist() == [0, 0]
    assert torch.allclose(multi.scores, torch.tensor([0.81, 0.45]))


def test_conf_threshold_and_max_det() -> None:
    (det,) = postprocess_decoded(_pred(OVERLAP), conf=0.75)
    assert det.keep_index.tolist() == [0]
    grid = [(10.0 + 30 * i, 10.0, 10.0, 10.0, 0.9, [0.9, 0.0]) for i in range(10)]
    (det,) = postprocess_decoded(_pred(grid), conf=0.1, max_det=4)
    assert len(det) == 4
    (det,) = postprocess_decoded(_pred(OVERLAP), conf=0.99)
    assert len(det) == 0 and det.boxes.shape == (0, 4)


def test_postprocess_on_detector_output() -> None:
    levels = [torch.full((2, 3, 4, 4, 7), -10.0), torch.full((2, 3, 2, 2, 7), -10.0)]
    levels[1][1, 2, 1, 0, :] = torch.tensor([0.0, 0.0, 0.0, 0.0, 10.0, -10.0, 10.0])
    anchors = torch.tensor([[[8.0, 8.0]] * 3, [[20.0, 30.0]] * 3])
    out = DetectorOutput(levels=levels, strides=(8, 16), anchors=anchors)
    dets = postprocess(out, conf=0.001, iou=0.6, multi_label=True)
    assert [len(d) for d in dets] == [0, 1]
    det = dets[1]
    assert det.labels.tolist() == [1]
    assert det.keep_index.tolist() == [48 + 2 * 4 + 2]
    assert torch.allclose(det.boxes[0], torch.tensor([-2.0, 9.0, 18.0, 39.0]), atol=1e-4)
    cxcywh = decode_boxes(out)[1, det.keep_index, :4]
    assert torch.allclose(box_convert(cxcywh, "cxcywh", "xyxy"), det.boxes)
