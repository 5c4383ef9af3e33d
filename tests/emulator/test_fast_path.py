"""The fast path answers byte for byte as moto's own path does: the same calls (S3 PUT/GET/HEAD, SQS
send/receive/delete, DynamoDB PutItem/GetItem, a chunked upload, errors), sent once with emulator/aws/fast_path.py
installed and once without it, from the same seeded moto state, give the same status, headers and body.

What may differ, and is masked: the `Date` header (cheroot's clock when it answered), S3's `Last-Modified` (the
second the object was written) and a listed object's LastModified, SQS's SentTimestamp /
ApproximateFirstReceiveTimestamp / CreatedTimestamp / LastModifiedTimestamp and DynamoDB's CreationDateTime (clock
readings when the message was sent, received, the queue or table made); so, in an answer with such a reading,
Content-Length and DynamoDB's x-amz-crc32, which are checked against its body instead.
Request ids and message ids come from moto's random generator, seeded alike for both runs, so they are compared too.
"""

from __future__ import annotations

import gc
import hashlib
import http.client
import io
import json
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cheroot.errors import MaxSizeExceeded
from cheroot.server import HeaderReader, SizeCheckWrapper
from cheroot.workers.threadpool import WorkerThread
from cheroot.wsgi import Gateway_10
from hypothesis import given
from hypothesis import strategies as st
from moto.core.base_backend import BackendDict
from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY
from moto.core.request import EnvironHeaders as MotoEnvironHeaders
from moto.moto_api._internal.moto_random import MotoRandom
from moto.moto_server.werkzeug_app import BackendRequest
from moto.s3.models import FakeKey, S3Backend
from moto.sqs.models import sqs_backends
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import BadRequestKeyError

import emulator.aws.s3 as s3_wing
import emulator.aws.sqs as sqs_wing
from emulator.api_server import ApiServer
from emulator.aws import after_response, core
from emulator.aws.cheroot import (
    HEADERS_READ,
    LINE_READ,
    HotThreadsFirst,
    SocketReader,
    SocketWriter,
    wsgi_environ,
)
from emulator.aws.fast_path import FAST_PATH, RANDOM_STRING, _environ_key, _HeadersListedOnce, _random_string
from emulator.aws.registry import PatchRegistry
from emulator.config import dummy_session
from emulator.state import BlobStore, DiskBody

SEED = 4242
MASKED_HEADERS = {"date", "last-modified"}
TIMESTAMPS = re.compile(rb"(SentTimestamp|ApproximateFirstReceiveTimestamp|CreatedTimestamp|LastModifiedTimestamp"
                        rb"|CreationDateTime)(\W+)[\d.E+]+|(<LastModified)(>)[^<]+")
BODY_DIGESTS: dict[str, Callable[[bytes], int]] = {"content-length": len, "x-amz-crc32": zlib.crc32}
Answer = tuple[int, list[tuple[str, str]], bytes]


@pytest.fixture(scope="module")
def server() -> Iterator[ApiServer]:
    api = ApiServer("127.0.0.1", 0)
    api.start()
    yield api
    api.stop()
    FAST_PATH.install()


def _answers(port: int) -> list[Answer]:
    """Every raw answer to the hot calls, from a freshly reset and seeded moto, on one new kept-alive connection."""
    _moto_api(port, "reset")
    _moto_api(port, f"seed?a={SEED}")
    connection = http.client.HTTPConnection("127.0.0.1", port)
    answers: list[Answer] = []

    def call(method: str, path: str, service: str, body: Any = b"", **headers: str) -> bytes:
        chunked = not isinstance(body, bytes)
        connection.request(method, path, body=body, headers={"Authorization": _auth(service), **headers},
                           encode_chunked=chunked)
        response = connection.getresponse()
        answers.append((response.status, response.getheaders(), response.read()))
        return answers[-1][2]

    try:
        _s3_calls(call)
        _sqs_calls(call)
        _dynamodb_calls(call)
    finally:
        connection.close()
    return answers


