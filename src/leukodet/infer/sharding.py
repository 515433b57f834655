"""Shards of a prediction run: image ``k`` of the sorted input list belongs to shard ``k % N`` (no torch here).

A shard is written ``I/N`` on the command line and ``(I, N)`` in the API, with ``0 <= I < N``.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping

__all__ = ["check_shard", "parse_shard", "rank_device", "shard_indices", "torchrun_shard"]


def check_shard(shard: tuple[int, int]) -> tuple[int, int]:
    """Return ``(i, N)`` as ints if ``0 <= i < N``.

    Raises:
        ValueError: otherwise (the message shows the ``I/N`` form).
    """
    try:
        i, n = operator.index(shard[0]), operator.index(shard[1])
    except (TypeError, IndexError):
        raise ValueError(f"shard {shard!r}: expected (I, N) with integers 0 <= I < N") from None
    if len(shard) != 2 or n < 1 or not 0 <= i < n:
        raise ValueError(f"shard {shard!r}: expected (I, N) with integers 0 <= I < N")
    return i, n


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``"I/N"`` (shard ``I`` of ``N``, ``0 <= I < N``).

    Raises:
        ValueError: bad syntax or range; the message quotes ``text``.
    """
    parts = text.strip().split("/")
    try:
        if len(parts) != 2:
            raise ValueError
        i, n = int(parts[0]), int(parts[1])
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected I/N with integers 0 <= I < N, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {text!r}: expected I/N with integers 0 <= I < N, e.g. 0/4")
    return i, n


def shard_indices(count: int, shard: tuple[int, int] | None) -> list[int]:
    """Indices ``k`` of ``range(count)`` in shard ``(i, N)``: those with ``k % N == i`` (all when ``None``)."""
    if shard is None:
        return list(range(count))
    i, n = check_shard(shard)
    return list(range(i, count, n))


def torchrun_shard(environ: Mapping[str, str]) -> tuple[int, int] | None:
    """``(RANK, WORLD_SIZE)`` from a torchrun environment with more than one process, else ``None``."""
    rank, world = environ.get("RANK"), environ.get("WORLD_SIZE")
    if rank is None or world is None or int(world) <= 1:
        return None
    return check_shard((int(rank), int(world)))


def rank_device(device: str, environ: Mapping[str, str]) -> str:
    """``cuda`` under torchrun (``LOCAL_RANK`` set) means this process's own GPU, ``cuda:LOCAL_RANK``."""
    local = environ.get("LOCAL_RANK")
    return f"cuda:{int(local)}" if device == "cuda" and local is not None else device
