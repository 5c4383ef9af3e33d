"""State on disk: moto's backends in one snapshot file, S3 object bodies and log events as files beside it.

Layout of `<EMULATOR_STATE_DIR>/state/` (default `.emulator/state/`):

- `FORMAT`: the state's format version and the moto version it was written with; another one is refused;
- `snapshot.pickle`: every moto backend in use (S3 metadata, DynamoDB items, SQS messages and their
  deduplication state, CloudWatch metrics, log groups and streams, Lambda functions and their code, the
  CloudFormation stack, IAM roles), pickled in one go so objects shared between services stay shared;
  written to a temporary file, fsynced, then renamed over the last one: a crash leaves the last complete one;
- `blobs/`: one file per S3 object body. A new body is written once the response of the PUT that made it is sent
  (BlobStore), so a PUT does not wait for the file system (~0.2 ms of CPU for a 50 KB body on this machine's ext4):
  until its file is written, the body is read from memory (at most BACKGROUND_WRITE_BYTES of them at once), and a
  snapshot is written only once every body it names is on disk. A body written before is replaced whole (written
  then renamed), in the caller's thread;
- `logs/`: one append-only JSON-lines file per log stream; the snapshot records each file's length, and a
  restore cuts off what was appended after it, so logs agree with the rest of the state;
- `summary.json`: what the last snapshot held (for `python -m emulator status`).

Snapshots run in a background thread every few seconds and once more at shutdown: never on a request's path.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import shutil
import sys
import threading
import time
import uuid
import weakref
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import moto
from cryptography.hazmat.primitives import serialization
from moto.core.base_backend import BackendDict
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy
from moto.logs.models import LogEvent
from moto.s3.models import FakeKey

from emulator.aws import after_response, awslambda, core, sqs
from emulator.errors import EmulatorError
from emulator.state_folder import SUMMARY

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_SNAPSHOT = "snapshot.pickle"
_FORMAT = "FORMAT"
_LOCK_FACTORIES = {type(threading.Lock()): threading.Lock, type(threading.RLock()): threading.RLock}
_SAVE_ATTEMPTS = 5
_QUIET_SWITCH_INTERVAL = 1.0  # seconds: while pickling, other threads do not preempt the snapshot
BACKGROUND_WRITE_BYTES = 32 << 20  # new bodies held in memory until written; a writer beyond it waits
WRITER_IDLE_SECONDS = 1.0  # the background writer's thread ends after this long without a body to write
FREE_FILES = 256  # emptied files of deleted bodies kept for new bodies (creating a file can cost more than filling one)


class StateError(EmulatorError):
    """The state on disk cannot be used as it is (another format, or unreadable)."""


class DiskBody:
    """An S3 object body in a file, in place of moto's in-memory SpooledTemporaryFile (emulator/aws/s3.py).

    Implements the calls FakeKey makes: seek, truncate, write (the whole body at once), read, close.
    No file descriptor stays open between calls. `written` is False for a new body (BlobStore.new), whose file
    does not exist yet. One per S3 object, so slotted: no per-object dict."""

    __slots__ = ("_position", "_store", "_written", "closed", "name")

    def __init__(self, store: BlobStore, name: str, written: bool = True) -> None:
        self._store = store
        self.name = name
        self._written = written
        self._position = 0
        self.closed = False

    @property
    def path(self) -> Path:
        return self._store.path(self.name)

    def seek(self, position: int, whence: int = 0) -> int:
        self._position = position if whence == 0 else self._position + position
        return self._position

    def truncate(self) -> None:
        """Empties the body; a body not written yet (moto's value setter truncates, then writes) has nothing to
        empty, which spares a new object a second file write."""
        if self._written:
            self._store.write(self.name, b"", replacing=True)

    def write(self, data: bytes) -> int:
        self._store.write(self.name, data, replacing=self._written)
        self._written = True
        self._position += len(data)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if self.closed:
            raise ValueError(f"S3 object body {self.name} is closed")
        unwritten = self._store.unwritten(self.name)
        if unwritten is not None:
            data = unwritten[self._position:None if size < 0 else self._position + size]
        else:
            with self.path.open("rb") as handle:
                handle.seek(self._position)
                data = handle.read(size)
        self._position += len(data)
        return data

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._store.discard(self.name)


class BlobStore:
    """The folder of S3 object bodies. A new body's file is written after the response of the request that made it,
    on that request's thread (emulator/aws/after_response.py), or by a background thread when no request is being
    answered (`write`); a discarded body's file is deleted at once when nothing persists, else after the next
    snapshot (the last snapshot on disk may still name it), when it is emptied and kept instead (up to FREE_FILES,
    deleted at a stop) for a new body to be written into: where creating a file is slow (under /tmp on the 2-core test
    machine, 180-675 us of kernel time; elsewhere on its disk 14-22 us), refilling one with 50 KB took ~60 us."""

    def __init__(self, folder: Path, deferred: bool) -> None:
        self.folder = folder
        self._deferred = deferred
        self._discarded: list[str] = []
        # re-entrant: a FakeKey's finalizer (moto's `__del__`) may discard a body in any thread, lock held or not
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # a first write ended: flush and replacing writes wait
        self._queued = threading.Condition(self._lock)  # the background writer waits for work here, alone
        self._unwritten: dict[str, bytes] = {}  # new bodies whose files are not written yet (or failed to be)
        self._pending: set[str] = set()  # new bodies whose first write has not ended (queued, left, in progress)
        self._in_progress: set[str] = set()  # those being written right now
        self._queue: deque[str] = deque()  # those the background writer is to write, in order
        self._pending_bytes = 0
        self._writing = False  # a background writer thread is running
        self._failed: set[str] = set()
        self._cancelled: set[str] = set()  # discarded while unwritten, nothing persisting: no file once written
        self._made_folders: set[str] = set()  # mkdir once a folder, not once a write
        self._free: list[str] = []  # emptied files no snapshot names, for new bodies
        folder.mkdir(parents=True, exist_ok=True)

    def new(self) -> DiskBody:
        with self._lock:
            name = self._free.pop() if self._free else uuid.uuid4().hex
        return DiskBody(self, name, written=False)

    def path(self, name: str) -> Path:
        return self.folder / name[:2] / name

    def write(self, name: str, data: bytes, replacing: bool = True) -> None:
        """The body's file holds `data`. A new body (not `replacing`) is written after the response, or in the
        background, read from memory until then. A body written before is replaced whole, now (a reader sees the old
        bytes or the new, never a part); one whose first write has not started yet gets these bytes written."""
        data = data if type(data) is bytes else bytes(data)
        if replacing:
            self._replace(name, data)
            return
        with self._changed:
            in_request = after_response.active()
            if not in_request:  # a request never waits here: the bodies it left are written after its response
                self._changed.wait_for(lambda: self._pending_bytes < BACKGROUND_WRITE_BYTES or not self._pending)
            room = self._pending_bytes < BACKGROUND_WRITE_BYTES
            self._unwritten[name] = data
            self._pending.add(name)
            self._pending_bytes += len(data)
            if in_request and room:
                after_response.defer(lambda: self._write_first(name))
                return
            start_writer = not in_request and self._queue_for_writer(name)
        if in_request:  # no room left in memory: written now, before the response
            self._write_first(name)
        elif start_writer:
            threading.Thread(target=self._write_queued, name="s3-body-writer", daemon=True).start()

    def _queue_for_writer(self, name: str) -> bool:
        """Queues a body for the background writer (lock held); True when no writer runs and one must start."""
        self._queue.append(name)
        if self._writing:
            self._queued.notify()
            return False
        self._writing = True
        return True

    def _replace(self, name: str, data: bytes) -> None:
        with self._changed:
            self._changed.wait_for(lambda: name not in self._in_progress)
            if name in self._pending:  # its first write has not started: it writes these bytes
                self._pending_bytes += len(data) - len(self._unwritten[name])
                self._unwritten[name] = data
                return
        self._write_file(name, data, replacing=True)
        with self._lock:
            self._unwritten.pop(name, None)  # one whose first write failed is on disk now
            self._failed.discard(name)

    def unwritten(self, name: str) -> bytes | None:
        """The body's bytes while its file is not written yet; None once it is."""
        with self._lock:
            return self._unwritten.get(name)

    def flush(self) -> None:
        """Returns once every body written so far is on disk; StateError naming those that could not be."""
        with self._changed:
            self._changed.wait_for(lambda: not self._pending)
            failed = sorted(self._failed)
        if failed:
            raise StateError(f"{len(failed)} S3 object bodies could not be written to {self.folder} (see the log), "
                             f"e.g. {failed[0]}; they are served from memory and not snapshotted")

    def _write_queued(self) -> None:
        """The background writer: writes the queued bodies in order; ends once idle for WRITER_IDLE_SECONDS."""
        while True:
            with self._queued:
                if not self._queued.wait_for(lambda: self._queue, timeout=WRITER_IDLE_SECONDS):
                    self._writing = False
                    return
                name = self._queue.popleft()
            self._write_first(name)

    def _write_first(self, name: str) -> None:
        """A new body's first write; a body that cannot be written stays in memory, marked failed."""
        with self._lock:
            data = self._unwritten[name]
            self._in_progress.add(name)
        try:
            if name not in self._cancelled:
                self._write_file(name, data, replacing=False)
        except OSError:
            logger.exception("S3 object body %s could not be written to %s", name, self.folder)
            with self._changed:
                self._failed.add(name)
        else:
            with self._changed:
                del self._unwritten[name]
                if name in self._cancelled:
                    self._cancelled.discard(name)
                    self.path(name).unlink(missing_ok=True)
        finally:
            with self._changed:
                self._in_progress.discard(name)
                self._pending.discard(name)
                self._pending_bytes -= len(data)
                self._changed.notify_all()

    def _write_file(self, name: str, data: bytes, replacing: bool) -> None:
        folder = os.path.join(self.folder, name[:2])
        if folder not in self._made_folders:
            os.makedirs(folder, exist_ok=True)
            self._made_folders.add(folder)
        target = os.path.join(folder, name)
        staging = os.path.join(folder, f".{name}.tmp") if replacing else target
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            with memoryview(data) as view:
                while view:
                    view = view[os.write(descriptor, view):]
        finally:
            os.close(descriptor)
        if replacing:
            os.replace(staging, target)

    def discard(self, name: str) -> None:
        """Never waits (a finalizer may call it): a body still queued is left to the writer to drop."""
        with self._lock:
            if name in self._failed:
                self._failed.discard(name)
                self._unwritten.pop(name, None)
            elif name in self._unwritten and not self._deferred:
                self._cancelled.add(name)
                return
            if self._deferred:
                self._discarded.append(name)
                return
        self.path(name).unlink(missing_ok=True)  # nothing persists: no stop deletes emptied files kept

    def take_discarded(self) -> list[str]:
        """The bodies discarded so far (to delete once a snapshot without them is on disk)."""
        with self._lock:
            names, self._discarded = self._discarded, []
        return names

    def delete(self, names: list[str]) -> None:
        """The files of bodies no snapshot on disk names: emptied and kept for new bodies, or deleted."""
        for name in names:
            self._release(name)

    def delete_free(self) -> None:
        """Deletes the emptied files kept for new bodies (at a stop: the next start would count them as a crash's)."""
        with self._lock:
            names, self._free = self._free, []
        for name in names:
            self.path(name).unlink(missing_ok=True)

    def _release(self, name: str) -> None:
        with self._lock:
            keep = len(self._free) < FREE_FILES
        path = self.path(name)
        if not keep:
            path.unlink(missing_ok=True)
            return
        try:
            os.truncate(path, 0)
        except FileNotFoundError:  # never written (its write failed): nothing to keep
            return
        with self._lock:
            self._free.append(name)

    def keep_only(self, names: set[str]) -> int:
        """Deletes every body file not in `names` (left by a crash after the last snapshot); returns how many."""
        removed = 0
        for path in self.folder.glob("*/*"):
            if path.name not in names:
                path.unlink()
                removed += 1
        return removed


class EventLog:
    """A log stream's events in an append-only JSON-lines file, in place of moto's list (LogStream.events).

    Implements what moto does with the list: `+=`, iteration, len/bool; keeps only counts and bounds in memory."""

    def __init__(self, folder: Path, name: str, count: int = 0, first: int | None = None,
                 last: int | None = None) -> None:
        self.folder = folder
        self.name = name
        self.count = count
        self.first_timestamp = first
        self.last_timestamp = last
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.folder / f"{self.name}.jsonl"

    def __iadd__(self, events: list[LogEvent]) -> EventLog:
        lines = "".join(json.dumps([e.timestamp, e.ingestion_time, e.event_id, e.message]) + "\n" for e in events)
        with self._lock:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(lines)
            for event in events:
                self._bound(event.timestamp)
            self.count += len(events)
        return self

    def __iter__(self) -> Iterator[LogEvent]:
        with self._lock:
            lines = self.path.read_text(encoding="utf-8").splitlines() if self.count else []
        return iter([_log_event(line) for line in lines])

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def size(self) -> int:
        with self._lock:
            return self.path.stat().st_size if self.path.exists() else 0

    def expire(self, cutoff_ms: int) -> int:
        """Drops the events with a timestamp before `cutoff_ms`; returns how many."""
        with self._lock:
            if self.first_timestamp is None or self.first_timestamp >= cutoff_ms:
                return 0
            kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                    if json.loads(line)[0] >= cutoff_ms]
            staging = self.path.with_suffix(".tmp")
            staging.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
            staging.replace(self.path)
            dropped, self.count = self.count - len(kept), len(kept)
            self.first_timestamp = self.last_timestamp = None
            for line in kept:
                self._bound(json.loads(line)[0])
            return dropped

    def remove(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)
            self.count = 0

    def restore(self, size: int) -> None:
        """Cuts the file back to the `size` bytes the snapshot knew of (events after it are not in the state)."""
        if self.path.exists():
            with self.path.open("r+b") as handle:
                handle.truncate(size)

    def _bound(self, timestamp: int) -> None:
        self.first_timestamp = timestamp if self.first_timestamp is None else min(self.first_timestamp, timestamp)
        self.last_timestamp = timestamp if self.last_timestamp is None else max(self.last_timestamp, timestamp)


