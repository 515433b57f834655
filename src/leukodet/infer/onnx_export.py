"""ONNX export: one graph from a normalised image batch to the kept detections and their attribute logits.

The graph (``model.onnx``) runs what :meth:`leukodet.infer.predictor.Detector._detect` runs in PyTorch:

1. the detector forward and the YOLOv5 box decoding (:func:`leukodet.model.decode.decode_boxes`);
2. the (box, class) scores ``objectness × class probability``: every class with ``multi_label``, else only the
   best class of each box (the other classes get ``-1`` so they never pass ``conf``);
3. class-aware NMS per image with the ONNX ``NonMaxSuppression`` operator (scores above ``conf``, IoU above
   ``iou`` suppressed, at most ``max_det`` boxes per class), then the ``max_det`` best of each image;
4. the AttriHead on the kept boxes (ONNX ``RoiAlign``, ``half_pixel`` = torchvision's ``aligned=True``).

Inputs: ``images`` ``[B, 3, H, W]`` float32 in [0, 1] (``H``, ``W`` multiples of the stride; ``B``, ``H`` and
``W`` are dynamic), scalars ``conf`` (float32), ``iou`` (float32), ``max_det`` (int64), ``multi_label`` (bool).
Outputs, one row per kept detection, grouped by image and by descending score within an image:
``batch_index`` int64 ``[K]``, ``boxes`` float32 ``[K, 4]`` xyxy network pixels, ``scores`` float32 ``[K]``,
``labels`` int64 ``[K]``, ``keep_index`` int64 ``[K]`` (row of the decoded predictions) and, when the model
has an AttriHead, ``attribute_logits`` float32 ``[K, Σ K_a]``. The checkpoint metadata is embedded as ONNX
``metadata_props`` (:data:`METADATA_KEYS`). See docs/onnx.md.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.ops import box_convert, nms

from .._version import __version__
from ..attrihead_config import TAP_STRIDES
from ..model.attrihead import boxes_on_map, mean_probability_logits, mirror_boxes, roi_features, widen_boxes
from ..model.checkpoint import state_digest
from ..model.decode import decode_boxes
from ..model.detector import DetectionModel
from ..model.hierarchy import choose_class
from ..records.files import atomic_write_bytes
from .predictor import Detector

__all__ = [
    "FORMAT",
    "INPUTS",
    "MAX_OPSET",
    "METADATA_KEYS",
    "MIN_OPSET",
    "OUTPUTS",
    "DetectGraph",
    "export_onnx",
]

FORMAT = "leukodet-onnx"
"""Value of the ``leukodet.format`` metadata key of every exported graph."""

MIN_OPSET = 16
"""Oldest opset with ``RoiAlign(coordinate_transformation_mode="half_pixel")``."""

MAX_OPSET = 20
"""Newest opset of torch's TorchScript-based ONNX exporter."""

INPUTS: tuple[str, ...] = ("images", "conf", "iou", "max_det", "multi_label")
OUTPUTS: tuple[str, ...] = ("batch_index", "boxes", "scores", "labels", "keep_index", "attribute_logits")

METADATA_KEYS: tuple[str, ...] = (
    "leukodet.format",
    "leukodet.metadata",
    "leukodet.classes",
    "leukodet.imgsz",
    "leukodet.stride",
    "leukodet.attribute_order",
    "leukodet.attributes",
    "leukodet.inputs",
    "leukodet.outputs",
    "leukodet.source",
    "leukodet.source_digest",
    "leukodet.exporter",
)
"""``metadata_props`` keys written by :func:`export_onnx` (values are strings; JSON where structured)."""


def _nms_reference(boxes: Tensor, scores: Tensor, max_det: Tensor, iou: Tensor, conf: Tensor) -> Tensor:
    """Eager stand-in of ONNX ``NonMaxSuppression``: ``[K, 3]`` (image, class, box) triples."""
    out = []
    for b in range(scores.shape[0]):
        for c in range(scores.shape[1]):
            idx = torch.nonzero(scores[b, c] > conf).squeeze(1)
            keep = idx[nms(boxes[b, idx], scores[b, c, idx], float(iou))][: int(max_det)]
            out.append(torch.stack((torch.full_like(keep, b), torch.full_like(keep, c), keep), 1))
    return torch.cat(out) if out else torch.zeros((0, 3), dtype=torch.long)


