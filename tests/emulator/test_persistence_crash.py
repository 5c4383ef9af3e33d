"""State on disk after a SIGKILL under load: the restart finds the last complete snapshot, not a torn one."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.conftest import embedded_only, start_emulator
from tests.emulator.conftest import FAST_SNAPSHOTS

pytestmark = [pytest.mark.integration, embedded_only("kills and restarts the embedded emulator")]


@pytest.mark.slow
def test_sigkill_under_load_leaves_the_last_complete_state(tmp_path: Path) -> None:
    running = start_emulator(tmp_path, "--no-stack", env=FAST_SNAPSHOTS)
    s3, bucket = running.client("s3"), "load"
    s3.create_bucket(Bucket=bucket)
    stop = threading.Event()
    puts: list[int] = []

    def load() -> None:
        while not stop.is_set():
            try:
                s3.put_object(Bucket=bucket, Key=f"load/{len(puts)}.bin", Body=os.urandom(20_000))
            except (BotoCoreError, ClientError):  # the emulator is killed mid-request: the load ends there
                return
            puts.append(len(puts))

    writer = threading.Thread(target=load)
    writer.start()
    while len(puts) < 150:
        stop.wait(0.05)
    os.kill(running.process.pid, signal.SIGKILL)
    running.process.wait()
    stop.set()
    writer.join()

    restarted = start_emulator(tmp_path, "--no-stack", env=FAST_SNAPSHOTS)
    try:
        s3 = restarted.client("s3")
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="load/")
                for o in page.get("Contents", [])]
        assert keys, "the snapshots taken before the kill are there"
        for key in keys:
            assert len(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == 20_000
        s3.put_object(Bucket=bucket, Key="after/restart.bin", Body=b"ok")
    finally:
        restarted.stop()
