"""Active learning: which patch of each field a person should label next (``leukodet propose``).

:mod:`.scores` turns a model's predictions into per-cell acquisition weights, :mod:`.window` finds the
rectangle of a given area fraction that holds the most of them, :mod:`.evidence` gathers what the scores need
from a detector, :mod:`.outputs` writes the proposals as a dataset to review and train on, and :mod:`.propose`
is the job. Importing the package is light (no torch). See docs/active.md.
"""

from .scores import SCORES, FieldEvidence, cell_weights, check_score
from .window import WindowChoice, best_window, window_size

__all__ = [
    "SCORES",
    "FieldEvidence",
    "WindowChoice",
    "best_window",
    "cell_weights",
    "check_score",
    "window_size",
]
