"""Run configuration: frozen dataclasses per concern, YAML-loadable, with the paper's values as defaults.

Citations: hyper-parameters of Rehman et al. 2025 (Sec. 5.2) and the reference spec Sec. 7 (the authors' YOLOv5
recipe). Overrides use dotted keys (``train.epochs=30``); an unknown key or a wrong value is an error naming it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .attrihead_config import AttriHeadConfig
from .comparator_config import SPARSE_METHODS, CoMiningConfig, DACAConfig, SparseDetConfig

__all__ = ["AdaptConfig", "AugmentConfig", "LossConfig", "TrainConfig", "RunConfig", "ConfigError"]
__all__ += ["load_config", "apply_overrides"]


class ConfigError(ValueError):
    """A configuration key or value is wrong; the message names the key."""


PREDICT_CONF: float = 0.25
"""Default confidence threshold of predictions, reports and the service (a cell is kept at score >= it), and the
operating point of the evaluation."""
PREDICT_IOU: float = 0.45
"""Default NMS IoU of predictions (YOLOv5 ``detect.py``)."""
MAX_DET: int = 300
"""Detections kept per image, at prediction and in the evaluation protocol."""
EVAL_CONF: float = 0.001
"""Confidence floor of the evaluation protocol (spec §6)."""
EVAL_IOU: float = 0.6
"""NMS IoU of the evaluation protocol (spec §6)."""


def _one_of(section: str, config: Any, key: str, allowed: tuple[str, ...]) -> None:
    """``ConfigError`` naming ``section.key`` unless the field's value is one of ``allowed``."""
    value = getattr(config, key)
    if value not in allowed:
        raise ConfigError(f"{section}.{key}: expected one of {', '.join(allowed)}, got {value!r}")


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation (spec Sec. 7, hyp "scratch-high"; ``none()`` gives the no-augmentation file of phase 2)."""

    hsv_h: float = 0.015
    hsv_s: float = 0.7
    hsv_v: float = 0.4
    translate: float = 0.1
    scale: float = 0.9
    fliplr: float = 0.5
    flipud: float = 0.0
    mosaic: float = 1.0
    mixup: float = 0.1
    close_mosaic: float = 0.1
    """Fraction of the run (at its end) trained without mosaic/mixup."""
    hed: float = 0.08
    """σ of the HED stain jitter (Tellez et al. 2018). Optics (hed, blur, jpeg): leukodet's, not the paper's."""
    blur: float = 0.3
    """Probability of a defocus blur with σ up to ``blur_sigma`` pixels."""
    blur_sigma: float = 1.5
    jpeg: float = 0.3
    """Probability of a JPEG round trip at a quality of at least ``jpeg_quality``."""
    jpeg_quality: int = 40
    cell_px: tuple[float, float] | None = None
    """``[lo, hi]`` px: each view's zoom is log-uniform so that the training set's median white cell (longest side at
    the input) lands in it, ``scale`` unused (:class:`leukodet.data.transforms.Zoom`); ``None``: the paper's zoom."""

    def __post_init__(self) -> None:
        if self.cell_px is not None and not 0 < self.cell_px[0] < self.cell_px[1]:
            raise ConfigError(f"augment.cell_px: expected 0 < lo < hi, got {list(self.cell_px)}")

    @classmethod
    def none(cls) -> AugmentConfig:
        geometric = ("translate", "scale", "fliplr", "flipud", "mosaic", "mixup")
        off = ("hsv_h", "hsv_s", "hsv_v", *geometric, "hed", "blur", "jpeg")
        return cls(**dict.fromkeys(off, 0.0), close_mosaic=0.0)


