"""The bounded analysis queue: at most ``workers`` analyses run at once (in threads, off the event loop) and at
most ``queue_size`` more wait; a request beyond that is refused at once (:class:`QueueFull`, HTTP 503).

A request takes its place before its body is read, so a full service refuses uploads without receiving them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

__all__ = ["AnalysisQueue", "QueueFull"]

T = TypeVar("T")


class QueueFull(Exception):
    """Every worker is busy and the queue is full."""


class AnalysisQueue:
    """Admission control plus a thread pool for the blocking analysis work.

    Args:
        workers: analyses run at the same time (threads sharing the one loaded model).
        queue_size: admitted requests that may wait for a worker (0: none wait).
    """

    def __init__(self, workers: int = 1, queue_size: int = 16) -> None:
        if workers < 1 or queue_size < 0:
            raise ValueError(f"need workers >= 1 and queue_size >= 0, got {workers} and {queue_size}")
        self.workers = workers
        self.queue_size = queue_size
        self._admitted = 0  # touched only on the event loop
        self._running = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="leukodet-analysis")

    @property
    def capacity(self) -> int:
        """Requests admitted at once (running + waiting)."""
        return self.workers + self.queue_size

    @asynccontextmanager
    async def place(self) -> AsyncIterator[None]:
        """Hold a place for one request; :class:`QueueFull` when there is none."""
        if self._admitted >= self.capacity:
            raise QueueFull(f"{self._admitted} analyses running or waiting (capacity {self.capacity})")
        self._admitted += 1
        try:
            yield
        finally:
            self._admitted -= 1

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread (call inside :meth:`place`)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._counted, fn, args)

    def _counted(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._lock:
            self._running += 1
        try:
            return fn(*args)
        finally:
            with self._lock:
                self._running -= 1

    def stats(self) -> dict[str, int]:
        """``running``, ``waiting`` (admitted, not yet running), ``workers`` and ``queue_size``."""
        with self._lock:
            running = self._running
        return {
            "running": running,
            "waiting": max(0, self._admitted - running),
            "workers": self.workers,
            "queue_size": self.queue_size,
        }

    def shutdown(self) -> None:
        """Stop the threads once the running analyses end (waiting ones are dropped)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
