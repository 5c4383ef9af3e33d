"""Collects every message from the results queue as it arrives: raw body, group id, receive time.

The device's ResultsConsumer parses and keeps only valid results; a grader must also see malformed
bodies and each message's MessageGroupId, so it records messages raw (the checker judges them) and
deletes each one once recorded, so none comes back and a FIFO group never stays blocked. On stop it starts
no new poll, waits for the open ones to return and hands back (visibility 0) what they bring, so the next
consumer of the queue gets it at once instead of after the visibility timeout.
"""

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from contract import join_pollers, poll_until_stopped, release_messages

logger = logging.getLogger(__name__)

JOIN_MARGIN = 5.0


@dataclass(frozen=True)
class Received:
    """One message as received: SQS message id, body, MessageGroupId, receive time (epoch s)."""

    message_id: str
    body: str
    group_id: str | None
    received_at: float


class Collector:
    """`threads` threads long-poll the queue (wait_seconds each) until stop() (or `stop` is set); every message
    received before the stop is kept."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        threads: int = 2,
        wait_seconds: int = 1,
        stop: threading.Event | None = None,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._wait_seconds = wait_seconds
        self._stop = stop or threading.Event()
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._workers = [threading.Thread(target=self._poll, name=f"collect-{i}", daemon=True) for i in range(threads)]

    def start(self) -> None:
        """Start polling."""
        for worker in self._workers:
            worker.start()

    def stop(self) -> list[Received]:
        """Start no new poll, wait for the open ones (what they bring is handed back); return everything received."""
        self._stop.set()
        join_pollers(self._workers, self._wait_seconds + JOIN_MARGIN, self._queue_url)
        return self.received()

    def received(self) -> list[Received]:
        """Messages received so far, in arrival order."""
        with self._lock:
            return list(self._received)

    def _poll(self) -> None:
        """Receive, record and delete until stopped; back off on errors."""
        poll_until_stopped(self._receive_once, self._stop, self._queue_url)

    def _receive_once(self) -> None:
        """One long poll; record then delete what it brought, or hand it back if stopped meanwhile."""
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self._wait_seconds,
            MessageSystemAttributeNames=["MessageGroupId"],
        )
        messages = response.get("Messages", [])
        if self._stop.is_set():
            release_messages(self._sqs, self._queue_url, messages)
            return
        if not messages:
            return
        now = time.time()
        batch = [
            Received(m["MessageId"], m["Body"], m.get("Attributes", {}).get("MessageGroupId"), now) for m in messages
        ]
        with self._lock:
            self._received.extend(batch)
        self._delete(messages)

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        """Delete recorded messages; any that fail come back and are recognised by message id."""
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        response = self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)
        for failure in response.get("Failed", []):
            logger.warning("could not delete a result message (%s): it will be received again", failure)