def _log_event(line: str) -> LogEvent:
    timestamp, ingestion_time, event_id, message = json.loads(line)
    event = LogEvent.__new__(LogEvent)
    event.__dict__.update(timestamp=timestamp, ingestion_time=ingestion_time, event_id=event_id, message=message)
    return event


def _private_key_pem(key: Any) -> bytes:
    return bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


def _load_private_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, password=None)


def _restore_key(key: FakeKey, state: dict[str, Any]) -> None:
    key.__dict__.update(state)
    key.lock = threading.Lock()


class _SnapshotPickler(pickle.Pickler):
    """Pickles moto's backends: bodies and event files by name, locks as new locks, FakeKey without its body."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.blobs: set[str] = set()

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, DiskBody):
            self.blobs.add(obj.name)
            return ("blob", obj.name)
        if isinstance(obj, EventLog):
            return ("events", obj.name, obj.count, obj.first_timestamp, obj.last_timestamp, obj.size())
        if type(obj) is AWSManagedPolicy:  # ~1,000 per IAM partition, all from moto's data file: named, not copied
            return ("aws_policy", obj.name, obj.account_id, obj.partition)
        return None

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) in _LOCK_FACTORIES:  # a lock is pickled as a new, unlocked one
            return _LOCK_FACTORIES[type(obj)], ()
        if isinstance(obj, FakeKey):  # moto's, or the emulator's CompactKey (emulator/aws/s3.py)
            state = {k: v for k, v in obj.__dict__.items() if k != "lock"}
            return object.__new__, (type(obj),), state, None, None, _restore_key
        if type(obj) is defaultdict and getattr(obj.default_factory, "__name__", "") == "<lambda>":
            return defaultdict, (type(obj.default_factory()), dict(obj))  # moto's `defaultdict(lambda: {})`
        if type(obj) is weakref.WeakValueDictionary:
            return weakref.WeakValueDictionary, (dict(obj),)
        if hasattr(obj, "private_bytes") and type(obj).__module__.startswith("cryptography"):  # KMS keys
            return _load_private_key, (_private_key_pem(obj),)
        return NotImplemented


class _SnapshotUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedReader, blobs: BlobStore, logs: Path) -> None:
        super().__init__(file)
        self._blobs, self._logs = blobs, logs
        self.blob_names: set[str] = set()
        self.log_names: set[str] = set()
        self._policies: dict[tuple[str, str, str], AWSManagedPolicy] = {}
        self._policy_data: dict[str, Any] | None = None

    def persistent_load(self, pid: Any) -> Any:
        if pid[0] == "blob":
            self.blob_names.add(pid[1])
            return DiskBody(self._blobs, pid[1])
        if pid[0] == "events":
            _, name, count, first, last, size = pid
            self.log_names.add(name)
            events = EventLog(self._logs, name, count, first, last)
            events.restore(size)
            return events
        if pid[0] == "aws_policy":
            return self._aws_policy(*pid[1:])
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")

    def _aws_policy(self, name: str, account: str, partition: str) -> AWSManagedPolicy:
        if (name, account, partition) not in self._policies:
            self._policy_data = self._policy_data or json.loads(aws_managed_policies_data)
            self._policies[(name, account, partition)] = AWSManagedPolicy.from_data(name, account, partition,
                                                                                 self._policy_data[name])
        return self._policies[(name, account, partition)]


@dataclass(frozen=True)
class SaveReport:
    """One snapshot: how long pickling held the interpreter, the whole save, and the file's size."""

    pickle_seconds: float
    total_seconds: float
    size_bytes: int


