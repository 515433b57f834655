"""The ONNX Runtime backend: :class:`OnnxDetector` runs an exported ``model.onnx`` (see :mod:`.onnx_export`).

It is a :class:`~leukodet.infer.predictor.Detector` whose one model call (``_detect``) runs the ONNX graph
instead of the PyTorch model, so letterboxing, tiling, batching and the :class:`Prediction` objects are the
same code for both backends. ``onnxruntime`` is imported on first use (``pip install 'leukodet[onnx]'``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.stain import StainNormalizer
from ..model.postprocess import Detections
from ..records.prediction import AttributeCall
from .attributes import decode_attributes
from .config import InferConfig
from .onnx_export import FORMAT
from .predictor import Calls, Detector, Select

__all__ = ["OnnxBackendError", "OnnxDetector", "read_onnx_metadata"]

_ZIP = b"PK\x03\x04"  # torch.save's file format
_PICKLE = b"\x80"  # torch.save's legacy format


class OnnxBackendError(ValueError):
    """The ONNX backend cannot run (onnxruntime missing, a file that is no leukodet ONNX export, ...)."""


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise OnnxBackendError("the ONNX backend needs onnxruntime: pip install 'leukodet[onnx]'") from None
    return onnxruntime


def _check_file(path: Path) -> None:
    """A clear error for a missing file or a PyTorch checkpoint given where an ONNX model is expected."""
    if not path.is_file():
        raise OnnxBackendError(f"{path}: ONNX model not found")
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith(_ZIP) or head.startswith(_PICKLE):
        raise OnnxBackendError(
            f"{path}: a PyTorch checkpoint, not an ONNX model; export it with "
            f"'leukodet export --weights {path} --format onnx --out DIR' and pass DIR/model.onnx "
            "(or use --backend torch)"
        )


def read_onnx_metadata(props: dict[str, str], path: Path | str = "") -> dict[str, Any]:
    """Parse the ``metadata_props`` of a leukodet export: ``{"metadata", "imgsz", "stride", "attributes",
    "outputs"}`` (``metadata`` is the checkpoint metadata, ``attributes`` the ordered schema)."""
    if props.get("leukodet.format") != FORMAT:
        raise OnnxBackendError(f"{path}: not a leukodet ONNX export (no '{FORMAT}' metadata)")
    try:
        schema = json.loads(props["leukodet.attributes"])
        order = json.loads(props["leukodet.attribute_order"])
        return {
            "metadata": json.loads(props["leukodet.metadata"]),
            "imgsz": int(props["leukodet.imgsz"]),
            "stride": int(props["leukodet.stride"]),
            "attributes": {str(k): [str(v) for v in schema[k]] for k in order},
            "outputs": list(json.loads(props["leukodet.outputs"])),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise OnnxBackendError(f"{path}: leukodet ONNX metadata is incomplete or corrupt ({exc})") from None


def _providers(ort: Any, device: str | torch.device) -> list[Any]:
    """ONNX Runtime execution providers for ``device`` (``cpu``, ``cuda``, ``cuda:N`` or ``N``)."""
    text = str(device)
    if text == "cpu":
        return ["CPUExecutionProvider"]
    index = text.split(":", 1)[1] if text.startswith("cuda:") else "0" if text == "cuda" else text
    if not index.isdigit():
        raise OnnxBackendError(f"--device {text!r}: expected cpu, cuda, cuda:N or a CUDA index")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise OnnxBackendError(f"--device {text}: this onnxruntime has no CUDA provider (onnxruntime-gpu)")
    return [("CUDAExecutionProvider", {"device_id": int(index)}), "CPUExecutionProvider"]


class OnnxDetector(Detector):
    """A ``model.onnx`` export ready for prediction (``OnnxDetector.load(path)``); ``predict`` as Detector's.

    It has no torch ``model``; ``session`` is the ONNX Runtime ``InferenceSession``.
    """

    def __init__(self, session: Any, path: Path | str = "", infer: InferConfig | None = None) -> None:
        """Wrap an open session of the export at ``path`` (no torch model: ``Detector.__init__`` is not used)."""
        meta = read_onnx_metadata(session.get_modelmeta().custom_metadata_map, path)
        self.session = session
        self.device = torch.device("cpu")  # where the detections land
        self.metadata: dict[str, Any] = meta["metadata"]
        self.class_names = [str(c) for c in self.metadata["classes"]]
        self.stain = StainNormalizer.from_dict(self.metadata.get("stain_norm"))
        self.imgsz = meta["imgsz"]
        self.stride: int = meta["stride"]
        self.attributes = meta["attributes"]
        self.infer = infer or InferConfig(backend="onnx")
        self._outputs = [o.name for o in session.get_outputs()]
        self._check_outputs(meta["outputs"], path)

    def _check_outputs(self, declared: Sequence[str], path: Path | str) -> None:
        """The graph's outputs must be the ones the metadata names, its logits as wide as the schema."""
        shapes = {o.name: o.shape for o in self.session.get_outputs()}
        width = sum(len(v) for v in self.attributes.values())
        logits = shapes["attribute_logits"][-1] if "attribute_logits" in shapes else 0
        if list(declared) != self._outputs or logits != width:
            raise OnnxBackendError(
                f"{path}: graph outputs {self._outputs} ({logits} attribute logits) do not match the "
                f"metadata ({list(declared)}, {width} attribute values)"
            )

    @classmethod
    def load(
        cls, path: str | Path, device: str | torch.device = "cpu", threads: int | None = None
    ) -> OnnxDetector:
        """Open ``path`` with ONNX Runtime on ``device``; ``threads`` intra-op threads (default: torch's)."""
        ort = _onnxruntime()
        path = Path(path)
        _check_file(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), options, providers=_providers(ort, device))
        except Exception as exc:  # onnxruntime's errors (InvalidProtobuf, Fail, ...) are plain Exceptions
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise OnnxBackendError(f"{path}: not a loadable ONNX model ({first})") from None
        return cls(session, path)

    def _detect(
        self, images: torch.Tensor, cfg: InferConfig, select: Select | None = None
    ) -> tuple[list[Detections], Calls]:
        """The ONNX graph on a ``[B, 3, S, S]`` float batch in [0, 1]: per image its detections (network
        pixels, best first) and the attribute calls of the detections ``select`` picks (default: every one not
        of the LLD class ``None``); the graph scores every kept detection, so picking only drops calls."""
        feeds = {
            "images": np.ascontiguousarray(images.detach().cpu().float().numpy()),
            "conf": np.asarray(cfg.conf, np.float32),
            "iou": np.asarray(cfg.iou, np.float32),
            "max_det": np.asarray(cfg.max_det, np.int64),
            "multi_label": np.asarray(bool(cfg.multi_label)),
        }
        out = dict(zip(self._outputs, self.session.run(self._outputs, feeds)))
        rows = [np.flatnonzero(out["batch_index"] == b) for b in range(images.shape[0])]
        dets = [self._detections(out, r) for r in rows]
        logits = out.get("attribute_logits")
        only = select(dets) if select else self._named(dets)
        calls = [
            self._calls(d, None if logits is None else logits[r], o) for d, r, o in zip(dets, rows, only)
        ]
        return dets, calls

    @staticmethod
    def _detections(out: dict[str, np.ndarray], rows: np.ndarray) -> Detections:
        def pick(name: str) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(out[name][rows]))

        return Detections(pick("boxes"), pick("scores"), pick("labels"), pick("keep_index"))

    def _calls(
        self, det: Detections, logits: np.ndarray | None, only: Sequence[int] | None
    ) -> list[dict[str, AttributeCall]]:
        """Attribute calls of one image's detections ``only`` (all when ``None``; ``{}`` for the others and
        without a head)."""
        calls: list[dict[str, AttributeCall]] = [{} for _ in range(len(det))]
        if logits is None or not self.attributes:
            return calls
        picked = sorted(set(range(len(det)) if only is None else only))
        if picked:
            decoded = decode_attributes(torch.from_numpy(logits[picked]), self.attributes)
            for i, call in zip(picked, decoded):
                calls[i] = call
        return calls

    def input_size(self, imgsz: int | None) -> int:
        size = imgsz or self.imgsz
        return max(self.stride, (size + self.stride - 1) // self.stride * self.stride)
