"""Run configuration of the paper's comparators: Table 7 (``--sparse-method sparsedet|comining``) and, for
unsupervised domain adaptation, Table 6's DACA (``--adapt daca``; ConfMix's fields live in ``adapt``).

Each field holds the value of its paper's published setting (the papers' text and the authors' released
configurations; docs/comparators.md says which number comes from where). Both methods run as published:
without the labelled-region masks of SLA-Det (the sparse ground truth is the boxes inside the regions,
everything else is unlabelled). The second view both need is a photometric jitter (optionally with a
horizontal flip) of the batch tensor, computed inside the objective: :mod:`leukodet.losses.two_view`.
DACA's values and the ones its paper does not state are listed in docs/daca.md.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["SPARSE_METHODS", "SparseDetConfig", "CoMiningConfig", "DACAConfig"]

SPARSE_METHODS: tuple[str, ...] = (
    "auto",
    "naive",
    "region",
    "region+pl",
    "sladet",
    "crop",
    "sparsedet",
    "comining",
)
"""Every ``sparse.method``: SLA-Det and its baselines, then the two Table 7 comparators."""


_SHARES = ("burn_in", "jitter_p", "gt_iou", "nms_iou", "obj_thresh", "score_thresh", "det_conf", "pl_conf")
"""Comparator fields that are shares or probabilities, checked to lie in [0, 1]."""


def _check(section: str, cfg: object) -> None:
    """Shared range checks of a comparator section: shares in [0, 1], jitter strengths ≥ 0."""
    for f in fields(cfg):  # type: ignore[arg-type]
        value = getattr(cfg, f.name)
        if f.name in _SHARES:
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{section}.{f.name}: expected 0 <= value <= 1, got {value}")
        elif f.name in ("brightness", "contrast", "saturation", "ssl_gain", "gain") and value < 0:
            raise ValueError(f"{section}.{f.name}: expected a value >= 0, got {value}")
    if not 0.0 <= cfg.hue <= 0.5:  # type: ignore[attr-defined]
        raise ValueError(f"{section}.hue: expected 0 <= hue <= 0.5, got {cfg.hue}")  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SparseDetConfig:
    """SparseDet (Suri, Rambhatla, Chellappa, Shrivastava, ICCV 2023): pseudo-positive mining (PPM) by
    objectness, the supervised loss on the labelled boxes of both views, a self-supervised feature-consistency
    loss between the two views on the mined boxes; the rest is background. :mod:`leukodet.losses.sparsedet`."""

    obj_thresh: float = 0.8
    """PPM: an unlabelled prediction whose objectness exceeds this is a pseudo-positive (``MASK_BOXES_THRESH``
    of the authors' COCO and VOC commands)."""
    gt_iou: float = 0.2
    """PPM: a pseudo-positive overlaps no ground-truth box of its image by more than this IoU (authors' code)."""
    nms_iou: float = 0.3
    """NMS among the pseudo-positives before the consistency loss (authors' code)."""
    ssl_gain: float = 1.0
    """Weight of the self-supervised consistency loss (``DISTILLATION_LOSS_WEIGHT``)."""
    burn_in: float = 0.5
    """Share of the run before mining starts (``MASK_BOXES``: 9 000 of the 18 000 VOC iterations; the COCO
    command's 30 000 of 270 000 is 0.11)."""
    brightness: float = 0.5
    contrast: float = 0.5
    saturation: float = 0.5
    """Strong view: factors drawn from ``[1 − x, 1 + x]`` (the authors' RandomBrightness/Contrast/Saturation
    0.5–1.5; their PCA lighting noise and box erasing are not reproduced: docs/comparators.md)."""
    hue: float = 0.0
    """Hue shift drawn from ``[−hue, hue]`` (turns); SparseDet's view has none."""
    jitter_p: float = 1.0
    """Probability that an image of the view is jittered at all (the authors' strong view: always)."""
    flip: bool = False
    """Mirror the view horizontally too (the published views keep the geometry: off)."""

    def __post_init__(self) -> None:
        _check("sparsedet", self)


@dataclass(frozen=True)
class CoMiningConfig:
    """Co-mining (Wang, Yang, Cao, Zhang, AAAI 2021): a Siamese detector sees the image and an augmented
    view; each branch's confident detections (co-generation) become pseudo-labels of the other branch, merged
    with the sparse ground truth; everything else is background. :mod:`leukodet.losses.comining`."""

    score_thresh: float = 0.6
    """Co-generation: a detection scoring above this becomes a pseudo-label (``PSEUDO_SCORE_THRES``; the
    authors' "extreme" split, one box kept per image, uses 0.5)."""
    nms_iou: float = 0.5
    """Co-generation: class-wise NMS of the detections (RetinaNet's test NMS)."""
    max_det: int = 100
    """Co-generation: at most this many pseudo-labels per image (detectron2/cvpods ``DETECTIONS_PER_IMAGE``)."""
    gt_iou: float = 0.4
    """Merging: a pseudo-label whose IoU with a ground-truth box of its class exceeds this is that box and is
    dropped (``MATCHING_IOU_THRES``)."""
    burn_in: float = 0.0
    """Share of the run before co-generation starts (Co-mining: none)."""
    brightness: float = 0.8
    contrast: float = 0.8
    saturation: float = 0.8
    hue: float = 0.2
    jitter_p: float = 0.8
    """Augmented branch: ``ColorJitter(0.8, 0.8, 0.8, 0.2)`` applied with probability 0.8 (the authors' code)."""
    flip: bool = False
    """Mirror the augmented branch horizontally too (the published view keeps the geometry: off)."""

    def __post_init__(self) -> None:
        _check("comining", self)
        if self.max_det < 1:
            raise ValueError(f"comining.max_det: expected an integer >= 1, got {self.max_det}")


@dataclass(frozen=True)
class DACAConfig:
    """DACA (Mekhalfi, Boscaini, Poiesi, *Detect, Augment, Compose, and Adapt*, BMVC 2023), ``--adapt daca``:
    detect on each target image, take its ``grid × grid`` region with the most confident detections, augment
    that crop ``grid²`` times, compose the versions into one image labelled with the crop's pseudo-labels, and
    train on it beside the labelled source batch. :mod:`leukodet.losses.daca`; docs/daca.md gives the source
    of every value (the paper's text was not available here: values it may state differently are marked)."""

    det_conf: float = 0.25
    """Detect: score floor of the target detections that rank the regions (YOLOv5's detection threshold, as
    ConfMix's; DACA's own value was not found)."""
    nms_iou: float = 0.45
    """Detect: NMS IoU of the target detections (YOLOv5's default; not found in DACA)."""
    pl_conf: float = 0.5
    """Detect: a detection of the chosen region scoring at least this becomes a pseudo-label (ConfMix's
    pseudo-label threshold; not found in DACA)."""
    grid: int = 2
    """Detect/compose: the target image is split into ``grid × grid`` regions and the composite is a
    ``grid × grid`` mosaic of the chosen region's versions (four quarters, as ConfMix's regions)."""
    flips: bool = True
    """Augment: version ``k`` of the crop is mirrored by pattern ``k mod 4`` (none, horizontal, vertical,
    both) with its pseudo-boxes; the paper's exact transform list was not available (docs/daca.md)."""
    brightness: float = 0.4
    contrast: float = 0.0
    saturation: float = 0.7
    hue: float = 0.015
    """Augment: photometric jitter of each version (factors from ``[1 − x, 1 + x]``, hue shift in turns):
    YOLOv5's default HSV gains ``hsv_v`` 0.4, ``hsv_s`` 0.7, ``hsv_h`` 0.015, the colour augmentation of the
    YOLOv5 code base DACA is built on (DACA's own crop augmentation values were not found)."""
    jitter_p: float = 1.0
    """Augment: probability that a version is colour-jittered at all."""
    source_tiles: int = 0
    """Compose: how many of the ``grid²`` tiles hold the source image's own piece at that place (with its
    labels) instead of a target version. 0 = DACA as its abstract describes it (the composite is made of the
    crop's versions; the source trains beside it in its own loss); ≥ 1 is a leukodet variant."""
    gain: float = 1.0
    """Adapt: weight of the composite images' detection loss next to the source loss (unit weight)."""

    def __post_init__(self) -> None:
        _check("daca", self)
        if self.grid < 1:
            raise ValueError(f"daca.grid: expected an integer >= 1, got {self.grid}")
        if not 0 <= self.source_tiles < self.grid**2:
            raise ValueError(
                f"daca.source_tiles: expected 0 <= source_tiles < grid² = {self.grid**2}, got {self.source_tiles}"
            )
