"""Which objective a run trains with, made once from its config (:class:`leukodet.losses.objective.Objective`)."""

from __future__ import annotations

from torch import nn

from ..config import RunConfig
from .comining import CoMiningObjective
from .confmix_objective import ConfMixObjective
from .criterion import DetectionCriterion
from .daca import DACAObjective
from .objective import Objective, PlainObjective, TargetImages
from .sladet import SLADetObjective
from .sparsedet import SparseDetObjective

__all__ = ["resolve_method", "build_objective"]


def resolve_method(method: str, has_regions: bool) -> str:
    """``auto`` → ``sladet`` when the training split has labelled regions, else ``naive`` (a standard run)."""
    if method == "auto":
        return "sladet" if has_regions else "naive"
    return method


def build_objective(
    cfg: RunConfig,
    criterion: DetectionCriterion,
    method: str,
    *,
    area_min: float = 0.0,
    teacher: nn.Module | None = None,
    target_images: TargetImages | None = None,
) -> Objective:
    """The run's objective: ConfMix or DACA with ``adapt.method: confmix|daca`` (``target_images`` required),
    the Table 7 comparators for ``sparsedet`` / ``comining`` (config sections of those names), the plain loss
    for ``crop`` and for an ``auto`` run without regions, else SLA-Det's ``method``.

    Args:
        method: the resolved sparse method (:func:`resolve_method`).
        area_min: smallest training box area, input pixels² (SLA-Det's pseudo-label area filter, Eq. 6).
        teacher: the EMA model, used for pseudo-labels when ``sparse.teacher`` / ``adapt.teacher`` is ``ema``.
    """
    if cfg.adapt.method in ("confmix", "daca"):
        if target_images is None:
            raise ValueError(f"--adapt {cfg.adapt.method} needs the target images (adapt.target_data)")
        mentor = teacher if cfg.adapt.teacher == "ema" else None
        if cfg.adapt.method == "daca":
            return DACAObjective(criterion, cfg.adapt, cfg.daca, target_images, mentor)
        return ConfMixObjective(criterion, cfg.adapt, target_images, mentor)
    if method == "sparsedet":
        return SparseDetObjective(criterion, cfg.sparsedet)
    if method == "comining":
        return CoMiningObjective(criterion, cfg.comining)
    if method == "crop" or (method == "naive" and cfg.sparse.method == "auto"):
        return PlainObjective(criterion)
    mentor = teacher if cfg.sparse.teacher == "ema" else None
    return SLADetObjective(criterion, cfg.sparse, method, area_min, mentor)