class _MultiClassNMS(torch.autograd.Function):
    """Class-aware NMS per image, exported as one ONNX ``NonMaxSuppression`` node."""

    @staticmethod
    def forward(
        ctx: Any, boxes: Tensor, scores: Tensor, max_det: Tensor, iou: Tensor, conf: Tensor
    ) -> Tensor:
        return _nms_reference(boxes, scores, max_det, iou, conf)

    @staticmethod
    def symbolic(g: Any, boxes: Any, scores: Any, max_det: Any, iou: Any, conf: Any) -> Any:
        # center_point_box=0: corner boxes, [y1, x1, y2, x2] by the spec; IoU is the same for [x1, y1, x2, y2]
        return g.op("NonMaxSuppression", boxes, scores, max_det, iou, conf)


def _class_scores(decoded: Tensor, multi_label: Tensor, class_parents: Sequence[int] = ()) -> Tensor:
    """``[B, C, N]`` NMS scores: objectness × class probability, or ``-1`` off the chosen class (single label:
    the most specific class, with its parent's score, as :func:`leukodet.model.hierarchy.choose_class`)."""
    scores = decoded[..., 5:] * decoded[..., 4:5]
    best, label = choose_class(scores, class_parents)
    classes = torch.arange(scores.shape[-1], device=scores.device)
    chosen = torch.where(classes == label.unsqueeze(-1), best.unsqueeze(-1), torch.full_like(scores, -1.0))
    return torch.where(multi_label, scores, chosen).transpose(1, 2)


def _rank_in_image(image: Tensor, score: Tensor, batch: Tensor) -> tuple[Tensor, Tensor]:
    """Order grouping rows by image, best score first, and each sorted row's rank within its image."""
    key = image.double() * 2.0 - score.double()  # exact in float64: image, then descending score
    order = torch.argsort(key)
    image = image[order]
    counts = (image.unsqueeze(1) == torch.arange(batch, device=image.device).unsqueeze(0)).sum(0)
    start = torch.cumsum(counts, 0) - counts
    return order, torch.arange(image.shape[0], device=image.device) - start[image]


class DetectGraph(nn.Module):
    """The exported computation: forward → decode → NMS → top ``max_det`` per image → AttriHead."""

    def __init__(self, model: DetectionModel, attributes: bool = True) -> None:
        super().__init__()
        self.model = model.eval()
        self.attributes = attributes and model.attribute_head is not None

    def forward(
        self, images: Tensor, conf: Tensor, iou: Tensor, max_det: Tensor, multi_label: Tensor
    ) -> tuple[Tensor, ...]:
        out = self.model(images)
        decoded = decode_boxes(out)
        n = decoded.shape[1]
        boxes = box_convert(decoded[..., :4], in_fmt="cxcywh", out_fmt="xyxy")
        scores = _class_scores(decoded, multi_label, self.model.config.class_parents)
        picked = _MultiClassNMS.apply(boxes, scores, max_det.reshape(1), iou.reshape(1), conf.reshape(1))
        image, label, row = picked[:, 0], picked[:, 1], picked[:, 2]
        score = scores.reshape(-1)[(image * scores.shape[1] + label) * n + row]
        order, rank = _rank_in_image(image, score, images.shape[0])
        order = order[rank < max_det]
        image, label, row, score = image[order], label[order], row[order], score[order]
        kept = boxes.reshape(-1, 4)[image * n + row]
        result = (image, kept, score, label, row)
        head = self.model.attribute_head
        if head is None or not self.attributes:
            return result
        logits = self._head(out.features, image, kept)
        if self.model.config.attribute_flip:  # the test-time mirror view, as the torch path
            mirrored = self.model(images.flip(3)).features
            flipped = self._head(mirrored, image, mirror_boxes(kept, images.shape[-1]))
            logits = mean_probability_logits([logits, flipped], head.sizes)
        return (*result, logits)

    def _head(self, features: dict[str, Tensor], image: Tensor, boxes: Tensor) -> Tensor:
        """The AttriHead on the ``[K]`` kept boxes of a batch (``image``: each box's image index)."""
        head = self.model.attribute_head
        wide = widen_boxes(boxes, head.context)
        pooled = [self._roi(features[name], image, wide, TAP_STRIDES[name], head.roi) for name in head.taps]
        return head.classifier(head.features(torch.cat(pooled, 1)))

    @staticmethod
    def _roi(feature: Tensor, image: Tensor, boxes: Tensor, stride: int, size: tuple[int, int]) -> Tensor:
        """:func:`leukodet.model.attrihead.roi_features` on ``[K, 5]`` (image, box on the map) rows."""
        rois = torch.cat(
            (image.unsqueeze(1).to(feature.dtype), boxes_on_map(boxes.to(feature.dtype), stride)), 1
        )
        return roi_features(feature, rois, size)