def _find_backend_dict(module_name: str, service: str) -> BackendDict[Any]:
    module = import_module(module_name)
    for value in vars(module).values():
        if isinstance(value, BackendDict) and value.service_name == service:
            return value
    raise StateError(f"moto has no {service} backend in {module_name}: the state does not fit this moto")


def _format_text() -> str:
    return json.dumps({"format": FORMAT_VERSION, "moto": moto.__version__,
                       "python": f"{sys.version_info.major}.{sys.version_info.minor}"})


class StateStore:
    """The emulator's state folder: format check, snapshots in a background thread, restore at start."""

    def __init__(self, root: Path, persistent: bool) -> None:
        self.root = root
        self.persistent = persistent
        if not persistent:
            shutil.rmtree(root, ignore_errors=True)
        self._check_format()
        self.blobs = BlobStore(root / "blobs", deferred=persistent)
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self._stop = threading.Event()
        self._save_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def snapshot_path(self) -> Path:
        return self.root / _SNAPSHOT

    def _check_format(self) -> None:
        marker = self.root / _FORMAT
        if marker.is_file():
            written = marker.read_text().strip()
            if written != _format_text():
                raise StateError(f"the state in {self.root} was written by another version of the emulator "
                                 f"({written}; this one writes {_format_text()}); it is not loaded. Start empty "
                                 f"with `make up FRESH=1` (or `python -m emulator reset`), or use that version")
            return
        if self.root.is_dir() and any(self.root.iterdir()):
            raise StateError(f"{self.root} holds files but no {_FORMAT} marker: not an emulator state; it is not "
                             f"loaded. Start empty with `make up FRESH=1` (or `python -m emulator reset`)")
        self.root.mkdir(parents=True, exist_ok=True)
        _write_atomically(marker, _format_text().encode())

    def load(self) -> bool:
        """Puts the last snapshot's backends into moto; False when there is none (a fresh state)."""
        if not (self.persistent and self.snapshot_path.is_file()):
            return False
        started = time.perf_counter()
        try:
            with self.snapshot_path.open("rb") as handle:
                unpickler = _SnapshotUnpickler(handle, self.blobs, self.logs)
                backends = unpickler.load()
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise StateError(f"the state snapshot {self.snapshot_path} cannot be read ({exc}); start empty with "
                             f"`make up FRESH=1` (or `python -m emulator reset`)") from exc
        for (module_name, service), accounts in backends.items():
            backend_dict = _find_backend_dict(module_name, service)
            for account, regions in accounts.items():
                for region, backend in regions.items():
                    backend_dict[account][region] = backend
        sqs.release_in_flight_messages()
        sqs.detach_lambda_mappings()
        orphans = self.blobs.keep_only(unpickler.blob_names)
        for path in self.logs.glob("*.jsonl"):
            if path.stem not in unpickler.log_names:
                path.unlink()
        logger.info("state restored from %s in %.2f s (%d object bodies; %d left by a crash removed)",
                    self.root, time.perf_counter() - started, len(unpickler.blob_names), orphans)
        return True

    def save(self) -> SaveReport:
        """Writes a snapshot of every backend in use (write, fsync, rename), then deletes discarded bodies."""
        with self._save_lock:
            started = time.perf_counter()
            discarded = self.blobs.take_discarded()
            data, pickle_seconds = _pickle_backends()
            self.blobs.flush()  # every body the snapshot names is on disk before it is
            staging = self.snapshot_path.with_suffix(".tmp")
            _write_atomically(self.snapshot_path, data, staging)
            self.blobs.delete(discarded)
            report = SaveReport(pickle_seconds, time.perf_counter() - started, len(data))
            summary = {"saved_at": time.time(), "snapshot_bytes": len(data), **holdings()}
            _write_atomically(self.root / SUMMARY, json.dumps(summary, indent=2).encode())
            return report

    def start(self, period_seconds: float) -> None:
        """Snapshots every `period_seconds` in a background thread (persistent states only)."""
        if not self.persistent:
            return
        self._thread = threading.Thread(target=self._save_forever, args=(period_seconds,), name="state-snapshots",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stops the periodic snapshots and writes the last one."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.persistent:
            report = self.save()
            self.blobs.delete_free()
            logger.info("state saved to %s (%.1f MB, %.2f s)", self.root, report.size_bytes / 1e6,
                        report.total_seconds)

    def _save_forever(self, period_seconds: float) -> None:
        while not self._stop.wait(period_seconds):
            try:
                report = self.save()
            except (OSError, pickle.PicklingError, RuntimeError, StateError):
                logger.exception("state snapshot failed; the last complete one stays on disk")
                continue
            logger.debug("state snapshot %.1f MB in %.3f s (pickling %.3f s)", report.size_bytes / 1e6,
                         report.total_seconds, report.pickle_seconds)


def holdings() -> dict[str, int]:
    """What moto holds right now: S3 objects and bytes, SQS messages, DynamoDB items, log events, datapoints..."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.dynamodb.models import dynamodb_backends
    from moto.logs.models import logs_backends
    from moto.s3.models import s3_backends

    def each(backend_dict: Any) -> list[Any]:
        return [b for regions in list(backend_dict.values()) for b in list(regions.values())]

    keys = [k for b in each(s3_backends) for bucket in list(b.buckets.values()) for k in list(bucket.keys.values())
            if isinstance(k, FakeKey)]
    streams = [s for b in each(logs_backends) for g in list(b.groups.values()) for s in list(g.streams.values())]
    return {
        "s3_objects": len(keys),
        "s3_bytes": sum(k.size for k in keys),
        "sqs_messages": sqs.message_count(),
        "dynamodb_items": sum(len(t) for b in each(dynamodb_backends) for t in list(b.tables.values())),
        "log_events": sum(len(s.events) for s in streams),
        "log_streams": len(streams),
        "metric_datapoints": sum(len(b.metric_data) for b in each(cloudwatch_backends)),
        "lambda_functions": awslambda.function_count(),
    }


def _pickle_backends() -> tuple[bytes, float]:
    """Pickles every moto backend in use; a mutation racing the pickler (dict changed size) is tried again."""
    attempt = 0
    while True:
        started = time.perf_counter()
        buffer = io.BytesIO()
        previous = sys.getswitchinterval()
        sys.setswitchinterval(_QUIET_SWITCH_INTERVAL)
        try:
            backends = {(b.backend.__module__, b.service_name): {account: dict(regions) for account, regions
                                                                 in list(b.items())} for b in
                        core.moto_backend_dicts()}
            _SnapshotPickler(buffer).dump(backends)
            return buffer.getvalue(), time.perf_counter() - started
        except RuntimeError as exc:
            attempt += 1
            if attempt == _SAVE_ATTEMPTS:
                raise StateError(f"the state changed under every snapshot attempt: {exc}") from exc
        finally:
            sys.setswitchinterval(previous)


def _write_atomically(target: Path, data: bytes, staging: Path | None = None) -> None:
    staging = staging or target.with_name(f".{target.name}.tmp")
    with staging.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    staging.replace(target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
