"""SLA-Det's two-phase protocol as the authors run it (spec §4.6, D7, D12, D13; issue #22).

* **Phase 1**: a detector on the sparse training set with the strong ("scratch-high") augmentation, from any
  start (``synth-n``, a checkpoint or random weights). D12: on the labelled patches cut from the training fields
  (``sparse.method=crop``); ``region`` trains Eq. (4) on the whole fields instead.
* **Phase 2**: SLA-Det from phase 1's last weights, **no augmentation**, focal loss γ 1.5 / α 0.25 on
  objectness and class (D13), pseudo-labels in every epoch (no burn-in, D7) and the triplet term for the paper's
  share of the epochs (D7: 10 of 30 with attributes, 40 of 50 for detection only). Phase 2 starts from a
  trained checkpoint, so it fine-tunes at ``train.finetune_lr`` × the recipe's LR (``phase2_lr``, 0.1 as every
  fine-tune here; the authors' ``train.py`` keeps its SGD recipe's own LR, ``phase2_lr=1``).

The one-run schedule (a burn-in inside one run under ``--time``) stays the ``one-run`` protocol. Each phase is
an ordinary run folder (``OUT/phase1``, ``OUT/phase2``) with its own ``config.yaml`` and ``results.csv``; a phase
that finished is kept, an interrupted one resumes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..config import AugmentConfig, ConfigError

__all__ = ["PROTOCOLS", "TwoPhase", "augment_off"]

PROTOCOLS: tuple[str, ...] = ("one-run", "two-phase")


def augment_off() -> list[str]:
    """Overrides that switch every augmentation off (:meth:`leukodet.config.AugmentConfig.none`, the
    authors' no-augmentation file), photometric jitter, blur and JPEG included."""
    none = AugmentConfig.none()
    off = {f.name: getattr(none, f.name) for f in fields(AugmentConfig)}
    kept = (k for k in off if k not in ("blur_sigma", "jpeg_quality"))
    # cell_px is None (no zoom band either), which YAML reads back only as null
    return [f"augment.{k}={'null' if off[k] is None else off[k]}" for k in kept]


@dataclass(frozen=True)
class TwoPhase:
    """The two phases' numbers (module docstring); ``phase2_method`` is the sparse method phase 2 trains."""

    phase1_epochs: int = 100
    """D12: 100 epochs (the authors' README)."""
    phase2_epochs: int = 30
    """The authors' README: 30 epochs."""
    phase1_method: str = "crop"
    """``crop`` (D12: the labelled patches) or ``region`` (Eq. 4 on whole fields)."""
    phase2_method: str = "sladet"
    fl_gamma: float = 1.5
    fl_alpha: float = 0.25
    triplet_share: float | None = None
    """Share of phase 2 with the triplet term; ``None``: D7's (10/30 with attributes, 40/50 without)."""
    phase2_lr: float = 0.1
    """Phase 2's LR as a multiple of the recipe's (``train.finetune_lr``); the authors' SGD recipe: 1."""

    def __post_init__(self) -> None:
        if self.phase1_epochs < 1 or self.phase2_epochs < 1:
            raise ConfigError("two-phase: each phase needs at least one epoch")
        if self.phase1_method not in ("crop", "region"):
            raise ConfigError(f"two-phase: phase 1 trains crop or region, not {self.phase1_method!r}")
        if self.phase2_method not in ("naive", "region", "region+pl", "sladet"):
            raise ConfigError(
                f"two-phase: phase 2 trains naive, region, region+pl or sladet, not {self.phase2_method!r}"
            )
        if self.triplet_share is not None and not 0.0 <= self.triplet_share <= 1.0:
            raise ConfigError(f"two-phase: triplet_share must lie in [0, 1], got {self.triplet_share}")

    def phase1(self) -> list[str]:
        """Phase 1's overrides: its method; the augmentation stays the recipe's strong set."""
        return [f"sparse.method={self.phase1_method}"]

    def phase2(self, attributes: bool) -> list[str]:
        """Phase 2's overrides (module docstring)."""
        share = self.triplet_share if self.triplet_share is not None else (10 / 30 if attributes else 40 / 50)
        return [
            f"sparse.method={self.phase2_method}",
            "sparse.burn_in=0.0",
            f"sparse.triplet_end={share:.6g}",
            f"loss.fl_gamma={self.fl_gamma}",
            f"loss.fl_alpha={self.fl_alpha}",
            f"train.finetune_lr={self.phase2_lr}",
            *augment_off(),
        ]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
