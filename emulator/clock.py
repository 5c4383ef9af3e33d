"""The emulator's clock: real time plus an offset a test may advance (POST /_emulator/clock), so a scheduled rule
that fires every minute or every day is seen firing without anyone sleeping that long."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class EmulatorClock:
    """UTC now, shifted by what `advance` added; waiters wake when it jumps."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._changed = threading.Condition()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def offset_seconds(self) -> float:
        """How far `advance` has moved the clock ahead of real time."""
        return self._offset.total_seconds()

    def advance(self, seconds: float) -> datetime:
        """Moves the clock forward (never back: a schedule does not fire twice); returns the new now."""
        if seconds < 0:
            raise ValueError(f"the emulator's clock only moves forward; asked to advance {seconds} s")
        with self._changed:
            self._offset += timedelta(seconds=seconds)
            self._changed.notify_all()
        return self.now()

    def sleep(self, seconds: float, unless: threading.Event | None = None) -> None:
        """Waits up to `seconds` of real time, less when the clock is advanced meanwhile; not at all once `unless` is
        set. `unless` is read under the lock `advance` takes: set it, then advance(0), and no sleeper misses it."""
        with self._changed:
            if unless is None or not unless.is_set():
                self._changed.wait(seconds)


class ClockTicker:
    """A daemon thread that calls `tick` every `seconds` of real time, and at once when the clock jumps."""

    def __init__(self, name: str, tick: Callable[[], object], clock: EmulatorClock, seconds: float) -> None:
        self._tick = tick
        self._clock = clock
        self._seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._clock.advance(0)  # wakes the thread
        if self._thread.is_alive():
            self._thread.join(timeout=5 * self._seconds)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._tick()
            self._clock.sleep(self._seconds, unless=self._stop)
