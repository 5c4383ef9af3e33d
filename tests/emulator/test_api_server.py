"""The API server: moto's app on loopback with HTTP/1.1 keep-alive, moto's request semantics kept, and a taken
port refused at once, naming who holds it."""

from __future__ import annotations

import http.client
import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.api_server import ApiServer, CachingDispatcher
from emulator.config import dummy_session
from emulator.errors import PortInUseError
from emulator.ports import ensure_port_free


@pytest.fixture(scope="module")
def server() -> Iterator[ApiServer]:
    api = ApiServer("127.0.0.1", 0)
    api.start()
    yield api
    api.stop()


@pytest.fixture
def s3(server: ApiServer) -> Any:
    return dummy_session().client("s3", endpoint_url=f"http://127.0.0.1:{server.port}")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"api-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def test_requests_share_one_kept_alive_connection(server: ApiServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/moto-api/data.json")
    first = connection.getresponse()
    first.read()
    sock = connection.sock
    connection.request("GET", "/moto-api/data.json")
    second = connection.getresponse()
    second.read()

    assert (first.status, second.status) == (200, 200)
    assert first.getheader("Connection") != "close" and first.version == 11
    assert connection.sock is sock  # the second request did not reconnect
    connection.close()


def test_s3_metadata_names_with_underscores_and_odd_keys_arrive_as_sent(s3: Any, bucket: str) -> None:
    key = "videos/pi 1/a+b%2Fc/100%.mp4"
    s3.put_object(Bucket=bucket, Key=key, Body=b"clip", Metadata={"device_id": "pi-1", "captured-at": "now"})

    head = s3.head_object(Bucket=bucket, Key=key)

    assert head["Metadata"] == {"device_id": "pi-1", "captured-at": "now"}
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]


def test_the_dispatcher_answers_moto_s_for_every_host() -> None:
    ours = CachingDispatcher()
    hosts = [None, "moto_api", "s3", "s3.us-east-1.amazonaws.com", "sqs.eu-west-1.amazonaws.com", "example.com"]

    answers = [ours.get_backend_for_host(host) for host in hosts * 2]

    assert answers == [super(CachingDispatcher, ours).get_backend_for_host(host) for host in hosts * 2]


def test_a_taken_port_is_refused_at_once_naming_the_process_that_listens() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        with pytest.raises(PortInUseError, match=rf"port {port} .* in use by pid {os.getpid()} "):
            ApiServer("127.0.0.1", port).start()
        with pytest.raises(PortInUseError, match=rf"pid {os.getpid()} "):
            ensure_port_free("127.0.0.1", port)
