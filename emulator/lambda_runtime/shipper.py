"""A background thread that batches records and ships them to an AWS API of the emulator.

Records that fail to ship (the emulator busy or not serving yet) are tried again every round for up to
SHIP_PATIENCE_SECONDS; past that they are dropped, and logged, each one, at ERROR."""

from __future__ import annotations

import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

Record = TypeVar("Record")
SHIP_PATIENCE_SECONDS = 30.0  # an emulator under load 8 takes ~25 s to serve its first request


AccountClients = Callable[[str], Any]  # an account id ("" for the emulator's default) -> a boto3 client there


def account_of(function: str) -> str:
    """The account of a function ARN, "" (the emulator's default account) for a plain name."""
    return function.split(":")[4] if function.startswith("arn:") else ""


def function_name_of(function: str) -> str:
    """The bare name of a function name, `name:qualifier` or ARN."""
    return function.split(":")[6] if function.startswith("arn:") else function.split(":")[0]


class NotShipped(Exception):
    """Raised by `ship` when part of a batch was shipped: the records that were not, and why."""

    def __init__(self, records: list[Any], cause: Exception) -> None:
        super().__init__(f"{len(records)} records not shipped: {cause}")
        self.records = records
        self.cause = cause


class BackgroundShipper(ABC, Generic[Record]):
    """Collects records from any thread; a daemon thread ships them in batches."""

    def __init__(self, interval_seconds: float = 0.25, patience_seconds: float = SHIP_PATIENCE_SECONDS) -> None:
        self._records: queue.Queue[Record] = queue.Queue()
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._patience = patience_seconds
        self._retry: list[Record] = []  # the last batch's records that failed to ship
        self._failing_since: float | None = None  # when shipping started to fail, None while it works
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
        """Sends one batch; a botocore error (the whole batch) or NotShipped (some records) has them tried again."""

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self._interval)
            batch, self._retry = self._retry + self._drain(), []
            if batch:
                self._ship_safely(batch)
            if self._records.empty() and not self._retry:
                self._idle.set()
            if stopping:
                if self._retry:
                    self._drop(self._retry, "the shipper stopped")
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
        except NotShipped as failure:
            self._failed(failure.records, failure.cause)
        except (BotoCoreError, ClientError) as exc:
            self._failed(batch, exc)
        else:
            self._failing_since = None

    def _failed(self, records: list[Record], cause: Exception) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
            logger.warning("%s could not ship %d records (%r); trying again for up to %.0f s",
                           type(self).__name__, len(records), cause, self._patience)
        if now - self._failing_since >= self._patience:
            self._failing_since = None
            self._drop(records, f"failing for {self._patience:.0f} s, the last time with {cause!r}")
            return
        self._retry = records

    def _drop(self, records: list[Record], why: str) -> None:
        logger.error("%s dropped %d records (%s): %r", type(self).__name__, len(records), why, records)