def _metadata_props(
    det: Detector, weights: Path, digest: str, outputs: list[str], opset: int
) -> dict[str, str]:
    """The ``metadata_props`` of the exported graph (see :data:`METADATA_KEYS`)."""
    return {
        "leukodet.format": FORMAT,
        "leukodet.metadata": json.dumps(det.metadata, sort_keys=True),
        "leukodet.classes": json.dumps(det.class_names),
        "leukodet.imgsz": str(det.imgsz),
        "leukodet.stride": str(int(det.model.max_stride)),
        "leukodet.attribute_order": json.dumps(list(det.attributes)),
        "leukodet.attributes": json.dumps(det.attributes),
        "leukodet.inputs": json.dumps(list(INPUTS)),
        "leukodet.outputs": json.dumps(outputs),
        "leukodet.source": weights.name,
        "leukodet.source_digest": digest,
        "leukodet.exporter": json.dumps(
            {"leukodet": __version__, "torch": torch.__version__, "opset": opset, "exporter": "torchscript"}
        ),
    }


def _trace(graph: DetectGraph, size: int, opset: int, outputs: list[str]) -> bytes:
    """The graph as ONNX bytes (legacy TorchScript exporter: data-dependent NMS output, dynamic axes)."""
    torch.manual_seed(0)
    args = (
        torch.rand(2, 3, size, size),
        torch.tensor(0.0),
        torch.tensor(0.5),
        torch.tensor(4, dtype=torch.long),  # a few boxes: the AttriHead runs on them while tracing
        torch.tensor(False),
    )
    dynamic = {"images": {0: "batch", 2: "height", 3: "width"}, **{k: {0: "detections"} for k in outputs}}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings on shape arithmetic, exporter deprecation notice
        torch.onnx.export(
            graph, args, buffer, dynamo=False, input_names=list(INPUTS), output_names=outputs,
            dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True,
        )  # fmt: skip
    return buffer.getvalue()


def export_onnx(
    weights: str | Path,
    out: str | Path,
    *,
    imgsz: int | None = None,
    opset: int = 17,
    overwrite: bool = False,
) -> Path:
    """Export checkpoint ``weights`` to ``out/model.onnx`` (written atomically); returns its path.

    ``imgsz`` (default: the checkpoint's, rounded up to the stride) is the size recorded as the graph's
    default network size (``leukodet.imgsz``) and traced with; the graph accepts any size that is a multiple
    of the stride. ``opset``: :data:`MIN_OPSET` to :data:`MAX_OPSET`.
    """
    import onnx

    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(
            f"--opset {opset}: choose {MIN_OPSET}-{MAX_OPSET} (RoiAlign half_pixel needs {MIN_OPSET}; "
            f"{MAX_OPSET} is the exporter's newest)"
        )
    target = Path(out) / "model.onnx"
    if target.exists() and not overwrite:
        raise ValueError(f"{target}: already exists (pass --overwrite to replace it)")
    det = Detector.load(weights, "cpu")
    det.metadata = {**det.metadata, "imgsz": det.input_size(imgsz)}
    det.imgsz = det.metadata["imgsz"]
    graph = DetectGraph(det.model, attributes=bool(det.attributes))
    outputs = list(OUTPUTS if graph.attributes else OUTPUTS[:-1])
    proto = onnx.load_from_string(_trace(graph, det.imgsz, opset, outputs))
    digest = state_digest(det.model.state_dict())
    onnx.helper.set_model_props(proto, _metadata_props(det, Path(weights), digest, outputs, opset))
    atomic_write_bytes(target, proto.SerializeToString())
    return target
