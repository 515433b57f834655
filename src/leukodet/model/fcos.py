"""FCOS (Tian et al., "FCOS: Fully Convolutional One-Stage Object Detection", ICCV 2019) on leukodet's backbone.

The head, the loss and the point (anchor) layout are torchvision's :class:`~torchvision.models.detection.FCOS`
(randomly initialised, nothing downloaded); what leukodet adapts is around it (docs/detectors.md):

* **features**: leukodet's own CSP backbone and PAN neck (the ``yolo_n`` preset's depth and width) give the
  P3/P4/P5 maps at strides 8/16/32 of the YOLO-style detector; a 1×1 convolution per level brings them to one
  width (the neck's P3 width, 64 at ``n``), which the FCOS head needs (:class:`LeukodetFeatures`). The paper's
  P6/P7 are not added: the neck ends at P5, whose range is open above (see below).
* **points**: one "anchor" per location and level whose size equals the level's stride (8, 16, 32), so the
  torchvision matcher's scale ranges ``[4s, 8s]`` are the paper's ``m_2..m_4 = 0, 64, 128`` (§3.2: a location
  on level i regresses an object only when ``max(l*, t*, r*, b*)`` lies in ``(m_{i-1}, m_i]``), the first level
  open below and the last (P5) open above.
* **input**: images arrive letterboxed by leukodet (float RGB in [0, 1], sides multiples of 32), exactly what the
  YOLO-style model takes, and go to the backbone as they are (:meth:`FcosNet.head_outputs`): no ImageNet
  normalisation (the backbone's first convolution and batch norm see the same numbers as the YOLO-style
  model's) and no resize (boxes never change scale inside the model). torchvision's transform, kept for the
  wrapped model's own ``forward``, is set to do the same: ``image_mean`` 0, ``image_std`` 1 and its resize
  skipped (:class:`LetterboxedTransform`; ``min_size``/``max_size`` are then unused).

The loss is torchvision's ``FCOS.compute_loss`` (the point-to-box matching and the head's loss), called by the
training objective (:class:`leukodet.engine.fcos_train.FcosObjective`; leukodet's model layer computes no loss):
the paper's Eq. (2), sigmoid focal loss over every location and class plus the box loss over the positive
locations, each divided by ``N_pos``, with torchvision's GIoU box loss (the paper's IoU loss, refined) and the
centre-ness BCE (Eq. 3); regression targets are Eq. (1)'s ``(l*, t*, r*, b*) = (x - x0, y - y0, x1 - x,
y1 - y)`` divided by the level's stride, with centre sampling (radius 1.5 strides). Inference
(:meth:`FcosNet.detect`) follows torchvision's ``postprocess_detections``: score ``sqrt(p_cls · centre-ness)``
(the paper ranks by the product; the square root keeps the score on a probability-like scale, so a ``conf``
threshold means about the same as for the YOLO-style model), the best ``topk_candidates`` per level,
class-aware NMS, ``max_det`` kept; here with leukodet's ``multi_label`` switch and
:class:`~leukodet.model.postprocess.Detections` (``keep_index`` = the location).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.detection import FCOS
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.fcos import FCOSHead
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import batched_nms, clip_boxes_to_image

from leukodet.model.backbone import CSPBackbone
from leukodet.model.blocks import scale_channels
from leukodet.model.neck import PANNeck
from leukodet.model.postprocess import Detections
from leukodet.model.registry import model_config

__all__ = [
    "ARCHITECTURE",
    "FCOS_MODELS",
    "FcosConfig",
    "FcosNet",
    "LeukodetFeatures",
    "LetterboxedTransform",
    "fcos_config",
    "fcos_name",
    "fcos_targets",
    "is_fcos_config",
]

ARCHITECTURE = "fcos"
"""``model_config["architecture"]`` of an FCOS checkpoint (the YOLO-style configs have no such key)."""

FCOS_MODELS: dict[str, str] = {"fcos_n": "yolo_n"}
"""FCOS names and the leukodet preset whose backbone and neck they use (``fcos-n`` is accepted too)."""

MIN_BOX = 1.0
"""Training boxes narrower or shorter than this (network pixels) are dropped: torchvision refuses empty boxes."""


@dataclass(frozen=True)
class FcosConfig:
    """Architecture of one :class:`FcosNet`; enough to rebuild it from a checkpoint's ``model_config``.

    Attributes:
        name: ``fcos_n``. backbone: the leukodet preset giving ``depth_multiple``, ``width_multiple``,
        ``sppf_kernel``. head_width: channels of every level after the 1×1 adapters (the FCOS towers' width;
        a multiple of 32 for their GroupNorm). num_convs: convolutions per tower (paper: 4).
        center_sampling_radius: in strides (torchvision's 1.5). topk_candidates: per level at inference.
    """

    name: str
    num_classes: int
    backbone: str = "yolo_n"
    depth_multiple: float = 0.33
    width_multiple: float = 0.25
    sppf_kernel: int = 5
    in_channels: int = 3
    strides: tuple[int, ...] = (8, 16, 32)
    head_width: int = 64
    num_convs: int = 4
    center_sampling_radius: float = 1.5
    topk_candidates: int = 1000
    architecture: str = ARCHITECTURE

    def __post_init__(self) -> None:
        object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")
        if self.head_width % 32:
            raise ValueError(f"head_width must be a multiple of 32 (GroupNorm groups), got {self.head_width}")
        if self.strides != (8, 16, 32) or self.architecture != ARCHITECTURE:
            raise ValueError(f"an FCOS config has strides (8, 16, 32) and architecture {ARCHITECTURE!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (the checkpoint's ``model_config``)."""
        return {**asdict(self), "strides": list(self.strides)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FcosConfig:
        """Inverse of :meth:`to_dict`; an unknown key is a ``ValueError`` naming it."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown FCOS model_config key(s): {', '.join(unknown)}")
        return cls(**dict(data))


def is_fcos_config(config: Mapping[str, Any]) -> bool:
    """Whether a checkpoint's ``model_config`` describes an :class:`FcosNet`."""
    return config.get("architecture") == ARCHITECTURE


def fcos_name(name: str) -> str | None:
    """The FCOS model ``name`` asks for (``fcos-n``, ``fcos_n``, any case), or ``None`` when it is no FCOS name
    (a YOLO preset, a checkpoint, a bundled name).

    Raises:
        ValueError: ``name`` starts with ``fcos`` but no FCOS model has it (the message lists them).
    """
    key = name.strip().lower().replace("-", "_")
    if key in FCOS_MODELS:
        return key
    if key.startswith("fcos") and not (key.endswith(".pt") or Path(name).exists()):
        known = ", ".join(f"{k} ({k.replace('_', '-')})" for k in FCOS_MODELS)
        raise ValueError(f"unknown FCOS model {name!r}; available: {known}")
    return None


def fcos_config(name: str, num_classes: int) -> FcosConfig:
    """The :class:`FcosConfig` of FCOS model ``name`` for ``num_classes`` classes: the backbone preset's depth,
    width and SPPF kernel, towers as wide as the neck's P3 map (rounded up to a multiple of 32)."""
    key = fcos_name(name)
    if key is None:
        raise ValueError(f"{name!r} is not an FCOS model (available: {', '.join(FCOS_MODELS)})")
    base = model_config(FCOS_MODELS[key], num_classes)
    width = max(32, -(-scale_channels(256, base.width_multiple) // 32) * 32)
    return FcosConfig(key, num_classes, FCOS_MODELS[key], base.depth_multiple, base.width_multiple,
                      base.sppf_kernel, base.in_channels, head_width=width)  # fmt: skip


class LeukodetFeatures(nn.Module):
    """leukodet's CSP backbone + PAN neck, each level brought to ``out_channels`` by a 1×1 convolution (an FPN
    lateral): the ``backbone`` torchvision's FCOS takes (an ``out_channels`` attribute, an ordered dict of
    maps of equal width, strides 8, 16, 32)."""

    def __init__(self, cfg: FcosConfig) -> None:
        super().__init__()
        sizes = {"depth_multiple": cfg.depth_multiple, "width_multiple": cfg.width_multiple}
        self.backbone = CSPBackbone(**sizes, in_channels=cfg.in_channels, sppf_kernel=cfg.sppf_kernel)
        self.neck = PANNeck(**sizes)
        self.out_channels = cfg.head_width
        self.lateral = nn.ModuleList(nn.Conv2d(c, cfg.head_width, 1) for c in self.neck.channels)

    def forward(self, images: Tensor) -> OrderedDict[str, Tensor]:
        """``[B, 3, H, W]`` → ``{"p3", "p4", "p5"}`` maps ``[B, out_channels, H/s, W/s]``."""
        bb = self.backbone(images)
        maps = self.neck(bb.c3_p3, bb.c3_p4, bb.p5)
        return OrderedDict((k, conv(x)) for k, conv, x in zip(("p3", "p4", "p5"), self.lateral, maps))


class LetterboxedTransform(GeneralizedRCNNTransform):
    """torchvision's transform without its resize: leukodet letterboxes before the network, so an image keeps
    its size (and a box its coordinates); normalisation and batching are torchvision's."""

    def resize(self, image: Tensor, target: dict[str, Tensor] | None = None) -> tuple[Any, Any]:
        """The image and target unchanged."""
        return image, target


class FcosNet(nn.Module):
    """torchvision's FCOS on :class:`LeukodetFeatures`, with the interface leukodet's trainer, hooks and
    :class:`~leukodet.infer.predictor.Detector` use (``config``, ``num_classes``, ``max_stride``, no AttriHead).

    ``forward(images)`` returns the raw head outputs with the points (what training and precise batch norm
    run); :meth:`detect` predicts. ``self.fcos`` is the whole torchvision model: its own ``forward`` on a list
    of letterboxed images gives the same detections as :meth:`detect` at ``multi_label=True`` (tested).
    """

    attribute_head = None

    def __init__(self, config: FcosConfig) -> None:
        super().__init__()
        self.config = config
        body = LeukodetFeatures(config)
        points = AnchorGenerator(tuple((s,) for s in config.strides), ((1.0,),) * len(config.strides))
        head = FCOSHead(body.out_channels, 1, config.num_classes, config.num_convs)
        self.fcos = FCOS(
            body, config.num_classes, min_size=self.max_stride, max_size=self.max_stride,
            image_mean=[0.0] * config.in_channels, image_std=[1.0] * config.in_channels,
            anchor_generator=points, head=head, center_sampling_radius=config.center_sampling_radius,
            topk_candidates=config.topk_candidates,
        )  # fmt: skip
        t = self.fcos.transform
        self.fcos.transform = LetterboxedTransform(t.min_size, t.max_size, t.image_mean, t.image_std)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FcosNet:
        """The network of a checkpoint's ``model_config`` (randomly initialised)."""
        return cls(FcosConfig.from_dict(config))

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def max_stride(self) -> int:
        """Input sides must be multiples of this (32)."""
        return int(max(self.config.strides))

    def _check(self, images: Tensor) -> None:
        if images.ndim != 4 or images.shape[-1] % self.max_stride or images.shape[-2] % self.max_stride:
            raise ValueError(
                f"images must be [B, C, H, W] with H, W multiples of {self.max_stride}; got {tuple(images.shape)}"
            )

    def forward(self, images: Tensor) -> tuple[dict[str, Tensor], Tensor, list[int]]:
        """:meth:`head_outputs` on ``[B, 3, H, W]`` float in [0, 1] (``H``, ``W`` multiples of 32). No loss is
        computed here: the training objective (:class:`leukodet.engine.fcos_train.FcosObjective`) hands these
        outputs to torchvision's ``FCOS.compute_loss``."""
        if torch.jit.is_tracing():  # leukodet's ONNX graph decodes the YOLO-style output only
            raise ValueError("an FCOS checkpoint has no ONNX export (leukodet export is YOLO-style only)")
        self._check(images)
        return self.head_outputs(images)

    def head_outputs(self, images: Tensor) -> tuple[dict[str, Tensor], Tensor, list[int]]:
        """Head outputs, the ``[A, 4]`` point boxes (one per location, stride-sized) and locations per level."""
        maps = list(self.fcos.backbone(images).values())
        head = self.fcos.head(maps)
        sizes = [(int(images.shape[-2]), int(images.shape[-1]))] * len(images)
        points = self.fcos.anchor_generator(ImageList(images, sizes), maps)[0]
        return head, points, [int(m.shape[-2] * m.shape[-1]) for m in maps]

    @torch.no_grad()
    def detect(
        self, images: Tensor, conf: float, iou: float, max_det: int, multi_label: bool = True
    ) -> list[Detections]:
        """Detections per image in network pixels (see the module notes); ``multi_label=False`` keeps only the
        best class of each location (one box per location, as the YOLO-style postprocess does)."""
        self._check(images)
        head, points, counts = self.head_outputs(images)
        scores = (head["cls_logits"].sigmoid() * head["bbox_ctrness"].sigmoid()).sqrt()
        level = torch.repeat_interleave(
            torch.arange(len(counts), device=images.device), torch.tensor(counts, device=images.device)
        )
        size = (int(images.shape[-2]), int(images.shape[-1]))
        out = []
        for b in range(len(images)):
            if multi_label:
                loc, label = (scores[b] > conf).nonzero(as_tuple=True)
                score = scores[b][loc, label]
            else:
                score, label = scores[b].max(1)
                loc = (score > conf).nonzero().squeeze(1)
                score, label = score[loc], label[loc]
            keep = _top_per_level(score, level[loc], len(counts), self.config.topk_candidates)
            loc, label, score = loc[keep], label[keep], score[keep]
            boxes = self.fcos.box_coder.decode(head["bbox_regression"][b, loc], points[loc])
            boxes = clip_boxes_to_image(boxes, size)
            kept = batched_nms(boxes, score, label, iou)[:max_det]
            out.append(Detections(boxes[kept], score[kept], label[kept], loc[kept]))
        return out


def _top_per_level(scores: Tensor, level: Tensor, levels: int, k: int) -> Tensor:
    """Indices of the ``k`` highest ``scores`` of every level (torchvision's ``topk_candidates``)."""
    picks = []
    for i in range(levels):
        idx = (level == i).nonzero().squeeze(1)
        picks.append(idx[scores[idx].topk(min(k, len(idx))).indices])
    return torch.cat(picks)


def fcos_targets(targets: Tensor, batch_size: int) -> list[dict[str, Tensor]]:
    """leukodet's collated targets ``[M, 6]`` (image index, class, x1, y1, x2, y2 in network pixels) as
    torchvision's per-image ``{"boxes", "labels"}``; boxes under :data:`MIN_BOX` a side are dropped."""
    wide = (targets[:, 4] - targets[:, 2] >= MIN_BOX) & (targets[:, 5] - targets[:, 3] >= MIN_BOX)
    targets = targets[wide]
    image = targets[:, 0].long()
    return [
        {"boxes": targets[image == i, 2:6].float(), "labels": targets[image == i, 1].long()}
        for i in range(batch_size)
    ]
