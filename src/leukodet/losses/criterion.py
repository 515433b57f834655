"""Composes the named loss terms with gains keyed by the same names (DETR-style ``weight_dict``).

Rehman et al. 2025, Eq. (3): ``Σ_l (L_obj^l + L_cls^l + L_bbox^l) + L_mor`` — the detection terms
(:func:`detection_total`) plus the attribute term (:func:`leukodet.losses.attributes.loss_attr`) when the
model has an AttriHead; the sparse terms of Eqs. (4)-(13) are further named terms.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from ..config import LossConfig
from .assign import LevelTargets, assign_targets
from .attributes import loss_attr
from .detection import Across, loss_box, loss_cls, loss_obj, objectness_targets

__all__ = ["LossGains", "DetectionCriterion", "detection_total"]


@dataclass(frozen=True)
class LossGains:
    """Gains per named term, after the YOLOv5 scaling by classes and image size (spec Sec. 7)."""

    loss_box: float
    loss_obj: float
    loss_cls: float

    @classmethod
    def from_config(cls, cfg: LossConfig, num_classes: int, imgsz: int, num_levels: int = 3) -> LossGains:
        if not cfg.scale_with_classes:
            return cls(cfg.box, cfg.obj, cfg.cls)
        per_level = 3.0 / num_levels
        return cls(
            loss_box=cfg.box * per_level,
            loss_obj=cfg.obj * (imgsz / 640.0) ** 2 * per_level,
            loss_cls=cfg.cls * num_classes / 80.0 * per_level,
        )

    def as_dict(self) -> dict[str, float]:
        return {"loss_box": self.loss_box, "loss_obj": self.loss_obj, "loss_cls": self.loss_cls}


def detection_total(terms: dict[str, Tensor], gains: dict[str, float], batch_size: float) -> Tensor:
    """Rehman et al. 2025, Eq. (3) (detection part): gained sum of the per-level terms, times the batch size.

    The batch-size factor keeps the gradient scale of the authors' YOLOv5 recipe (its loss is a per-image
    mean multiplied by the batch size).
    """
    return sum(gains[name] * value for name, value in terms.items() if name in gains) * batch_size  # type: ignore[return-value]


class DetectionCriterion:
    """Box/objectness/class terms for a detector output.

    Args:
        cfg: loss settings (gains, level balance, anchor ratio, focal parameters).
        num_classes: number of classes.
        imgsz: training image size (for the objectness gain scaling).
        across: under multi-process training, maps a local denominator to its mean over the
            ``world_size`` processes (see :mod:`leukodet.engine.distributed`); ``None`` in one process.
        world_size: number of processes sharing each global batch.
        attribute_sizes: values per attribute of the model's AttriHead (empty: no attribute term).
        class_parents: the model's class hierarchy (:mod:`leukodet.model.hierarchy`); empty = flat classes.
    """

    def __init__(
        self,
        cfg: LossConfig,
        num_classes: int,
        imgsz: int,
        across: Across | None = None,
        world_size: int = 1,
        attribute_sizes: tuple[int, ...] = (),
        class_parents: tuple[int, ...] = (),
    ) -> None:
        self.cfg = cfg
        self.num_classes = num_classes
        self.gains = LossGains.from_config(cfg, num_classes, imgsz).as_dict()
        self.across, self.world_size = across, world_size
        self.attribute_sizes = tuple(attribute_sizes)
        self.class_parents = tuple(class_parents)

    def assign(
        self, levels: list[Tensor], anchors: Tensor, strides: Tensor, targets: Tensor
    ) -> list[LevelTargets]:
        sizes = [(int(p.shape[2]), int(p.shape[3])) for p in levels]
        return assign_targets(targets, sizes, anchors, strides, self.cfg.anchor_t)

    def terms(
        self, levels: list[Tensor], assigned: list[LevelTargets], weights: list[Tensor] | None = None
    ) -> dict[str, Tensor]:
        """The three unweighted terms ``loss_box``, ``loss_obj``, ``loss_cls``."""
        c, a = self.cfg, self.across
        box, ious = loss_box(levels, assigned, weights, a)
        ious = objectness_targets(ious, c.obj_iou_ratio)
        out = dict(box)
        out.update(loss_obj(levels, assigned, ious, c.obj_balance, weights, c.fl_gamma, c.fl_alpha, a))
        out.update(
            loss_cls(
                levels,
                assigned,
                self.num_classes,
                weights,
                c.label_smoothing,
                c.fl_gamma,
                c.fl_alpha,
                a,
                self.class_parents,
                c.cls_balance,
            )
        )
        return out

    def batch_size(self, local: int, like: Tensor) -> float:
        """The global batch size: the local one, or the process mean times the number of processes."""
        if self.across is None:
            return float(local)
        return float(self.across(like.new_tensor(float(local)))) * self.world_size

    def __call__(
        self,
        levels: list[Tensor],
        anchors: Tensor,
        strides: Tensor,
        targets: Tensor,
        weights: list[Tensor] | None = None,
        attribute_logits: Tensor | None = None,
        attribute_targets: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Eq. (3): total loss and the detached unweighted terms (for logging).

        The detection terms are scaled by the batch size (YOLOv5 convention); ``L_mor`` enters with its gain
        ``loss.attr`` as a per-box mean, as the authors' separately back-propagated attribute loss did.
        """
        assigned = self.assign(levels, anchors, strides, targets)
        terms = self.terms(levels, assigned, weights)
        total = detection_total(terms, self.gains, self.batch_size(levels[0].shape[0], levels[0]))
        if self.attribute_sizes and attribute_logits is not None and attribute_targets is not None:
            c = self.cfg
            attr = loss_attr(
                attribute_logits,
                attribute_targets,
                self.attribute_sizes,
                c.asl_gamma_neg,
                c.asl_gamma_pos,
                c.asl_clip,
                self.across,
            )
            total = total + c.attr * attr["loss_attr"]
            terms.update(attr)
        return total, {k: v.detach() for k, v in terms.items()}
