"""The emulator listens on loopback only: its config refuses other hosts (unit test in
tests/emulator/test_config.py), the CLI refuses them, and every socket the running emulator and its Lambda
workers listen on is bound to 127.0.0.1 (read from /proc/net/tcp and tcp6)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.lambda_runtime import worker_processes
from tests.conftest import ROOT
from tests.pipeline.conftest import new_device, upload_clip

pytestmark = pytest.mark.integration

LISTEN = "0A"
LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 as /proc/net writes them


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def _listening(inodes: set[str]) -> list[tuple[str, int]]:
    """(hex address, port) of each listening TCP socket among the inodes."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] == LISTEN and fields[9] in inodes:
                found.append((address, int(port, 16)))
    return found


def test_every_socket_the_emulator_and_its_workers_listen_on_is_loopback(emulator, results):
    device = new_device()
    upload_clip(emulator, device, "test_2.mp4")
    assert results.wait_for(device), "the pipeline ran, so workers and their Runtime APIs exist"
    pids = [emulator.process.pid] + [w.pid for w in worker_processes(emulator.process.pid)]
    sockets = _listening(set().union(*(_socket_inodes(pid) for pid in pids)))
    port = int(emulator.endpoint.rsplit(":", 1)[1])
    assert port in {p for _, p in sockets} and len(sockets) > 1  # the API port and the Runtime APIs
    assert [s for s in sockets if s[0] not in LOOPBACK] == []


def test_the_cli_refuses_to_serve_on_a_public_address(tmp_path):
    env = {**os.environ, "EMULATOR_HOST": "0.0.0.0", "EMULATOR_STATE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "emulator", "serve", "--no-stack", "--port", "0"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "binds loopback only" in done.stderr
