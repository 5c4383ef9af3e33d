"""How every command line (device, grader, emulator) meets SIGINT and SIGTERM: one handler, put back after."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def on_stop_signals(handle: Callable[[signal.Signals], None]) -> Iterator[None]:
    """Call `handle(signal)` on SIGINT or SIGTERM inside the block, then restore the previous handlers.

    Python runs handlers in the main thread only, so elsewhere this does nothing (the caller's defaults stay).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def dispatch(signum: int, frame: FrameType | None) -> None:
        handle(signal.Signals(signum))

    previous = {sig: signal.signal(sig, dispatch) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def interrupt(signum: signal.Signals) -> None:
    """A handler that makes SIGTERM end the program as Ctrl-C does: KeyboardInterrupt, so cleanup blocks run."""
    raise KeyboardInterrupt(signum.name)
