"""State on disk and retention, in process: object bodies and log events as files, the format check, the sweeps."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.cloudwatch.models import cloudwatch_backends
from moto.logs.models import LogEvent, logs_backends
from moto.s3.models import s3_backends
from moto.sqs.models import sqs_backends

import emulator.state as state_module
from emulator.aws import after_response
from emulator.aws.cloudwatch import roll_up_metrics
from emulator.aws.hooks import StateHooks
from emulator.aws.s3 import expire_objects, expiry
from emulator.config import DEFAULT_ACCOUNT, DEFAULT_REGION
from emulator.retention import Retention
from emulator.state import BlobStore, EventLog, StateError, StateStore


@pytest.fixture
def hooked(tmp_path: Path) -> Iterator[StateStore]:
    """moto in process with the state hooks on: bodies and log events go to tmp_path."""
    with _hooked_run(tmp_path / "state") as store:
        yield store


def client(service: str) -> Any:
    return boto3.client(service, region_name=DEFAULT_REGION, aws_access_key_id="x", aws_secret_access_key="y")


def test_an_object_body_is_a_file_not_memory(hooked: StateStore) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="bodies")
    s3.put_object(Bucket="bodies", Key="a.bin", Body=b"x" * 100_000)
    hooked.blobs.flush()  # written by the background writer
    files = list(hooked.blobs.folder.glob("*/*"))
    assert [f.stat().st_size for f in files] == [100_000]
    assert s3.get_object(Bucket="bodies", Key="a.bin")["Body"].read() == b"x" * 100_000
    s3.delete_object(Bucket="bodies", Key="a.bin")
    assert files[0].stat().st_size == 100_000, "a deleted body stays until the next snapshot no longer names it"
    hooked.save()
    assert files[0].stat().st_size == 0, "then its file is emptied, kept for a new body"
    s3.put_object(Bucket="bodies", Key="b.bin", Body=b"new")
    hooked.blobs.flush()
    assert list(hooked.blobs.folder.glob("*/*")) == files and files[0].read_bytes() == b"new", "written into it"
    assert s3.get_object(Bucket="bodies", Key="b.bin")["Body"].read() == b"new"


def test_deleted_bodies_files_beyond_those_kept_for_new_bodies_are_deleted(hooked: StateStore,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module, "FREE_FILES", 1)
    s3 = client("s3")
    s3.create_bucket(Bucket="bodies")
    for key in ("a", "b", "c"):
        s3.put_object(Bucket="bodies", Key=key, Body=b"x" * 10)
    hooked.save()
    for key in ("a", "b", "c"):
        s3.delete_object(Bucket="bodies", Key=key)
    hooked.save()
    assert [f.stat().st_size for f in hooked.blobs.folder.glob("*/*")] == [0]
    hooked.close()
    assert not list(hooked.blobs.folder.glob("*/*")), "a stop leaves no emptied file for the next start to find"


def test_a_stored_object_keeps_in_its_own_dict_only_what_differs_from_other_objects(hooked: StateStore) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="media")
    for name in ("a", "b"):
        s3.put_object(Bucket="media", Key=f"frames/{name}.png", Body=name.encode(), ContentType="image/png",
                      Metadata={"device-id": "pi", "frame-index": "0"})
    first, second = s3_backends[DEFAULT_ACCOUNT]["aws"].buckets["media"].keys.values()
    at_defaults = {"encryption", "kms_key_id", "lock_mode", "multipart", "_transitions", "_storage_class", "disposed"}
    assert at_defaults.isdisjoint(vars(first)), "attributes at moto's defaults are read from the class"
    assert (first.encryption, first.multipart, first.storage_class, first.version_id) \
        == (None, None, "STANDARD", "null")
    assert all(a is b for a, b in zip(first.metadata, second.metadata, strict=True)), "one copy of each name"
    assert first.bucket_name is second.bucket_name and first.account_id is second.account_id
    head = s3.head_object(Bucket="media", Key="frames/a.png")
    assert (head["ContentType"], head["Metadata"]) == ("image/png", {"device-id": "pi", "frame-index": "0"})


def test_compact_objects_come_back_whole_after_a_restart(tmp_path: Path) -> None:
    with _hooked_run(tmp_path / "state") as store:
        client("s3").create_bucket(Bucket="media")
        client("s3").put_object(Bucket="media", Key="videos/c.mp4", Body=b"clip", Metadata={"device-id": "pi"})
        store.save()
    with _hooked_run(tmp_path / "state") as store:
        assert store.load()
        got = client("s3").get_object(Bucket="media", Key="videos/c.mp4")
        assert (got["Body"].read(), got["Metadata"]) == (b"clip", {"device-id": "pi"})
        key = s3_backends[DEFAULT_ACCOUNT]["aws"].buckets["media"].keys["videos/c.mp4"]
        assert "encryption" not in vars(key) and key.encryption is None


def test_a_body_is_deleted_at_once_when_nothing_persists(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path, deferred=False)
    body = blobs.new()
    body.write(b"abc")
    body.seek(0)
    assert body.read() == b"abc"
    body.close()
    blobs.flush()  # a body discarded before its background write: the writer leaves no file
    assert not list(tmp_path.glob("*/*"))


class _HeldWriter:
    """BlobStore's background writes, held until `release()`; `order` records each body written and each snapshot."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.released = threading.Event()
        self.order: list[str] = []
        write_file, write_atomically = BlobStore._write_file, state_module._write_atomically

        def held(store: BlobStore, name: str, data: bytes, replacing: bool) -> None:
            if not replacing:
                assert self.released.wait(30), "the test never released the background writer"
            write_file(store, name, data, replacing)
            self.order.append("body")

        def recorded(path: Path, data: bytes, *args: Any) -> None:
            self.order.append(path.name)
            write_atomically(path, data, *args)

        monkeypatch.setattr(BlobStore, "_write_file", held)
        monkeypatch.setattr(state_module, "_write_atomically", recorded)

    def release(self) -> None:
        self.released.set()


