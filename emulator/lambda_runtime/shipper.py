"""A background thread that batches records and ships them to an AWS API of the emulator."""

from __future__ import annotations

import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

Record = TypeVar("Record")


AccountClients = Callable[[str], Any]  # an account id ("" for the emulator's default) -> a boto3 client there


def account_of(function: str) -> str:
    """The account of a function ARN, "" (the emulator's default account) for a plain name."""
    return function.split(":")[4] if function.startswith("arn:") else ""


def function_name_of(function: str) -> str:
    """The bare name of a function name, `name:qualifier` or ARN."""
    return function.split(":")[6] if function.startswith("arn:") else function.split(":")[0]


class BackgroundShipper(ABC, Generic[Record]):
    """Collects records from any thread; a daemon thread ships them in batches."""

    def __init__(self, interval_seconds: float = 0.25) -> None:
        self._records: queue.Queue[Record] = queue.Queue()
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()

    def put(self, record: Record) -> None:
        self._idle.clear()
        self._records.put(record)

    def flush(self, timeout: float = 5.0) -> None:
        """Waits until everything put so far has been shipped."""
        self._idle.clear()
        self._idle.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    @abstractmethod
    def ship(self, batch: list[Record]) -> None:
        """Sends one batch; raising a botocore error keeps the shipper alive and logs it."""

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self._interval)
            batch = self._drain()
            if batch:
                self._ship_safely(batch)
            if self._records.empty():
                self._idle.set()
            if stopping:
                return

    def _drain(self) -> list[Record]:
        batch: list[Record] = []
        while True:
            try:
                batch.append(self._records.get_nowait())
            except queue.Empty:
                return batch

    def _ship_safely(self, batch: list[Record]) -> None:
        try:
            self.ship(batch)
        except (BotoCoreError, ClientError):
            logger.exception("%s could not ship %d records", type(self).__name__, len(batch))
