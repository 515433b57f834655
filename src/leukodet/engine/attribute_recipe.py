"""The attribute recipe (issue #23): three runs that let the AttriHead converge on a trained detector.

1. **detector**: the detector alone (``train.attributes=false``) from any start (``synth-n``, a checkpoint,
   random weights); ``detector_epochs=0`` skips it and starts the head from ``--model`` itself.
2. **head**: the AttriHead alone on the frozen detector (``train.freeze_detector=true``: the detector's weights,
   anchors and BatchNorm statistics stay as they are), at the recipe's full LR.
3. **joint**: detector and head together (Eq. 3, one backward, D8) from the head stage's weights, at
   ``joint_lr`` × the recipe's LR (``train.finetune_lr``).

Trained from scratch in one run, the head learns from a moving detector's features and the detection loss
dominates the early epochs; the paper's authors warm-started their head (spec §3.5). Each stage is an ordinary
run folder (``OUT/detector``, ``OUT/head``, ``OUT/joint``) with its own ``config.yaml`` and ``results.csv``; a
finished stage is kept, an interrupted one resumes (:func:`leukodet.tasks.training.train_attribute_recipe`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..config import ConfigError

__all__ = ["AttributeRecipe"]


@dataclass(frozen=True)
class AttributeRecipe:
    """The three stages' epochs and the joint stage's LR multiplier (module docstring)."""

    detector_epochs: int = 30
    head_epochs: int = 10
    joint_epochs: int = 10
    joint_lr: float = 0.1

    def __post_init__(self) -> None:
        if self.detector_epochs < 0 or self.head_epochs < 1 or self.joint_epochs < 1:
            raise ConfigError("attribute recipe: the head and joint stages need at least one epoch each")
        if self.joint_lr <= 0:
            raise ConfigError(f"attribute recipe: joint_lr must be > 0, got {self.joint_lr}")

    def stages(self) -> list[tuple[str, int, list[str]]]:
        """``(name, epochs, overrides)`` of each stage to run, in order; each starts from the previous one's
        ``last.pt``, the first from the start model."""
        plan = [
            ("detector", self.detector_epochs, ["train.attributes=false"]),
            ("head", self.head_epochs, ["train.freeze_detector=true"]),
            ("joint", self.joint_epochs, [f"train.finetune_lr={self.joint_lr}"]),
        ]
        return [stage for stage in plan if stage[1] > 0]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