def test_a_new_body_is_served_from_memory_until_the_background_writer_has_written_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = _HeldWriter(monkeypatch)
    blobs = BlobStore(tmp_path, deferred=False)
    body = blobs.new()
    body.write(b"frame bytes")  # returns with the file not written: the writer is held
    assert not body.path.exists()
    body.seek(6)
    assert body.read() == b"bytes" and blobs.unwritten(body.name) == b"frame bytes"
    writer.release()
    blobs.flush()
    assert body.path.read_bytes() == b"frame bytes" and blobs.unwritten(body.name) is None
    body.seek(0)
    assert body.read(5) == b"frame"


def test_a_body_replaced_while_its_first_write_is_queued_ends_up_with_the_new_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = _HeldWriter(monkeypatch)
    blobs = BlobStore(tmp_path, deferred=False)
    body = blobs.new()
    body.write(b"first")
    replacing = threading.Thread(target=lambda: (body.seek(0), body.truncate(), body.write(b"second")))
    replacing.start()  # waits for the first write: written after it, the old bytes would win
    writer.release()
    replacing.join(30)
    assert body.path.read_bytes() == b"second" and blobs.unwritten(body.name) is None


def test_a_body_discarded_before_its_background_write_leaves_no_file(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    writer = _HeldWriter(monkeypatch)
    blobs = BlobStore(tmp_path, deferred=False)
    body = blobs.new()
    body.write(b"gone")
    body.close()  # never waits: moto's FakeKey finalizer calls it
    writer.release()
    blobs.flush()
    assert not list(tmp_path.glob("*/*"))


def test_a_snapshot_is_written_only_once_the_bodies_it_names_are(hooked: StateStore,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    writer = _HeldWriter(monkeypatch)
    s3 = client("s3")
    s3.create_bucket(Bucket="bodies")
    s3.put_object(Bucket="bodies", Key="a.bin", Body=b"x" * 1000)
    saving = threading.Thread(target=hooked.save)
    saving.start()
    saving.join(0.5)  # a save that did not wait for the body would be done by now, its snapshot first
    writer.release()
    saving.join(30)
    assert writer.order[:2] == ["body", "snapshot.pickle"]


def test_a_body_that_could_not_be_written_stays_readable_and_stops_snapshots(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(store: BlobStore, name: str, data: bytes, replacing: bool) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(BlobStore, "_write_file", full_disk)
    blobs = BlobStore(tmp_path, deferred=True)
    body = blobs.new()
    body.write(b"kept in memory")
    with pytest.raises(StateError, match="could not be written"):
        blobs.flush()
    body.seek(0)
    assert body.read() == b"kept in memory"
    body.close()
    blobs.flush()  # discarded: nothing left unwritten


def test_log_events_live_in_a_file_and_expire_by_retention(hooked: StateStore) -> None:
    logs = client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/f")
    logs.put_retention_policy(logGroupName="/aws/lambda/f", retentionInDays=1)
    logs.create_log_stream(logGroupName="/aws/lambda/f", logStreamName="s")
    now = datetime.now(UTC)
    old, new = int((now - timedelta(hours=20)).timestamp() * 1000), int(now.timestamp() * 1000)
    logs.put_log_events(logGroupName="/aws/lambda/f", logStreamName="s",
                        logEvents=[{"timestamp": old, "message": "old"}, {"timestamp": new, "message": "new"}])
    assert len(list(hooked.logs.glob("*.jsonl"))) == 1
    stream = logs.describe_log_streams(logGroupName="/aws/lambda/f")["logStreams"][0]
    assert (stream["firstEventTimestamp"], stream["lastEventTimestamp"]) == (old, new)

    report = Retention(60, 3).sweep(now + timedelta(hours=5))  # the first event is now 25 h old

    assert report.log_events == 1
    events = logs.get_log_events(logGroupName="/aws/lambda/f", logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["new"]


def test_a_restore_cuts_off_log_events_written_after_the_snapshot(tmp_path: Path) -> None:
    events = EventLog(tmp_path, "stream")
    events.path.write_text('[1, 1, 0, "kept"]\n')
    size = events.path.stat().st_size
    events.path.write_text('[1, 1, 0, "kept"]\n[2, 2, 1, "after the snapshot"]\n')
    restored = EventLog(tmp_path, "stream", count=1, first=1, last=1)
    restored.restore(size)
    assert [e.message for e in restored] == ["kept"]


def test_log_event_ids_stay_unique_across_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader of FilterLogEvents tells events apart by eventId (emulator/console/tail.py): an event written after
    a restart must not take the id of one restored from disk."""
    root = tmp_path / "state"
    with _hooked_run(root) as store:
        _put_messages("before 1", "before 2", "before 3")
        store.save()
    monkeypatch.setattr(LogEvent, "_event_id", 0)  # a new process: moto's own counter starts again
    with _hooked_run(root) as store:
        assert store.load()
        _put_messages("after")
        events = client("logs").filter_log_events(logGroupName="/aws/lambda/f")["events"]
    assert [e["message"] for e in events] == ["before 1", "before 2", "before 3", "after"]
    assert len({e["eventId"] for e in events}) == 4


@contextlib.contextmanager
def _hooked_run(root: Path) -> Iterator[StateStore]:
    """One run of the emulator's moto on the state in `root`."""
    store = StateStore(root, persistent=True)
    hooks = StateHooks(store)
    with mock_aws():
        hooks.install()
        try:
            yield store
        finally:
            hooks.uninstall()


def _put_messages(*messages: str) -> None:
    logs = client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/f")["logGroups"]:
        logs.create_log_group(logGroupName="/aws/lambda/f")
        logs.create_log_stream(logGroupName="/aws/lambda/f", logStreamName="s")
    now = int(datetime.now(UTC).timestamp() * 1000)
    logs.put_log_events(logGroupName="/aws/lambda/f", logStreamName="s",
                        logEvents=[{"timestamp": now, "message": message} for message in messages])


def test_a_state_of_another_format_is_refused_not_loaded(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir()
    (root / "FORMAT").write_text('{"format": 0, "moto": "4.0.0", "python": "3.11"}')
    with pytest.raises(StateError, match=r"another version of the emulator.*FRESH=1"):
        StateStore(root, persistent=True)


def test_a_folder_that_is_not_a_state_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir()
    (root / "something.txt").write_text("mine")
    with pytest.raises(StateError, match="not an emulator state"):
        StateStore(root, persistent=True)


def test_a_state_that_does_not_persist_starts_empty(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir()
    (root / "leftover").write_text("x")
    StateStore(root, persistent=False)
    assert not (root / "leftover").exists()


@pytest.mark.parametrize(("written", "days", "expires"), [
    (datetime(2026, 6, 1, 12, 0, tzinfo=UTC), 1, datetime(2026, 6, 3, 0, 0, tzinfo=UTC)),
    (datetime(2026, 6, 1, 0, 0, tzinfo=UTC), 1, datetime(2026, 6, 2, 0, 0, tzinfo=UTC)),
    (datetime(2026, 6, 1, 23, 59, tzinfo=UTC), 7, datetime(2026, 6, 9, 0, 0, tzinfo=UTC)),
])
def test_objects_expire_at_the_midnight_after_their_days_as_s3_rounds(written: datetime, days: int,
                                                                     expires: datetime) -> None:
    assert expiry(written, days) == expires


def test_the_lifecycle_rule_expires_clips_and_frames_only() -> None:
    with mock_aws():
        s3 = client("s3")
        s3.create_bucket(Bucket="media")
        s3.put_bucket_lifecycle_configuration(Bucket="media", LifecycleConfiguration={"Rules": [
            {"ID": p, "Status": "Enabled", "Filter": {"Prefix": p}, "Expiration": {"Days": 1}}
            for p in ("videos/", "frames/")]})
        for key in ("videos/d/1.mp4", "frames/d/1/0.png", "models/current.json"):
            s3.put_object(Bucket="media", Key=key, Body=b"1")
        backend = s3_backends[DEFAULT_ACCOUNT]["aws"]
        assert expire_objects(backend, datetime.now(UTC)) == 0
        assert expire_objects(backend, datetime.now(UTC) + timedelta(days=2)) == 2
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="media")["Contents"]] == ["models/current.json"]


def test_metrics_roll_into_one_statistic_set_per_minute_and_age_out() -> None:
    with mock_aws():
        cloudwatch = client("cloudwatch")
        minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
        data = [{"MetricName": "Duration", "Dimensions": [{"Name": "FunctionName", "Value": "f"}],
                 "Timestamp": minute + timedelta(seconds=s), "Value": float(s), "Unit": "Milliseconds"}
                for s in range(10)]
        cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=data)
        backend = cloudwatch_backends[DEFAULT_ACCOUNT][DEFAULT_REGION]

        def stats() -> dict[str, float]:
            points = cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda", MetricName="Duration", Dimensions=[{"Name": "FunctionName", "Value": "f"}],
                StartTime=minute, EndTime=minute + timedelta(minutes=1), Period=60,
                Statistics=["Sum", "SampleCount", "Minimum", "Maximum"])["Datapoints"]
            return {k: points[0][k] for k in ("Sum", "SampleCount", "Minimum", "Maximum")}

        before = stats()
        rolled, _ = roll_up_metrics(backend, datetime.now(UTC), timedelta(days=3))
        assert (rolled, len(backend.metric_data)) == (10, 1)
        assert stats() == before == {"Sum": 45.0, "SampleCount": 10.0, "Minimum": 0.0, "Maximum": 9.0}
        roll_up_metrics(backend, datetime.now(UTC) + timedelta(days=4), timedelta(days=3))
        assert backend.metric_data == []


def test_receipt_handles_of_deleted_messages_are_forgotten_after_two_sweeps() -> None:
    with mock_aws():
        sqs = client("sqs")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="m")
        handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
        sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
        retention = Retention(60, 3)
        retention.sweep()
        sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)  # a second delete still succeeds
        retention.sweep()
        assert not sqs_backends[DEFAULT_ACCOUNT][DEFAULT_REGION].queues["q"].deleted_messages