def _s3_calls(call: Callable[..., bytes]) -> None:
    call("PUT", "/fast-path", "s3")
    call("PUT", "/fast-path/clips/photo.jpg", "s3", b"\x00\xff" * 25_000, **{"x-amz-meta-device_id": "pi-1",
                                                                            "Content-Type": "image/jpeg"})
    call("GET", "/fast-path/clips/photo.jpg", "s3")
    call("HEAD", "/fast-path/clips/photo.jpg", "s3")
    call("HEAD", "/fast-path/missing", "s3")
    call("GET", "/fast-path/missing", "s3")
    call("PUT", "/fast-path/chunked.bin", "s3", iter([b"a" * 10_000, b"b" * 70_000]))
    call("GET", "/fast-path/chunked.bin", "s3", Range="bytes=9990-10009")
    call("GET", "/fast-path?list-type=2&prefix=clips/", "s3")
    call("GET", "/fast-path/clips/photo.jpg", "s3", Origin="http://localhost:3000")  # flask-cors answers an Origin
    call("DELETE", "/fast-path/chunked.bin", "s3")
    call("HEAD", "/no-such-bucket/key", "s3")


def _sqs_calls(call: Callable[..., bytes]) -> None:
    def sqs(action: str, **fields: Any) -> dict[str, Any]:
        body = call("POST", "/", "sqs", json.dumps(fields).encode(), **{"X-Amz-Target": f"AmazonSQS.{action}",
                                                                         "Content-Type": "application/x-amz-json-1.0"})
        return dict(json.loads(body or b"{}"))

    queue = sqs("CreateQueue", QueueName="fast-path")["QueueUrl"]
    for n in range(3):
        sqs("SendMessage", QueueUrl=queue, MessageBody=f"clip {n}", DelaySeconds=n % 2)
    sqs("GetQueueAttributes", QueueUrl=queue, AttributeNames=["All"])
    received = sqs("ReceiveMessage", QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"])
    for message in received["Messages"]:
        sqs("DeleteMessage", QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    sqs("DeleteMessage", QueueUrl=queue, ReceiptHandle="not-a-handle")
    sqs("SendMessage", QueueUrl=queue + "-missing", MessageBody="lost")
    fifo = sqs("CreateQueue", QueueName="fast-path.fifo",
               Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for body in ("frame", "frame", "other"):  # the second is deduplicated by its content
        sqs("SendMessage", QueueUrl=fifo, MessageBody=body, MessageGroupId="door")
    sqs("SendMessage", QueueUrl=fifo, MessageBody="no group")  # refused: a FIFO message needs its group
    sqs("SendMessageBatch", QueueUrl=fifo, Entries=[
        {"Id": "a", "MessageBody": "batch a", "MessageGroupId": "door"},
        {"Id": "b", "MessageBody": "batch b", "MessageGroupId": "door", "MessageDeduplicationId": "b"}])
    sqs("SendMessageBatch", QueueUrl=queue, Entries=[{"Id": "late", "MessageBody": "x", "DelaySeconds": 901}])
    sqs("GetQueueAttributes", QueueUrl=fifo, AttributeNames=["All"])
    call("POST", "/", "sqs", b"Action=GetQueueUrl&QueueName=fast-path&Version=2012-11-05",  # the query protocol: a form
         **{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})


def _dynamodb_calls(call: Callable[..., bytes]) -> None:
    def dynamodb(action: str, **fields: Any) -> None:
        call("POST", "/", "dynamodb", json.dumps(fields).encode(), **{"X-Amz-Target": f"DynamoDB_20120810.{action}",
                                                                       "Content-Type": "application/x-amz-json-1.0"})

    dynamodb("CreateTable", TableName="fast-path", BillingMode="PAY_PER_REQUEST",
             KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
             AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    dynamodb("PutItem", TableName="fast-path", Item={"id": {"S": "a"}, "n": {"N": "1"}})
    dynamodb("GetItem", TableName="fast-path", Key={"id": {"S": "a"}})
    dynamodb("GetItem", TableName="fast-path", Key={"id": {"S": "nobody"}})
    dynamodb("GetItem", TableName="no-such-table", Key={"id": {"S": "a"}})


def _auth(service: str) -> str:
    return (f"AWS4-HMAC-SHA256 Credential=local-emulator-dummy-key/20260101/us-east-1/{service}/aws4_request, "
            "SignedHeaders=host, Signature=0")


def _moto_api(port: int, action: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    try:
        connection.request("POST", f"/moto-api/{action}")
        response = connection.getresponse()
        assert response.status == 200, response.read()
        response.read()
    finally:
        connection.close()


def _comparable(answers: list[Answer]) -> list[Answer]:
    return [(status, [_header(name, value, body) for name, value in headers if name.lower() not in MASKED_HEADERS],
             _masked(body)) for status, headers, body in answers]


def _masked(body: bytes) -> bytes:
    return TIMESTAMPS.sub(lambda match: b"".join(part for part in match.groups() if part) + b"<ms>", body)


def _header(name: str, value: str, body: bytes) -> tuple[str, str]:
    """A header computed from a body with clock readings in it (its length, DynamoDB's x-amz-crc32): checked
    against the body here, then compared as checked."""
    if not TIMESTAMPS.search(body) or name.lower() not in BODY_DIGESTS:
        return name, value
    assert int(value) == BODY_DIGESTS[name.lower()](body)
    return name, f"<{name} of the body>"


def test_the_fast_path_answers_as_moto_does_byte_for_byte(server: ApiServer) -> None:
    assert FAST_PATH.installed
    fast = _answers(server.port)
    assert server.direct_services == ["dynamodb", "s3", "sqs"]  # answered without Flask's request machinery
    FAST_PATH.uninstall()
    try:
        moto_own = _answers(server.port)
    finally:
        FAST_PATH.install()
    assert len(fast) == len(moto_own) == 36
    assert [status for status, _, _ in fast] == [status for status, _, _ in moto_own]
    assert {404, 400, 206} <= {status for status, _, _ in fast}
    for number, (ours, theirs) in enumerate(zip(_comparable(fast), _comparable(moto_own), strict=True)):
        assert ours == theirs, f"answer {number} differs"


def test_an_empty_message_body_is_refused_on_the_fast_path_as_on_moto_s(server: ApiServer) -> None:
    """emulator/aws/sqs.py refuses it inside moto's send, which the fast path calls too."""
    hooks = PatchRegistry()
    hooks.install(sqs_wing.patches())
    try:
        fast = _empty_body_refusal(server.port)
        assert "sqs" in server.direct_services
        FAST_PATH.uninstall()
        try:
            moto_own = _empty_body_refusal(server.port)
        finally:
            FAST_PATH.install()
    finally:
        hooks.uninstall()
    assert fast == moto_own == (400, "MissingParameter", "The request must contain the parameter MessageBody.")


def _empty_body_refusal(port: int) -> tuple[int, str, str]:
    sqs = dummy_session().client("sqs", endpoint_url=f"http://127.0.0.1:{port}")
    url = sqs.create_queue(QueueName="empty-body")["QueueUrl"]
    with pytest.raises(ClientError) as refused:
        sqs.send_message(QueueUrl=url, MessageBody="")
    answer = refused.value.response
    return answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Code"], answer["Error"]["Message"]


def test_a_header_is_looked_up_as_werkzeug_does_with_its_environ_key_found_once_per_name() -> None:
    environ = {"HTTP_X_AMZ_META_DEVICE_ID": "pi-1", "CONTENT_TYPE": "image/jpeg", "CONTENT_LENGTH": "5"}
    ours, werkzeug_own = _HeadersListedOnce(environ), EnvironHeaders(environ)
    names = ["x-amz-meta-device-id", "X-Amz-Meta-Device_Id", "Content-Type", "content-length", "Host", "missing"]
    for _ in range(2):
        assert [ours.get(n) for n in names] == [werkzeug_own.get(n) for n in names]
        assert [n in ours for n in names] == [n in werkzeug_own for n in names]
    hits = _environ_key.cache_info().hits
    environ["HTTP_HOST"] = "127.0.0.1:4566"  # moto writes a missing Host into the environ: lookups see it
    assert ours["host"] == werkzeug_own["host"] == "127.0.0.1:4566"
    assert _environ_key.cache_info().hits > hits
    with pytest.raises(BadRequestKeyError):
        ours[1]  # type: ignore[index]


def test_an_answered_request_is_freed_at_once_not_left_for_the_cycle_collector(server: ApiServer) -> None:
    """werkzeug's Request stores itself in its environ by default: request and environ then refer to each other,
    so each request of the direct path, with its body, stayed in memory until Python's next full collection
    (issue 25 item 3: the soak's RSS rose with the clip rate). Collected with DEBUG_SAVEALL, what the calls left
    in cycles is kept for inspection instead of freed."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    flags = gc.get_debug()
    gc.collect()
    gc.set_debug(flags | gc.DEBUG_SAVEALL)
    try:
        for method, path, body in (("PUT", "/cycles", b""), ("PUT", "/cycles/frame.png", b"\x89" * 300_000),
                                   ("GET", "/cycles/frame.png", b""), ("DELETE", "/cycles/frame.png", b"")):
            connection.request(method, path, body=body, headers={"Authorization": _auth("s3")})
            assert connection.getresponse().read() is not None
        gc.collect()
        left = [found for found in gc.garbage if isinstance(found, BackendRequest)]
    finally:
        gc.set_debug(flags)
        gc.garbage.clear()
        connection.close()
    assert "s3" in server.direct_services
    assert left == []


def test_the_masks_hide_only_clock_readings() -> None:
    body = b'{"SentTimestamp": "1767225600000", "MessageId": "0f1e"}'
    assert _masked(body) == b'{"SentTimestamp": "<ms>", "MessageId": "0f1e"}'
    listed = b"<Key>a</Key><LastModified>2026-12-04T17:25:53.000Z</LastModified><ETag>"
    assert _masked(listed) == b"<Key>a</Key><LastModified><ms></LastModified><ETag>"
    assert _comparable([(200, [("Date", "x"), ("ETag", '"1"')], b"")]) == [(200, [("ETag", '"1"')], b"")]


def test_the_socket_reader_reads_lines_and_bodies_as_sent() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"b" * 100_000 + b"tail\nrest")
        reader = SocketReader(ours, 8192)
        assert reader.readline() == b"GET / HTTP/1.1\r\n"
        assert reader.readline(4) == b"Host"
        assert reader.readline() == b": x\r\n"
        assert reader.readline() == b"\r\n"
        assert reader.read(100_000) == b"b" * 100_000
        assert reader.has_data()
        assert reader.readline() == b"tail\n"
        theirs.shutdown(socket.SHUT_WR)
        assert reader.read() == b"rest"
        assert reader.read(10) == b"" and not reader.has_data()
        assert reader.bytes_read == len(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") + 100_000 + len(b"tail\nrest")


class _RecordingSocket:
    """A socket that takes at most `most` bytes a sendmsg, recording each call."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.calls: list[str] = []
        self.received = bytearray()

    def sendall(self, data: bytes) -> None:
        self.calls.append("sendall")
        self.received += data

    def sendmsg(self, buffers: list[memoryview]) -> int:
        self.calls.append("sendmsg")
        taken = b"".join(bytes(b) for b in buffers)[:self.most]
        self.received += taken
        return len(taken)


def test_a_gathered_response_leaves_in_one_send_and_whole_when_the_socket_takes_part() -> None:
    whole = _RecordingSocket(most=1 << 30)
    writer = SocketWriter(whole)  # type: ignore[arg-type]
    with writer.gathered():
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        writer.write(b"")
        writer.write(b"hello")
    assert whole.calls == ["sendmsg"] and bytes(whole.received).endswith(b"\r\n\r\nhello")
    writer.write(b"after")  # outside the block: sent at once
    assert whole.calls == ["sendmsg", "sendall"] and writer.bytes_written == 38 + 5 + 5

    part = _RecordingSocket(most=7)
    writer = SocketWriter(part)  # type: ignore[arg-type]
    with writer.gathered():
        writer.write(b"head:")
        writer.write(b"0123456789" * 3)
    assert bytes(part.received) == b"head:" + b"0123456789" * 3 and len(part.calls) == 5


def test_a_kept_alive_connection_s_next_request_goes_straight_to_a_worker() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        reader = SocketReader(ours, 8192)
        assert not reader.has_data()  # nothing within the wait: the connection goes to cheroot's selector
        theirs.sendall(b"GET / HTTP/1.1\r\n")
        assert reader.has_data()


def test_a_new_s3_body_is_written_once_in_place_and_a_written_one_is_replaced_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blobs = BlobStore(tmp_path, deferred=False)
    writes: list[tuple[bytes, bool]] = []
    original_write = BlobStore.write
    monkeypatch.setattr(BlobStore, "write", lambda self, name, data, replacing=True: (
        writes.append((data, replacing)), original_write(self, name, data, replacing))[1])
    body = blobs.new()
    body.seek(0)
    body.truncate()  # moto's value setter: seek, truncate, write
    body.write(b"frame")
    assert writes == [(b"frame", False)]
    body.seek(0)
    body.truncate()
    assert body.read() == b""
    assert writes == [(b"frame", False), (b"", True)]
    restored = DiskBody(blobs, body.name)  # a body named by a snapshot: its file exists
    restored.seek(0)
    restored.truncate()
    restored.write(b"again")
    assert writes[2:] == [(b"", True), (b"again", True)]
    assert restored.read() == b"" and body.path.read_bytes() == b"again"
    assert [path.name for path in body.path.parent.iterdir()] == [body.name]  # no staging file left behind


def test_an_s3_object_s_etag_is_moto_s_md5_without_reading_the_body_back(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    patches = PatchRegistry()
    # untracked too, as in the emulator: moto's dashboard would otherwise list these keys after their folder is gone
    patches.install([*core.state_patches(), *s3_wing.state_patches(BlobStore(tmp_path, deferred=False))])
    try:
        monkeypatch.setattr(DiskBody, "read", lambda self, size=-1: pytest.fail("the body was read back"))
        key = FakeKey("clip.jpg", b"frame" * 1000, account_id="123456789012", region_name="us-east-1")
        assert key.etag == f'"{hashlib.md5(b"frame" * 1000).hexdigest()}"'
        given = FakeKey("part.bin", b"x", account_id="123456789012", region_name="us-east-1", etag="abc-2")
        assert given.etag == '"abc-2"'
    finally:
        patches.uninstall()


def test_a_request_thread_takes_the_connection_it_puts_back_itself() -> None:
    pool_queue = HotThreadsFirst()
    idle = threading.Thread(target=pool_queue.get, daemon=True)
    idle.start()
    while pool_queue.idle != 1:
        time.sleep(0.001)
    taken: list[str] = []
    worker = _RequestThread(lambda: (pool_queue.put("next request"), taken.append(pool_queue.get())))
    worker.start()
    worker.join(5)
    assert taken == ["next request"] and pool_queue.idle == 1  # the idle thread was not woken
    pool_queue.put("stop")
    idle.join(5)
    assert not idle.is_alive()


class _RequestThread(WorkerThread):
    """A thread of cheroot's pool, running `target` instead of cheroot's loop."""

    def __init__(self, target: Callable[[], object]) -> None:
        threading.Thread.__init__(self, target=target, daemon=True)

    def run(self) -> None:
        threading.Thread.run(self)


def test_work_a_request_leaves_runs_on_its_thread_once_its_response_is_sent(server: ApiServer,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    threads: list[threading.Thread] = []
    sent = SocketWriter.write

    def recorded_send(writer: SocketWriter, data: bytes) -> int:
        events.append("sent")
        return sent(writer, data)

    def left_by_the_request(original: Callable[..., Any]) -> Callable[..., Any]:
        def create_bucket(*args: Any, **kwargs: Any) -> Any:
            after_response.defer(lambda: (events.append("left work"), threads.append(threading.current_thread())))
            return original(*args, **kwargs)
        return create_bucket

    monkeypatch.setattr(SocketWriter, "write", recorded_send)
    monkeypatch.setattr(S3Backend, "create_bucket", left_by_the_request(S3Backend.create_bucket))
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    try:
        connection.request("PUT", "/left-work", headers={"Authorization": _auth("s3")})
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    deadline = time.monotonic() + 30
    while "left work" not in events and time.monotonic() < deadline:
        time.sleep(0.01)
    assert events == ["sent", "left work"] and isinstance(threads[0], WorkerThread)


@given(seed=st.integers(0, 2**32), length=st.integers(0, 80), include_digits=st.booleans(), lower_case=st.booleans())
def test_a_random_string_is_moto_s_for_the_same_generator_state(seed: int, length: int, include_digits: bool,
                                                                lower_case: bool) -> None:
    theirs, ours = MotoRandom(), MotoRandom()
    theirs.seed(seed)
    ours.seed(seed)
    moto_s = RANDOM_STRING.current()(theirs, length, include_digits, lower_case)
    assert _random_string(ours, length, include_digits, lower_case) == moto_s
    assert ours.getrandbits(32) == theirs.getrandbits(32)  # the generator left in the same state


def test_an_account_s_backend_is_moto_s_whether_it_existed_or_not() -> None:
    FAST_PATH.install()
    made = sqs_backends["210987654321"]  # a new account: made by moto, the dict listed as in use
    try:
        assert sqs_backends["210987654321"] is made and sqs_backends in BackendDict._instances
        del sqs_backends["210987654321"]  # gone (as after a reset): the next lookup makes it again
        assert sqs_backends["210987654321"] is not made
    finally:
        sqs_backends.pop("210987654321", None)


@given(lines=st.lists(st.binary(max_size=600).map(lambda line: line.replace(b"\n", b"") + b"\r\n"), max_size=6),
       tail=st.binary(max_size=40).map(lambda rest: rest.replace(b"\n", b"")), limit=st.sampled_from([0, 64, 300, 900]))
def test_a_header_line_read_whole_is_cheroot_s_line_or_its_size_error(lines: list[bytes], tail: bytes,
                                                                      limit: int) -> None:
    sent = b"".join(lines) + tail  # then the peer closes: a last line without its LF

    def read_all(readline: Callable[[SizeCheckWrapper], bytes]) -> tuple[list[bytes], str]:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            theirs.sendall(sent)
            theirs.shutdown(socket.SHUT_WR)
            wrapper, got = SizeCheckWrapper(SocketReader(ours, 8192), limit), []
            try:
                while line := readline(wrapper):
                    got.append(line)
            except MaxSizeExceeded:
                return got, "too large"
            return got, "end"

    FAST_PATH.install()
    assert read_all(SizeCheckWrapper.readline) == read_all(LINE_READ.current())


HEADER_NAME = st.sampled_from([b"Host", b"accept", b"Accept-Encoding", b" x-amz-target ", b"Cache-Control"])
HEADER_LINE = st.one_of(
    st.tuples(HEADER_NAME | st.binary(max_size=12), st.binary(max_size=40)).map(lambda pair: pair[0] + b":" + pair[1]),
    st.binary(max_size=30).map(lambda value: b" " + value),  # a continuation
    st.binary(max_size=30))  # maybe no colon, maybe a bare LF


@given(lines=st.lists(HEADER_LINE, max_size=8), body=st.binary(max_size=20), whole=st.booleans(),
       limit=st.sampled_from([0, 17, 18, 19, 40, 120, 900]))
def test_a_header_block_read_whole_is_cheroot_s_headers_or_its_error(lines: list[bytes], body: bytes, whole: bool,
                                                                     limit: int) -> None:
    sent = b"GET / HTTP/1.1\r\n" + b"".join(line.replace(b"\r\n", b"") + b"\r\n" for line in lines) + b"\r\n" + body

    def read(header_reader: Callable[..., dict[bytes, bytes]]) -> tuple[object, ...]:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            theirs.sendall(sent if whole else sent[:len(sent) // 2])  # half: the block is still arriving
            if not whole:
                theirs.sendall(sent[len(sent) // 2:])
            theirs.shutdown(socket.SHUT_WR)
            reader = SocketReader(ours, 8192)
            wrapper = SizeCheckWrapper(reader, limit)
            wrapper.readline()
            try:
                headers = header_reader(HeaderReader(), wrapper, {})
            except Exception as error:  # noqa: BLE001  (cheroot's errors, its UnboundLocalError for a first continuation)
                return type(error), str(error)
            return headers, wrapper.bytes_read, reader.read()

    FAST_PATH.install()
    assert read(HeaderReader.__call__) == read(HEADERS_READ.current())


@given(headers=st.dictionaries(st.text("abcXYZ-_", min_size=1, max_size=14).map(str.encode) | HEADER_NAME,
                               st.binary(max_size=20), max_size=8),
       method=st.sampled_from([b"GET", b"PUT"]), query=st.binary(max_size=10), port=st.integers(1, 65535))
def test_a_request_s_environ_is_cheroot_s(headers: dict[bytes, bytes], method: bytes, query: bytes, port: int) -> None:
    server = SimpleNamespace(protocol="HTTP/1.1", server_name="localhost", software="Cheroot/11",
                             bind_addr=("::1", port))
    request = SimpleNamespace(server=server, conn=SimpleNamespace(remote_addr="::1", remote_port=40000, ssl_env={}),
                              path=b"/b/k", qs=query, method=method, uri=b"/b/k?" + query, request_protocol=b"HTTP/1.1",
                              rfile=io.BytesIO(), chunked_read=False, scheme=b"http", inheaders=headers)
    gateway = Gateway_10.__new__(Gateway_10)
    gateway.req = request
    assert list(wsgi_environ(gateway).items()) == list(Gateway_10.get_environ(gateway).items())


@given(headers=st.dictionaries(st.sampled_from(["HTTP_HOST", "HTTP_X_AMZ_META_DEVICE_ID", "HTTP_X_AMZ_TARGET",
                                                "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "CONTENT_TYPE",
                                                "CONTENT_LENGTH", "HTTP_", "HTTP_x_lower", "PATH_INFO",
                                                "wsgi.url_scheme", "REQUEST_METHOD"]),
                               st.sampled_from(["", "pi-1", "application/json", "5"])),
       preserve=st.booleans())
def test_headers_are_listed_as_moto_lists_them(headers: dict[str, str], preserve: bool) -> None:
    environ: dict[str, Any] = dict(headers)
    if preserve:
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = {"HTTP_X_AMZ_META_DEVICE_ID": "x-amz-meta-device_id"}
    assert list(_HeadersListedOnce(environ)) == list(MotoEnvironHeaders(environ))
