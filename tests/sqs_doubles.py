"""An SQS client double for stop tests: long polls still open when their consumer is told to stop."""

import threading
from typing import Any

GATE_SECONDS = 30.0


class PollsOpenAtStop:
    """Delegates to a real SQS client; each receive call first waits for `stop`, then polls for real.

    Every receive is thus a poll that was open when its consumer was stopped and returns after the stop,
    with whatever the queue then holds. `entered` is released once per receive call that started.
    """

    def __init__(self, sqs: Any, stop: threading.Event) -> None:
        self._sqs = sqs
        self._stop = stop
        self.entered = threading.Semaphore(0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def receive_message(self, **kwargs: Any) -> Any:
        self.entered.release()
        if not self._stop.wait(GATE_SECONDS):
            raise AssertionError(f"the test never stopped the consumer within {GATE_SECONDS} s")
        return self._sqs.receive_message(**kwargs)

    def wait_for_polls(self, count: int) -> None:
        """Block until `count` receive calls have started."""
        for _ in range(count):
            if not self.entered.acquire(timeout=GATE_SECONDS):
                raise AssertionError(f"fewer than {count} polls started within {GATE_SECONDS} s")
