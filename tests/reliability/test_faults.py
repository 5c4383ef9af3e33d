"""Faults: a worker killed mid-invocation, the cloud restarted while the device records, the results consumer
killed, connections dropped. Nothing is lost; at most, something is delivered twice and deduplicated."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError

from contract import CLIENT_CONFIG
from device import (
    ClientConfig,
    ConsumerConfig,
    FileCamera,
    RecordConfig,
    Recorder,
    ResultsConsumer,
    UploadConfig,
    Uploader,
)
from device.config import make_client
from emulator.config import dummy_session
from emulator.daemon import free_loopback_port
from emulator.lambda_runtime import worker_processes
from tests.conftest import DUMMY_ENV, FIXTURES, ROOT, start_emulator
from tests.pipeline.conftest import ResultCollector, new_device, put_frame, upload_clip
from tests.reliability.conftest import FIVE, GOOD_VIDEO, LogTail, collage, png, wait_for_results

pytestmark = pytest.mark.integration



def test_a_worker_killed_mid_invocation_is_retried_and_each_face_answered_once(emulator, results, face_crops):
    function = emulator.outputs["FaceClassifierFunction"]
    device = new_device()
    log = LogTail(emulator.log_path)
    key = put_frame(emulator, device, png(collage([face_crops[p] for p in FIVE])))
    assert log.wait_for(f"[{function}] START RequestId")
    victims = [w.pid for w in worker_processes(emulator.process.pid) if w.function == function]
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    assert log.wait_for("Runtime exited with error: signal: SIGKILL")
    found = wait_for_results(results, device, "frame_key", key, count=5)
    time.sleep(2)  # a duplicate, if FIFO deduplication let one through, would be here by now
    found = wait_for_results(results, device, "frame_key", key, timeout=0)
    assert sorted(r["face_index"] for r in found) == [0, 1, 2, 3, 4]
    assert victims and not set(victims) & {w.pid for w in worker_processes(emulator.process.pid)}


def _until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _clip_keys(emulator, device):
    listing = emulator.client("s3").list_objects_v2(Bucket=emulator.outputs["VideosBucket"], Prefix=f"videos/{device}/")
    return {o["Key"] for o in listing.get("Contents", [])}


CLIPS_IN_THE_OUTAGE = 3


@pytest.mark.slow
def test_the_device_spool_keeps_every_clip_across_an_emulator_restart(emulator, tmp_path, monkeypatch):
    port, device, bucket = free_loopback_port(), new_device(), emulator.outputs["VideosBucket"]
    with contextlib.ExitStack() as cleanup:
        before = start_emulator(tmp_path / "before", "--no-stack", port=port)
        cleanup.callback(before.stop)
        before.client("s3").create_bucket(Bucket=bucket)
        for name, value in {**DUMMY_ENV, "AWS_ENDPOINT_URL": before.endpoint}.items():
            monkeypatch.setenv(name, value)
        recorded, uploaded = [], []
        uploader = Uploader(make_client("s3", ClientConfig(max_attempts=1, connect_timeout=0.5)), bucket, device,
                            tmp_path / "spool", UploadConfig(backoff_initial=0.1, backoff_max=0.5, poll_interval=0.1,
                                                             drain_timeout=120), uploaded.append)
        camera = FileCamera(FIXTURES / "videos" / GOOD_VIDEO, max_width=640)
        cleanup.callback(camera.close)
        recorder = Recorder(camera, uploader, RecordConfig(clip_seconds=0.5),
                            on_clip=lambda info, key: recorded.append(key))
        recording = threading.Thread(target=recorder.run)
        recording.start()
        cleanup.callback(recording.join, 30)
        cleanup.callback(recorder.stop)
        _until(lambda: len(uploaded) >= 2, 90, "the first uploads")
        before.stop()  # the cloud goes away while the device keeps recording
        recorded_before_the_outage = len(recorded)
        _until(lambda: len(recorded) >= recorded_before_the_outage + CLIPS_IN_THE_OUTAGE, 30, "clips in the outage")
        recorder.stop()  # a bounded backlog, however long the restart takes; the stopping device drains its spool
        after = start_emulator(tmp_path / "after", port=port, env={"EMULATOR_LAMBDA_CONCURRENCY": "2"})
        cleanup.callback(after.stop)
        backlog = set(recorded)
        _until(lambda: backlog <= {c.key for c in uploaded}, 90, "the spool to drain")
        recording.join(30)
        collector = ResultCollector(after.client("sqs"), after.outputs["ResultsQueueUrl"])
        cleanup.callback(collector.stop)
        after_restart = _clip_keys(after, device)
        answered = collector.wait_for(device, count=len(after_restart), timeout=90)
    assert sorted(c.key for c in uploaded) == sorted(recorded) and uploader.pending() == []
    assert backlog & after_restart, "no clip recorded while the cloud was down was uploaded after the restart"
    assert {r["clip_key"] for r in answered} == after_restart


def _queued(sqs, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_killed_results_consumer_loses_no_result(emulator, results):
    sqs, queue_url = emulator.client("sqs"), emulator.outputs["ResultsQueueUrl"]
    device = new_device()
    with results.paused():
        clips = [upload_clip(emulator, device, GOOD_VIDEO) for _ in range(6)]
        _until(lambda: _queued(sqs, queue_url) >= len(clips), 60, "the results to queue up")
        killed = subprocess.Popen(
            [sys.executable, "-m", "device", "results", "--threads", "1", "--wait-time", "1",
             "--visibility-timeout", "2"], cwd=ROOT, env={**emulator.env(), "RESULTS_QUEUE_URL": queue_url},
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        printed = [next(line for line in iter(killed.stdout.readline, "") if device in line)]
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        printed += [line for line in killed.stdout if device in line]  # printed (then deleted) before the kill landed
        killed.stdout.close()
        survivor = ResultsConsumer(queue_url, 2, config=ConsumerConfig(wait_time_seconds=1, idle_timeout=4),
                                   sqs=sqs)
        survivor.run()
    redelivered = [(r, d) for r, d in survivor.results() if r.device_id == device]
    seen = {key for key in clips if any(key.split("/")[-1][11:23] in line for line in printed)}
    seen |= {r.clip_key for r, _ in redelivered}
    assert printed and seen == set(clips)
    assert any(d.receive_count >= 2 for _, d in redelivered)


class DroppingProxy:
    """A loopback TCP proxy to `target` that closes the first `drops` connections it accepts."""

    def __init__(self, target: str, drops: int) -> None:
        host, port = target.removeprefix("http://").rsplit(":", 1)
        self._target = (host, int(port))
        self._drops = drops
        self.accepted = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self._server.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self._drops:
                client.close()
                continue
            upstream = socket.create_connection(self._target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with source, sink:
        while data := _recv(source):
            sink.sendall(data)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


CLIENT_CONFIGS = {
    "both Lambdas (contract)": CLIENT_CONFIG,
    "device": ClientConfig().botocore(),
}


def _client(service: str, endpoint: str, config: Config):
    return dummy_session().client(service, endpoint_url=endpoint, config=config)


@pytest.mark.parametrize("owner", CLIENT_CONFIGS)
def test_dropped_connections_are_absorbed_by_botocore_standard_retries(emulator, owner):
    config = CLIENT_CONFIGS[owner]
    assert config.retries["mode"] == "standard"
    for service, call in (("s3", lambda c: c.put_object(Bucket=emulator.outputs["VideosBucket"], Key="t/x", Body=b"x")),
                          ("sqs", lambda c: c.get_queue_url(QueueName=emulator.outputs["ResultsQueueUrl"]
                                                            .rsplit("/", 1)[1]))):
        proxy = DroppingProxy(emulator.endpoint, drops=2)
        try:
            call(_client(service, proxy.url, config))
        finally:
            proxy.close()
        assert proxy.accepted == 3


def test_without_retries_a_dropped_connection_is_an_error(emulator):
    proxy = DroppingProxy(emulator.endpoint, drops=1)
    client = _client("s3", proxy.url, Config(retries={"mode": "standard", "total_max_attempts": 1}))
    try:
        with pytest.raises(ConnectionClosedError):
            client.put_object(Bucket=emulator.outputs["VideosBucket"], Key="t/y", Body=b"y")
    finally:
        proxy.close()
