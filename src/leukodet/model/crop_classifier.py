"""The crop path for attributes (issue #23): a torchvision ResNet on each detected cell's crop, beside the AttriHead.

Where the AttriHead pools a 24×30 window of the detector's stride-4/8 features (paper Eq. 12), the crop
classifier sees the cell itself at ``size``×``size`` pixels, cut from the image at the detector's network scale
(:mod:`leukodet.data.crops`), with the box's side in network pixels as two extra inputs so that *cell size*
survives the resize. It predicts every attribute (one softmax group each, as the head) and the WBC type.

``type_from`` picks how the type is predicted:

* ``image``: a linear layer on the image features, beside the attributes (the crop classifier);
* ``attributes``: a **concept-bottleneck model** (CBM; Koh et al., ICML 2020, the baseline of the paper's
  Table 5): the type is a linear function of the predicted attribute probabilities only, trained jointly
  (:func:`concept_bottleneck`), so every type decision is explained by the concepts.

Weights start from random (nothing is downloaded). Checkpoints are the project's format
(:mod:`leukodet.model.checkpoint`) with ``metadata["kind"] == "crop_classifier"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import Tensor, nn

from .attrihead import mean_probability_logits, split_logits
from .checkpoint import load_checkpoint

__all__ = [
    "ARCHS",
    "KIND",
    "TYPE_FROM",
    "CropConfig",
    "CropClassifier",
    "concept_bottleneck",
    "dihedral_view",
    "load_crop_classifier",
]

KIND = "crop_classifier"
"""``metadata["kind"]`` of a crop classifier checkpoint."""

ARCHS = ("resnet18", "resnet34", "resnet50")
TYPE_FROM = ("image", "attributes")

VIEWS: tuple[tuple[int, bool], ...] = (
    (0, False), (0, True), (2, False), (2, True), (1, False), (1, True), (3, False), (3, True)
)  # fmt: skip
"""The dihedral views of a crop as (quarter turns, mirrored), in the order test-time averaging adds them."""
VIEW_COUNTS = (1, 2, 4, 8)

SIZE_SCALE = 64.0
"""Box sides enter as ``log(side / SIZE_SCALE)`` (network pixels), near 0 for a typical cell."""


@dataclass
class CropConfig:
    """The crop classifier: backbone, crop geometry and vocabularies (YAML-loadable through :meth:`from_dict`).

    Attributes:
        arch: torchvision ResNet (:data:`ARCHS`), from random weights.
        size: crop side fed to the network, pixels.
        context: margin around the box on each side, as a fraction of its longer side (a square window).
        imgsz: the network scale crops are cut at (the image's long side resized to ``imgsz``, the detector's
            letterbox rule), so training and inference crops share one pixel scale.
        size_features: give the box's width and height (network pixels) to the heads.
        type_from: ``image`` or ``attributes`` (CBM), :data:`TYPE_FROM`.
        views: test-time views averaged at inference (:data:`VIEW_COUNTS`): 1 = the crop as cut; 2 adds its
            mirror; 4 the half turn and its mirror; 8 every quarter turn and mirror (the training augmentation).
        classes: the WBC type vocabulary.
        attributes: ``{attribute: values}`` in head order.
    """

    arch: str = "resnet18"
    size: int = 96
    context: float = 0.1
    imgsz: int = 416
    size_features: bool = True
    type_from: str = "image"
    views: int = 1
    classes: list[str] = field(default_factory=list)
    attributes: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"crop arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.views not in VIEW_COUNTS:
            raise ValueError(f"crop views must be one of {VIEW_COUNTS}, got {self.views!r}")
        if self.type_from not in TYPE_FROM:
            raise ValueError(f"type_from must be one of {', '.join(TYPE_FROM)}, got {self.type_from!r}")
        if not 32 <= self.size <= 512 or not 0 <= self.context <= 1 or self.imgsz < 32:
            raise ValueError(
                f"crop size must be 32-512, context 0-1 and imgsz >= 32 (got {self.size}, {self.context}, "
                f"{self.imgsz})"
            )
        if not self.attributes and not self.classes:
            raise ValueError("a crop classifier needs attributes or classes to predict")
        if self.type_from == "attributes" and not (self.attributes and self.classes):
            raise ValueError("a concept-bottleneck model (type_from=attributes) needs attributes and classes")

    @property
    def sizes(self) -> list[int]:
        return [len(v) for v in self.attributes.values()]

    def to_dict(self) -> dict[str, Any]:
        """The fields, with ``attribute_order``: checkpoint metadata is stored with sorted keys, and the logit
        groups follow the attributes' order, not the alphabet."""
        return asdict(self) | {"attribute_order": list(self.attributes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CropConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        order = data.get("attribute_order")
        if order is not None:
            attributes = dict(known.get("attributes") or {})
            if sorted(order) != sorted(attributes):
                raise ValueError(f"crop config attribute_order {order} does not name its attributes")
            known["attributes"] = {name: attributes[name] for name in order}
        return cls(**known)


def concept_bottleneck(attribute_logits: Tensor, sizes: Sequence[int], type_layer: nn.Linear) -> Tensor:
    """Type logits from the concepts alone (CBM, Koh et al. 2020, joint training): the softmax probabilities of
    every attribute group, concatenated, through one linear layer."""
    probs = torch.cat([g.softmax(1) for g in split_logits(attribute_logits, sizes)], dim=1)
    return type_layer(probs)


def dihedral_view(crops: Tensor, view: int) -> Tensor:
    """View ``view`` of :data:`VIEWS` of ``[N, 3, S, S]`` crops: mirrored left-right, then turned."""
    turns, mirror = VIEWS[view]
    crops = crops.flip(3) if mirror else crops
    return torch.rot90(crops, turns, dims=(2, 3)) if turns else crops


class CropClassifier(nn.Module):
    """``forward(crops [N, 3, S, S] in [0, 1], sides [N, 2] network pixels)`` →
    ``(attribute logits [N, Σ K], type logits [N, C] or None)``."""

    def __init__(self, cfg: CropConfig) -> None:
        super().__init__()
        self.config = cfg
        backbone = getattr(torchvision.models, cfg.arch)(weights=None)
        width = backbone.fc.in_features
        backbone.fc = nn.Identity()
        self.backbone = backbone
        extra = 2 if cfg.size_features else 0
        total = sum(cfg.sizes)
        self.attribute_logits = nn.Linear(width + extra, total) if total else None
        self.type_logits: nn.Linear | None = None
        if cfg.classes:
            source = total if cfg.type_from == "attributes" else width + extra
            self.type_logits = nn.Linear(source, len(cfg.classes))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, crops: Tensor, sides: Tensor) -> tuple[Tensor | None, Tensor | None]:
        feats = self.backbone((crops - self.mean) / self.std)
        if self.config.size_features:
            feats = torch.cat([feats, torch.log(sides.clamp(min=1.0) / SIZE_SCALE)], dim=1)
        attrs = self.attribute_logits(feats) if self.attribute_logits is not None else None
        if self.type_logits is None:
            return attrs, None
        if self.config.type_from == "attributes":
            assert attrs is not None
            return attrs, concept_bottleneck(attrs, self.config.sizes, self.type_logits)
        return attrs, self.type_logits(feats)

    @torch.no_grad()
    def infer(self, crops: Tensor, sides: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """``forward`` averaged over the config's test-time ``views`` (the probabilities of each group)."""
        if self.config.views == 1:
            return self(crops, sides)
        outs = [self(dihedral_view(crops, v), sides) for v in range(self.config.views)]
        attrs = (
            None if outs[0][0] is None else mean_probability_logits([o[0] for o in outs], self.config.sizes)
        )
        types = None
        if outs[0][1] is not None:
            types = mean_probability_logits([o[1] for o in outs], [len(self.config.classes)])
        return attrs, types


def load_crop_classifier(
    path: str | Path, device: str | torch.device = "cpu", views: int | None = None
) -> CropClassifier:
    """A crop classifier checkpoint (``weights_only`` load) in eval mode; a clear error for another kind of file.
    ``views`` replaces the test-time views the checkpoint was saved with."""
    ckpt = load_checkpoint(path, map_location=device)
    meta = ckpt["metadata"]
    if meta.get("kind") != KIND:
        raise ValueError(f"{path}: not a crop classifier checkpoint (make one with leukodet train-crops)")
    if len(meta["crop_config"].get("attributes") or {}) > 1 and "attribute_order" not in meta["crop_config"]:
        raise ValueError(
            f"{path}: crop classifier saved without its attribute order (leukodet 0.1.0 before this fix): train it again"
        )
    settings = dict(meta["crop_config"]) | ({} if views is None else {"views": views})
    model = CropClassifier(CropConfig.from_dict(settings))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval()
