"""YOLOv5-style one-stage detector composed of CSP backbone, PAN neck and anchor head (paper §3, spec §3.1).

``forward`` returns the same :class:`~leukodet.model.output.DetectorOutput` in ``train()`` and ``eval()``: raw
logits per level plus named feature maps. Losses and post-processing live outside the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

import torch
from torch import Tensor, nn

from leukodet.model.attrihead import ROI_SIZE, TAPS, AttriHead
from leukodet.model.backbone import CSPBackbone
from leukodet.model.config import DEFAULT_ANCHORS, DEFAULT_STRIDES, ModelConfig, normalise_anchors
from leukodet.model.head import DetectionHead
from leukodet.model.neck import PANNeck
from leukodet.model.output import DetectorOutput

__all__ = ["DetectionModel", "create_model_from_config"]


class DetectionModel(nn.Module):
    """Backbone → neck → head on images ``[B, 3, H, W]`` float in ``[0, 1]``, ``H``, ``W`` multiples of 32.

    Attributes:
        config: The :class:`ModelConfig` this model was built from (kept in sync by :meth:`set_anchors`).
        anchors: Buffer ``[3, 3, 2]``, anchor ``(w, h)`` in input pixels per level (P3, P4, P5).
        strides: Buffer ``[3]`` of level strides (8, 16, 32).
        feature_channels: Channels of every named feature map in :attr:`DetectorOutput.features`.
    """

    anchors: Tensor
    strides: Tensor

    def __init__(
        self,
        *,
        num_classes: int,
        depth_multiple: float = 1.0,
        width_multiple: float = 1.0,
        anchors: Any = DEFAULT_ANCHORS,
        strides: Sequence[int] = DEFAULT_STRIDES,
        sppf_kernel: int = 5,
        in_channels: int = 3,
        name: str = "custom",
        attribute_sizes: Sequence[int] = (),
        attribute_dropout: float = 0.2,
        class_parents: Sequence[int] = (),
        attribute_roi: Sequence[int] = ROI_SIZE,
        attribute_taps: Sequence[str] = TAPS,
        attribute_context: float = 0.0,
        attribute_flip: bool = False,
    ) -> None:
        """Build the detector.

        Args:
            num_classes: Number of detection classes.
            depth_multiple: YOLOv5 depth multiple (bottleneck count scale).
            width_multiple: YOLOv5 width multiple (channel scale).
            anchors: ``3 × 3 × (w, h)`` anchors in input pixels (any layout ``normalise_anchors`` accepts).
            strides: Level strides; must be ``(8, 16, 32)``.
            sppf_kernel: SPPF max-pool kernel size.
            in_channels: Image channels.
            name: Label stored in :attr:`config`.
            attribute_sizes, attribute_dropout: Values per attribute (non-empty adds the :class:`AttriHead`)
                and the dropout between its FC layers; class_parents: see :mod:`leukodet.model.hierarchy`.
            attribute_roi, attribute_taps, attribute_context, attribute_flip: what the AttriHead pools
                (:class:`AttriHead`) and whether inference adds the mirror view (:mod:`leukodet.infer.attributes`).
        """
        super().__init__()
        self.config = ModelConfig(  # its __post_init__ turns sequences into tuples and checks them
            name=name, num_classes=num_classes, depth_multiple=depth_multiple, width_multiple=width_multiple,
            anchors=anchors, strides=tuple(strides), sppf_kernel=sppf_kernel, in_channels=in_channels,
            attribute_sizes=attribute_sizes, attribute_dropout=attribute_dropout,
            class_parents=tuple(class_parents), attribute_roi=attribute_roi, attribute_taps=attribute_taps,
            attribute_context=attribute_context, attribute_flip=attribute_flip,
        )  # fmt: skip
        sizes = {"depth_multiple": depth_multiple, "width_multiple": width_multiple}
        self.backbone = CSPBackbone(**sizes, in_channels=in_channels, sppf_kernel=sppf_kernel)
        self.neck = PANNeck(**sizes)
        self.head = DetectionHead(
            in_channels=self.neck.channels,
            num_classes=num_classes,
            num_anchors=self.config.num_anchors,
            strides=self.config.strides,
        )
        self.register_buffer("anchors", torch.tensor(self.config.anchors, dtype=torch.float32))
        self.register_buffer("strides", torch.tensor(self.config.strides, dtype=torch.float32))
        self.feature_channels: dict[str, int] = {
            **{k: self.backbone.channels[k] for k in ("stem", "c3_p3", "c3_p4")},
            **dict(zip(("neck_p3", "neck_p4", "neck_p5"), self.neck.channels)),
        }
        self.attribute_head = self._attribute_head()
        self.register_load_state_dict_post_hook(_sync_config_anchors)

    def _attribute_head(self) -> AttriHead | None:
        """The AttriHead over the config's taps (the paper's: ``stem`` and ``c3_p3``), when it names attributes."""
        c = self.config
        if not c.attribute_sizes:
            return None
        channels = sum(self.feature_channels[name] for name in c.attribute_taps)
        return AttriHead(
            channels, c.attribute_sizes, c.attribute_dropout,
            roi=c.attribute_roi, taps=c.attribute_taps, context=c.attribute_context,
        )  # fmt: skip

    def freeze_detector(self) -> None:
        """Train only the AttriHead: every other parameter stops learning and its batch norm stays in eval."""
        if self.attribute_head is None:
            raise ValueError("freeze_detector needs a model with an AttriHead")
        self.detector_frozen = True
        for name, p in self.named_parameters():
            p.requires_grad_(name.startswith("attribute_head."))
        self.train(self.training)

    def train(self, mode: bool = True) -> DetectionModel:
        """As ``nn.Module.train``; a frozen detector keeps backbone, neck and head in eval mode."""
        super().train(mode)
        if getattr(self, "detector_frozen", False):
            for part in (self.backbone, self.neck, self.head):
                part.train(False)
        return self

    @property
    def num_classes(self) -> int:
        """Number of detection classes."""
        return self.config.num_classes

    @property
    def max_stride(self) -> int:
        """Largest level stride; input height and width must be multiples of it."""
        return int(max(self.config.strides))

    def forward(self, images: Tensor, attribute_boxes: Sequence[Tensor] | None = None) -> DetectorOutput:
        """Run the network.

        Args:
            images: ``[B, 3, H, W]`` float in ``[0, 1]``; ``H`` and ``W`` multiples of 32.
            attribute_boxes: per image ``[N_i, 4]`` xyxy input-pixel boxes for the AttriHead (training passes
                the ground-truth boxes here so the head runs inside the one forward).

        Returns:
            Raw per-level logits ``[B, 3, H/s, W/s, 5 + num_classes]``, the named feature maps and, when boxes
            are given and the model has an AttriHead, ``attribute_logits [Σ N_i, Σ K_a]``.

        Raises:
            ValueError: If the input is not 4-D or its size is not a multiple of the largest stride.
        """
        if images.ndim != 4 or images.shape[-1] % self.max_stride or images.shape[-2] % self.max_stride:
            raise ValueError(
                f"images must be [B, C, H, W] with H, W multiples of {self.max_stride}; "
                f"got {tuple(images.shape)}"
            )
        bb = self.backbone(images)
        neck = self.neck(bb.c3_p3, bb.c3_p4, bb.p5)
        features = {
            "stem": bb.stem,
            "c3_p3": bb.c3_p3,
            "c3_p4": bb.c3_p4,
            "neck_p3": neck.p3,
            "neck_p4": neck.p4,
            "neck_p5": neck.p5,
        }
        logits = None
        if attribute_boxes is not None and self.attribute_head is not None:
            logits = self.attribute_head(features, attribute_boxes)
        return DetectorOutput(
            levels=self.head(neck),
            strides=self.config.strides,
            anchors=self.anchors,
            features=features,
            image_size=(int(images.shape[-2]), int(images.shape[-1])),
            attribute_logits=logits,
            class_parents=self.config.class_parents,
        )

    @torch.no_grad()
    def set_anchors(self, anchors: Any) -> None:
        """Replace the anchors (e.g. after :func:`leukodet.model.anchors.check_anchors`).

        Args:
            anchors: ``3 × 3 × (w, h)`` in input pixels (tensor, array or nested lists), levels by stride.
        """
        pairs = normalise_anchors(anchors, len(self.config.strides))
        new = torch.tensor(pairs, dtype=self.anchors.dtype, device=self.anchors.device)
        if new.shape != self.anchors.shape:
            raise ValueError(f"anchors must have shape {tuple(self.anchors.shape)}, got {tuple(new.shape)}")
        self.anchors.copy_(new)
        self.config = replace(self.config, anchors=pairs)


def _sync_config_anchors(module: nn.Module, incompatible_keys: Any) -> None:
    """After ``load_state_dict``, copy the loaded ``anchors`` buffer into ``config`` so both agree."""
    if isinstance(module, DetectionModel):
        pairs = normalise_anchors(module.anchors.detach().float().cpu(), len(module.config.strides))
        module.config = replace(module.config, anchors=pairs)


def create_model_from_config(cfg: ModelConfig) -> DetectionModel:
    """Build a :class:`DetectionModel` from a :class:`ModelConfig` (e.g. the one stored in a checkpoint).

    Args:
        cfg: Architecture description.

    Returns:
        A freshly initialised detector whose ``config`` equals ``cfg``.
    """
    return DetectionModel(**{f.name: getattr(cfg, f.name) for f in fields(cfg)})