@dataclass(frozen=True)
class LossConfig:
    """Detection loss gains after YOLOv5 scaling for 3 levels at 640 px (spec Sec. 7)."""

    box: float = 0.05
    obj: float = 0.7
    cls: float = 0.3
    obj_balance: tuple[float, float, float] = (4.0, 1.0, 0.4)
    anchor_t: float = 4.0
    fl_gamma: float = 0.0
    fl_alpha: float = 0.25
    obj_iou_ratio: float = 1.0
    """Objectness target ``(1 - r) + r·IoU`` (spec Sec. 7: r = 1; r = 0 reaches SLA-Det's t1 band, #22)."""
    label_smoothing: float = 0.0
    scale_with_classes: bool = True
    """Scale ``cls`` by nc/80 and ``obj`` by (imgsz/640)^2 as the authors' YOLOv5 does (cls 0.3*14/80 = 0.0525)."""
    cls_balance: float = 0.0
    """Class term weighting: each assigned cell weighs ``n_g^-cls_balance`` (``n_g``: cells of its class group in
    the level, a WBC type's group being ``WBC``), normalised to mean 1; 0 = off (the paper), 1 = every class
    group weighs the same. Not a paper setting: the pretraining recipe's answer to 100 red cells per WBC."""
    attr: float = 1.0
    """Gain of the attribute term ``L_mor`` (Eq. 3; weight 1 in the one backward, decision D8)."""
    asl_gamma_neg: float = 4.0
    asl_gamma_pos: float = 1.0
    asl_clip: float = 0.08

    def __post_init__(self) -> None:
        if not 0 <= self.obj_iou_ratio <= 1:
            raise ConfigError(f"loss.obj_iou_ratio: expected 0 <= r <= 1, got {self.obj_iou_ratio}")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation (spec Sec. 7): SGD Nesterov recipe ``paper``; AdamW recipe ``short`` for short runs."""

    recipe: str = "auto"
    epochs: int = 100
    time_minutes: float | None = None
    batch: int = 16
    nominal_batch: int = 64
    imgsz: int = 640
    lr0: float = 0.01
    lrf: float = 0.1
    momentum: float = 0.937
    weight_decay: float = 5e-4
    warmup_epochs: float = 3.0
    warmup_momentum: float = 0.8
    warmup_bias_lr: float = 0.1
    short_lr0: float = 0.002
    short_warmup_fraction: float = 0.05
    grad_clip: float = 10.0
    multi_scale: float = 0.0
    """Batches at ``imgsz·U(1 - m, 1 + m)`` (:mod:`leukodet.data.multiscale`); 0 = off (paper); costs BCDD (#21)."""
    ema_decay: float = 0.9999
    ema_tau: float = 2000.0
    ema_horizon: float = 0.0
    """When > 0, the EMA averages over this fraction of the planned optimiser steps (``ModelEMA.plan``); 0 = the
    fixed YOLOv5 decay and ramp (0.1 did not remove BCDD's late drops: docs/training.md)."""
    bn_recalibration: int = 4
    """Batches over which the EMA weights' BatchNorm statistics are recomputed before every validation and
    checkpoint (:mod:`leukodet.engine.batchnorm`); 0 = keep the running ones (they made val mAP collapse: #16)."""
    bn_recalibration_images: str = "augmented"
    """Which views of those images: ``augmented`` (as trained: mosaic, mixup, affine, colour) or ``plain``
    (letterboxed as at validation; measured worse on BCDD, best val mAP50 0.74 vs 0.89: docs/training.md)."""
    seed: int = 0
    workers: int = 0
    cache: bool = True
    device: str = "cpu"
    val_conf: float = EVAL_CONF
    val_iou: float = EVAL_IOU
    max_det: int = MAX_DET
    """Validation during training (and the choice of ``best.pt``): confidence floor, NMS IoU and detections
    per image of the evaluation protocol (spec §6: 0.001, 0.6, 300)."""
    eval_every: int = 1
    """Validate (and choose ``best.pt``) every this many epochs and after the last (others: ``last.pt`` only)."""
    sync_bn: bool = True
    attributes: bool = True
    """Train the AttriHead when the data has an attribute schema (``--no-attributes`` turns it off)."""
    attr_dropout: float = 0.2
    """Dropout between the AttriHead FC layers (paper 0.2; the authors' code 0.5, decision D17)."""
    freeze_detector: bool = False
    """Train only the AttriHead on a frozen detector (fine-tune the head of a trained checkpoint)."""
    finetune_lr: float = 0.1
    """LR multiplier when ``--model`` is a trained checkpoint (not with ``freeze_detector``): the from-scratch LR
    (1.0) took a converged synthetic WBC model's val mAP50 from 1.00 to 0.01 in one epoch."""
    plots: bool = True
    stain_norm: str = "none"
    """``none``, ``reinhard`` or ``macenko`` at train and test time, fitted on up to ``stain_fit_images``
    training images, kept in the checkpoint (:mod:`leukodet.data.stain`)."""
    stain_fit_images: int = 32

    def __post_init__(self) -> None:
        _one_of("train", self, "stain_norm", ("none", "reinhard", "macenko"))
        _one_of("train", self, "bn_recalibration_images", ("augmented", "plain"))
        if self.eval_every < 1:
            raise ConfigError(f"train.eval_every: expected an integer >= 1, got {self.eval_every}")
        if not 0 <= self.ema_horizon <= 1:
            raise ConfigError(f"train.ema_horizon: expected 0 <= h <= 1, got {self.ema_horizon}")
        if not 0 <= self.multi_scale < 1:
            raise ConfigError(f"train.multi_scale: expected 0 <= m < 1, got {self.multi_scale}")


@dataclass(frozen=True)
class SparseConfig:
    """SLA-Det (paper §4.3, spec §4 and D1-D7): sparse-annotation training, every schedule a run fraction."""

    method: str = "auto"
    """``auto`` (``sladet`` when the training split has labelled regions, else a standard run), ``naive``,
    ``region``, ``region+pl``, ``sladet``, ``crop`` (the labelled patches alone), ``sparsedet``, ``comining``."""
    burn_in: float = 0.3
    """Fraction of the run trained with the labelled-region loss only, before pseudo-labels and triplets."""
    triplet_end: float = 0.8
    """Fraction of the run after which the triplet term stops (paper: 40 of 50 epochs detection-only)."""
    t0: float = 0.70
    t1: float = 0.95
    t2: float = 0.26
    """Confidence floor, pseudo-label confidence, entropy ceiling in bits (Eqs. 5-6, D2, D3)."""
    nms_iou: float = 0.2
    gt_overlap_px: float = 100.0
    pl_gain: float = 0.1
    tri_gain: float = 0.1
    tri_margin: float = 0.05
    tri_iou_skip: float = 0.3
    triplet_sign: str = "paper"
    """``paper`` (Eq. 10 as printed and coded) or ``fixed`` (the hinge that enforces the stated goal, D1)."""
    teacher: str = "live"
    """Pseudo-labels from the live student, detached (``live``, the authors: D23) or the EMA weights (``ema``)."""
    confidence: str = "paper"
    """t0/t1 compare ``paper`` (obj × class, Eq. 6) or ``calibrated`` (:mod:`leukodet.losses.pl_confidence`)."""
    pl_obj_norm: str = "all_cells"
    """Pseudo-label objectness over every cell of its level (``all_cells``, D5) or over the pseudo-labels."""
    pl_weighting: str = "raw"
    """Pseudo-label terms × ``pl_gain`` as they are (``raw``, D6) or after the detection gains (``gained``)."""
    calib_window: int = 4096
    """Labelled-region detections the ``calibrated`` confidence remembers (the latest, across batches)."""

    def __post_init__(self) -> None:
        _one_of("sparse", self, "method", SPARSE_METHODS)
        _one_of("sparse", self, "teacher", ("live", "ema"))
        _one_of("sparse", self, "triplet_sign", ("paper", "fixed"))
        _one_of("sparse", self, "confidence", ("paper", "calibrated"))
        _one_of("sparse", self, "pl_obj_norm", ("all_cells", "per_label"))
        _one_of("sparse", self, "pl_weighting", ("raw", "gained"))
        if self.calib_window < 1:
            raise ConfigError(f"sparse.calib_window: expected an integer >= 1, got {self.calib_window}")
        if not 0.0 <= self.burn_in <= self.triplet_end <= 1.0:
            raise ConfigError("sparse: need 0 <= burn_in <= triplet_end <= 1")


@dataclass(frozen=True)
class AdaptConfig:
    """Unsupervised domain adaptation (``--adapt confmix|daca --target-data T.yaml``): ConfMix (Mattolin et
    al., WACV 2023; the fields below, :mod:`leukodet.losses.confmix`) or DACA (Mekhalfi et al., BMVC 2023;
    section ``daca``, :mod:`leukodet.losses.daca`); ``target_data``, ``burn_in``, ``teacher`` serve both."""

    method: str = "none"
    """``none`` (source-only training), ``confmix`` or ``daca``. Target labels are never read."""
    target_data: str = ""
    """Dataset of target-domain images (its ``train`` split; labels unused)."""
    burn_in: float = 0.0
    """Run fraction on the source alone before mixing (0 to fine-tune a source model, as ConfMix)."""
    gamma: float = 5.0
    """Steepness of the progressive schedule ``δ(r) = 2 / (1 + exp(-γ r)) - 1``."""
    det_conf: float = 0.25
    """Score floor of the target's pseudo detections (and of the candidates behind the box uncertainty)."""
    pl_conf: float = 0.5
    """Progressive confidence a pseudo detection needs to become a pseudo-label of the mixed image."""
    nms_iou: float = 0.45
    unc_iou: float = 0.5
    """IoU at which a pre-NMS candidate counts towards a kept box's uncertainty."""
    grid: int = 2
    """The target image is split into ``grid × grid`` regions (ConfMix: 2 × 2)."""
    gain: float = 1.0
    """Weight of the mixed-image (consistency) detection loss."""
    teacher: str = "live"
    """``live`` (the model being trained, in eval mode) or ``ema`` (its EMA weights) detects on the target."""
    target_negatives: bool = True
    """ConfMix as published: every pixel of the pasted target region without a pseudo-label is background.
    ``false`` (a leukodet variant borrowing SLA-Det's rule for unlabelled areas, Eq. 4/7): the pasted region
    gets no background supervision; its pseudo-labels teach box, class and objectness at their own cells."""

    def __post_init__(self) -> None:
        _one_of("adapt", self, "method", ("none", "confmix", "daca"))
        if self.method != "none" and not self.target_data:
            raise ConfigError(f"adapt.target_data: --adapt {self.method} needs --target-data T.yaml")
        _one_of("adapt", self, "teacher", ("live", "ema"))
        if not 0.0 <= self.burn_in < 1.0 or self.grid < 1:
            raise ConfigError("adapt: need 0 <= burn_in < 1 and grid >= 1")


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run needs; ``config.yaml`` of a run folder is this, serialised."""

    data: str = ""
    model: str = "yolo_n"
    out: str = "runs/train"
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    sparse: SparseConfig = field(default_factory=SparseConfig)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    sparsedet: SparseDetConfig = field(default_factory=SparseDetConfig)
    comining: CoMiningConfig = field(default_factory=CoMiningConfig)
    daca: DACAConfig = field(default_factory=DACAConfig)
    attrihead: AttriHeadConfig = field(default_factory=AttriHeadConfig)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check/convert ``value`` to the field type ``hint``; ``ConfigError`` naming ``key`` otherwise."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(key, value, inner[0])
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{key}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(key, v, a) for v, a in zip(value, args))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str) and isinstance(value, hint) and not isinstance(value, bool):
        return value
    raise ConfigError(f"{key}: expected {getattr(hint, '__name__', hint)}, got {value!r}")


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]} (known: {', '.join(sorted(known))})")
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"{prefix}{name}: expected a mapping")
            kwargs[name] = _build(hint, value, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(prefix + name, value, hint)
    return cls(**kwargs)


def _parse_value(text: str) -> Any:
    return yaml.safe_load(text) if text != "" else ""


def apply_overrides(config: RunConfig, overrides: list[str] | dict[str, Any]) -> RunConfig:
    """Apply ``key.sub=value`` overrides (strings) or a ``{dotted key: value}`` dict; validated."""
    data = config.to_dict()
    items = overrides.items() if isinstance(overrides, dict) else (_split(o) for o in overrides)
    for key, value in items:
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"unknown config key {key}")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"unknown config key {key}")
        node[parts[-1]] = value
    return _build(RunConfig, data)


def _split(override: str) -> tuple[str, Any]:
    if "=" not in override:
        raise ConfigError(f"override {override!r} is not key=value")
    key, text = override.split("=", 1)
    return key.strip(), _parse_value(text.strip())


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Defaults, then a YAML file (any subset of keys), then overrides."""
    config = RunConfig()
    if path is not None:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: a config file must be a mapping")
        base = config.to_dict()
        _deep_update(base, raw)
        try:
            config = _build(RunConfig, base)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return apply_overrides(config, overrides or [])


def _deep_update(base: dict[str, Any], new: dict[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v
