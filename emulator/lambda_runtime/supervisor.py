"""One loop per Lambda service, in the manner of gunicorn's arbiter: it waits on every environment's output pipe,
process handle (a pidfd) and Runtime API socket, reads log lines, reaps what exits and runs the service's timers
(idle reaping, the SIGKILL after a grace period), so an environment needs no thread of its own to be watched.

Callbacks run on the loop's thread and must not block: they read what is ready, send signals, set events.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import selectors
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from emulator.lambda_runtime.errors import EmulatorError

logger = logging.getLogger(__name__)

Callback = Callable[[], None]


@dataclass(order=True)
class Timer:
    """A callback due at `when` (monotonic seconds); `cancel` keeps it from running."""

    when: float
    seq: int
    callback: Callback = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Supervisor:
    """The loop: file descriptors it waits on, each with the callback to run when it is readable, and timers."""

    def __init__(self, name: str = "lambda-supervisor") -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_read, selectors.EVENT_READ, self._clear_wake)
        self._lock = threading.Lock()
        self._calls: list[Callback] = []
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self._stopping = False
        self._ended = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def call_soon(self, callback: Callback) -> None:
        """Runs `callback` on the loop's thread, after the calls asked for before it."""
        with self._lock:
            self._check_running()
            self._calls.append(callback)
            self._wake()

    def call_later(self, delay: float, callback: Callback) -> Timer:
        timer = Timer(time.monotonic() + delay, next(self._seq), callback)
        with self._lock:
            self._check_running()
            heapq.heappush(self._timers, timer)
            self._wake()
        return timer

    def every(self, period: float, callback: Callback) -> None:
        """Runs `callback` every `period` seconds until the loop stops."""
        def tick() -> None:
            try:
                callback()
            finally:
                self.call_later(period, tick)

        self.call_later(period, tick)

    def watch(self, fd: int, on_readable: Callback) -> None:
        """Runs `on_readable` each time `fd` can be read, until `unwatch(fd)`."""
        self.call_soon(lambda: self._selector.register(fd, selectors.EVENT_READ, on_readable))

    def unwatch(self, fd: int, then: Callback | None = None) -> None:
        """Stops watching `fd`, then runs `then` (e.g. closing it: never before it is unwatched)."""
        def drop() -> None:
            if fd in self._selector.get_map():
                self._selector.unregister(fd)
            if then is not None:
                then()

        if self.in_loop:
            drop()
        else:
            self.call_soon(drop)

    def watch_exit(self, pid: int, on_exit: Callback) -> None:
        """Runs `on_exit` once process `pid` (a child, or a template's child not yet reaped) has exited."""
        pidfd = os.pidfd_open(pid)

        def exited() -> None:
            self.unwatch(pidfd, then=lambda: os.close(pidfd))
            on_exit()

        self.watch(pidfd, exited)

    def stop(self) -> None:
        """Returns at once; the loop ends once nothing is watched any more (environments still running, or being
        killed, are reaped first)."""
        with self._lock:
            self._stopping = True
            if not self._ended:
                self._wake()

    def join(self, timeout: float) -> bool:
        """Waits for the loop to end after `stop`; whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _check_running(self) -> None:
        if self._ended:
            raise EmulatorError("the Lambda service has stopped: nothing watches new environments")

    def _wake(self) -> None:
        """Interrupts the loop's wait (called with the lock held, so the pipe is still open)."""
        try:
            os.write(self._wake_write, b"\0")
        except BlockingIOError:  # the pipe is full: the loop is awake anyway
            return

    def _clear_wake(self) -> None:
        while True:
            try:
                if not os.read(self._wake_read, 4096):
                    return
            except BlockingIOError:
                return

    def _run(self) -> None:
        while True:
            for callback in self._take_calls():
                self._guarded(callback)
            for timer in self._take_due_timers():
                self._guarded(timer.callback)
            with self._lock:
                if self._stopping and not self._calls and len(self._selector.get_map()) == 1:
                    self._ended = True
                    break
                timeout = max(0.0, self._timers[0].when - time.monotonic()) if self._timers else None
            for key, _ in self._selector.select(0.0 if self._calls else timeout):
                self._guarded(key.data)
        with self._lock:
            self._selector.close()
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _take_calls(self) -> list[Callback]:
        with self._lock:
            calls, self._calls = self._calls, []
        return calls

    def _take_due_timers(self) -> list[Timer]:
        now = time.monotonic()
        due = []
        with self._lock:
            while self._timers and self._timers[0].when <= now:
                timer = heapq.heappop(self._timers)
                if not timer.cancelled:
                    due.append(timer)
        return due

    @staticmethod
    def _guarded(callback: Callback) -> None:
        """The loop never dies: a failing callback is logged with its traceback, the others go on."""
        try:
            callback()
        except Exception:
            logger.exception("lambda supervisor: %r failed", callback)
