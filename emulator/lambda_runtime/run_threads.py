"""Reusable daemon threads for async runs."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class RunThreads:
    """Daemon threads that run async invocations, each reused for the next event once its run ends.

    A new thread starts only when every existing one is busy, so there are never more than the most runs ever in
    flight at once (bounded by the concurrency limits); a thread per event made the allocator's per-thread state
    churn with the traffic. Not a ThreadPoolExecutor: its threads are joined at interpreter exit, so a function
    running for minutes would hold up the emulator's stop.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...]]] = queue.SimpleQueue()
        self._idle = 0
        self._started = 0
        self._lock = threading.Lock()

    @property
    def started(self) -> int:
        """How many threads were ever started."""
        with self._lock:
            return self._started

    @property
    def idle(self) -> int:
        """How many threads wait for work."""
        with self._lock:
            return self._idle

    def submit(self, run: Callable[..., None], *args: Any) -> None:
        """Runs `run(*args)` on an idle thread, or on a new one when none is idle."""
        with self._lock:
            fresh = self._idle == 0
            if fresh:
                self._started += 1
            else:
                self._idle -= 1
        self._jobs.put((run, args))
        if fresh:
            threading.Thread(target=self._serve, name=f"{self._name}-{self._started}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            run, args = self._jobs.get()
            run(*args)
            with self._lock:
                self._idle += 1
