"""Work an API request leaves for after its response is sent, done on the request's own thread.

A 50 KB S3 PUT's body file was written by a background thread: handing it over woke that thread (a futex wake and
a context switch), which then took the GIL from the request still being answered. Done here instead, the file is
written once cheroot has sent the response (its WSGI body's `close`), while the client reads the answer, and no
other thread is woken. A request thread serves one request at a time, so its tasks are its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from werkzeug.wsgi import ClosingIterator

logger = logging.getLogger(__name__)

Task = Callable[[], None]


class _Collecting(threading.local):
    tasks: list[Task] | None = None


_collecting = _Collecting()


def active() -> bool:
    """Whether this thread is answering a request whose response can run deferred work."""
    return _collecting.tasks is not None


def defer(task: Task) -> None:
    """Leaves `task` for after the response of the request this thread is answering (see active())."""
    tasks = _collecting.tasks
    if tasks is None:
        raise RuntimeError("no response to run work after on this thread: check active() first")
    tasks.append(task)


@contextmanager
def collecting() -> Iterator[list[Task]]:
    """Collects the tasks deferred on this thread inside the block; nested blocks share the outer one's list."""
    if _collecting.tasks is not None:
        yield _collecting.tasks
        return
    tasks: list[Task] = []
    _collecting.tasks = tasks
    try:
        yield tasks
    finally:
        _collecting.tasks = None


def run(tasks: list[Task]) -> None:
    """Runs the tasks in order; one that fails is logged and the rest still run (they may release others' waits)."""
    for task in tasks:
        try:
            task()
        except Exception:
            logger.exception("work left for after a response failed: %r", task)
    tasks.clear()


def after_body(body: Iterable[bytes], tasks: list[Task]) -> Iterable[bytes]:
    """The response body, running `tasks` once the server has sent it and closed it."""
    return ClosingIterator(body, lambda: run(tasks)) if tasks else body
