"""Wall-clock budget for a whole run: re-estimates the epoch count after each epoch so training ends in time.

The budget covers everything (start-up, caching, training, validation). After each epoch the number of epochs
that still fit is ``floor(remaining / mean epoch cost)``, where the epoch cost includes its validation; the
schedule is then rescaled to the new total, and ``--epochs`` stays an upper bound.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

__all__ = ["TimeBudget"]


@dataclass
class TimeBudget:
    """Tracks elapsed time across resumes and plans the epoch count.

    Attributes:
        minutes: the budget (``None`` = no budget: the epoch count is ``max_epochs``).
        max_epochs: upper bound on epochs.
        elapsed_before: seconds spent by earlier sessions of a resumed run.
        reserve_s: seconds kept for the final save/evaluation.
    """

    minutes: float | None
    max_epochs: int
    elapsed_before: float = 0.0
    reserve_s: float = 5.0
    start: float = field(default_factory=time.monotonic)
    epoch_costs: list[float] = field(default_factory=list)

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.start

    def record_epoch(self, seconds: float) -> None:
        self.epoch_costs.append(seconds)

    def planned_epochs(self, done: int, first_estimate: float | None = None) -> int:
        """Total epochs to run given ``done`` completed ones (at least ``done + 1`` when time remains)."""
        if self.minutes is None:
            return self.max_epochs
        costs = self.epoch_costs[-3:] or ([first_estimate] if first_estimate else [])
        if not costs:
            return self.max_epochs
        per_epoch = sum(costs) / len(costs)
        remaining = self.minutes * 60.0 - self.elapsed() - self.reserve_s
        more = max(0, math.floor(remaining / max(per_epoch, 1e-6)))
        return max(min(self.max_epochs, done + more), min(done + 1, self.max_epochs) if done == 0 else done)

    def exhausted(self) -> bool:
        return self.minutes is not None and self.elapsed() >= self.minutes * 60.0 - self.reserve_s