def test_log_streams_survive_a_sweep_without_retention(hooked: StateStore) -> None:
    logs = client("logs")
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    now = datetime.now(UTC)
    logs.put_log_events(logGroupName="g", logStreamName="s",
                        logEvents=[{"timestamp": int(now.timestamp() * 1000), "message": "m"}])
    Retention(60, 3).sweep(now + timedelta(days=400))
    assert len(logs_backends[DEFAULT_ACCOUNT][DEFAULT_REGION].groups["g"].streams["s"].events) == 1


def _body_writers() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "s3-body-writer"}


def test_a_body_made_by_a_request_is_written_after_its_response_on_the_request_s_thread(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path, deferred=True)
    writers_before = _body_writers()  # another test's, idle for up to WRITER_IDLE_SECONDS yet
    with after_response.collecting() as left:
        body = blobs.new()
        body.write(b"clip")
        body.seek(0)
        body.truncate()  # moto's value setter again, before the response: the first write has not started
        body.write(b"clip, again")
    assert not body.path.exists() and blobs.unwritten(body.name) == b"clip, again"
    assert not _body_writers() - writers_before
    flushing = threading.Thread(target=blobs.flush)
    flushing.start()
    flushing.join(0.3)
    assert flushing.is_alive()  # a snapshot waits for the bodies left for after a response
    after_response.run(left)
    flushing.join(30)
    assert not flushing.is_alive() and body.path.read_bytes() == b"clip, again"
    assert blobs.unwritten(body.name) is None


def test_a_request_whose_bodies_fill_the_memory_writes_the_next_one_before_its_response(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module, "BACKGROUND_WRITE_BYTES", 10)
    blobs = BlobStore(tmp_path, deferred=True)
    with after_response.collecting() as left:
        first, second = blobs.new(), blobs.new()
        first.write(b"x" * 10)  # room for it: left for after the response
        second.write(b"y" * 10)  # none left: written now, not waited for (the wait would never end)
    assert not first.path.exists() and second.path.read_bytes() == b"y" * 10
    after_response.run(left)
    assert first.path.read_bytes() == b"x" * 10


def test_work_left_for_after_a_response_all_runs_when_one_part_fails(caplog: pytest.LogCaptureFixture) -> None:
    done: list[str] = []

    def broken() -> None:
        raise ValueError("a bug in one task")

    with after_response.collecting() as left:
        after_response.defer(broken)
        after_response.defer(lambda: done.append("written"))
    after_response.run(left)
    assert done == ["written"] and "a bug in one task" in caplog.text
    with pytest.raises(RuntimeError, match="no response"):
        after_response.defer(lambda: None)
