"""Diagnostics for bad input: every problem names its file (and line) and is counted, never dropped silently.

Readers report problems to a :class:`Diagnostics` collector. In lenient mode (the default) each problem is
logged once as a warning and counted by reason; with ``strict=True`` the first problem raises
:class:`DataError`, whose message is the one line a user needs (file:line: what is wrong).
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

__all__ = ["DataError", "Problem", "Diagnostics"]

log = logging.getLogger("leukodet.records")


class DataError(ValueError):
    """Bad input data; the message names the file (and line) and what is wrong."""


@dataclass(frozen=True)
class Problem:
    """One problem found in the input."""

    file: str
    line: int | None
    reason: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


@dataclass
class Diagnostics:
    """Collects problems by split; ``strict`` turns the first one into a :class:`DataError`.

    Attributes:
        strict: raise on the first problem instead of counting it.
        progress: show progress bars (on stderr) while reading.
        max_logged: warnings printed per reason before further ones are only counted.
    """

    strict: bool = False
    progress: bool = False
    max_logged: int = 20
    problems: list[Problem] = field(default_factory=list)
    _split: str = "all"
    _by_split: dict[str, Counter[str]] = field(default_factory=dict)

    def set_split(self, split: str) -> None:
        """Attribute the following problems to ``split``."""
        self._split = split

    def report(self, file: str | Path, line: int | None, reason: str, message: str) -> None:
        """Record one problem (or raise it in strict mode)."""
        problem = Problem(str(file), line, reason, message)
        if self.strict:
            raise DataError(str(problem))
        self.problems.append(problem)
        counts = self._by_split.setdefault(self._split, Counter())
        counts[reason] += 1
        if counts[reason] <= self.max_logged:
            log.warning("%s", problem)
        elif counts[reason] == self.max_logged + 1:
            log.warning("further %r problems in split %s are counted, not shown", reason, self._split)

    def counts(self, split: str) -> dict[str, int]:
        """``{reason: count}`` of the problems reported while ``split`` was current."""
        return dict(sorted(self._by_split.get(split, Counter()).items()))

    def track(self, items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
        """Iterate ``items``, with a progress bar on stderr when ``progress`` is on."""
        yield from tqdm(
            items, desc=desc, total=total, file=sys.stderr, disable=not self.progress, leave=False
        )
