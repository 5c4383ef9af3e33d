"""cheroot (11.1.2, pinned): the API server's pool of request threads hands work to the most recently idle one.

cheroot's ThreadPool keeps connections ready for a worker in `_queue` (a `queue.Queue`) read by `get`; both are
replaced by HotThreadsFirst before the pool's threads start.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from cheroot.workers.threadpool import ThreadPool

from emulator.aws.registry import Internal, verify

POOL_QUEUE = Internal(ThreadPool, "__init__", ("self", "server"), source="self.get = self._queue.get")
POOL_PUT = Internal(ThreadPool, "put", ("self", "obj"), source="self._queue.put(obj")
INTERNALS = (POOL_QUEUE, POOL_PUT)


class HotThreadsFirst:
    """cheroot's queue of connections ready for a worker thread, handing each to the thread that went idle last.

    cheroot's own `queue.Queue` wakes the thread that has waited longest, so requests rotate through all
    SERVER_THREADS threads and every one of them ends up with a deep stack and a full malloc cache of its own
    (RSS that crept for minutes, issue 15); handed to the most recently idle thread, they stay on the few threads
    the load needs. Connections still go out oldest first. What cheroot calls: put, get (blocking), qsize.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: deque[Any] = deque()
        self._idle: list[_Handoff] = []  # a stack: the thread that went idle last is woken first

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Hands `item` to the most recently idle thread, or queues it when none is idle (never blocks)."""
        with self._lock:
            if not self._idle:
                self._ready.append(item)
                return
            handoff = self._idle.pop()
        handoff.give(item)

    def get(self) -> Any:
        """The oldest queued item, else waits for the next one put."""
        with self._lock:
            if self._ready:
                return self._ready.popleft()
            handoff = _Handoff()
            self._idle.append(handoff)
        return handoff.take()

    def qsize(self) -> int:
        with self._lock:
            return len(self._ready)

    @property
    def idle(self) -> int:
        """Threads waiting in get()."""
        with self._lock:
            return len(self._idle)


class _Handoff:
    """One idle thread's slot: the thread blocks in take() until give() puts an item in it."""

    def __init__(self) -> None:
        self._given = threading.Lock()
        self._given.acquire()
        self._item: Any = None

    def give(self, item: Any) -> None:
        self._item = item
        self._given.release()

    def take(self) -> Any:
        self._given.acquire()
        return self._item


def hot_threads_first(pool: ThreadPool) -> None:
    """Puts HotThreadsFirst in place of the queue of cheroot's ThreadPool (before its threads start)."""
    verify(INTERNALS)
    pool._queue = HotThreadsFirst()  # type: ignore[assignment]
    pool.get = pool._queue.get  # type: ignore[method-assign]
