"""Start and stop a user can trust: a taken port fails `up` at once with who holds it and leaves no process;
SIGTERM (or `make down`) ends the emulator and every Lambda process, busy ones included."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.config import EmulatorConfig, dummy_session
from emulator.daemon import PID_FILE, free_loopback_port, pid_alive, start_background, stop_background
from emulator.lambda_runtime import worker_processes
from tests.conftest import DUMMY_ENV, ROOT, PortTakenError, RunningEmulator, start_emulator
from tests.emulator.conftest import TRUST
from tests.emulator.functions import create_function


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port this test process listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _emulator(command: str, port: int, state_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **DUMMY_ENV, "EMULATOR_STATE_DIR": str(state_dir)}
    return subprocess.run([sys.executable, "-m", "emulator", command, "--port", str(port), "--no-stack"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", ["up", "serve"])
def test_a_taken_port_fails_at_once_naming_the_process_that_holds_it(
    command: str, taken_port: int, tmp_path: Path
) -> None:
    run = _emulator(command, taken_port, tmp_path)

    assert run.returncode == 1
    assert f"port {taken_port} on 127.0.0.1 is already in use by pid {os.getpid()}" in run.stderr
    assert not (tmp_path / PID_FILE).exists()  # `up` started nothing


def test_a_port_taken_between_choosing_it_and_binding_it_is_chosen_again(
    taken_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite's own emulators: free_loopback_port cannot reserve a port, so a busy machine takes some."""
    ports = iter([taken_port, free_loopback_port()])
    monkeypatch.setattr("tests.conftest.free_loopback_port", lambda: next(ports))
    running = start_emulator(tmp_path, "--no-stack")
    try:
        assert running.endpoint != f"http://127.0.0.1:{taken_port}"
    finally:
        running.stop()
    with pytest.raises(PortTakenError):  # a port the test asked for is not changed
        start_emulator(tmp_path / "asked", "--no-stack", port=taken_port)


def _busy_and_idle_lambda_processes(endpoint: str, emulator_pid: int) -> list[int]:
    """One environment busy for a minute and one idle, with their templates; their pids."""
    session = dummy_session()
    session.client("iam", endpoint_url=endpoint).create_role(RoleName="test-lambda-role",
                                                            AssumeRolePolicyDocument=json.dumps(TRUST))
    lam = session.client("lambda", endpoint_url=endpoint)
    lam.invoke(FunctionName=create_function(lam, "echo"), Payload=b"{}")
    sleeper = create_function(lam, "sleep", timeout=120)
    lam.invoke(FunctionName=sleeper, InvocationType="Event", Payload=json.dumps({"seconds": 60}))
    for _ in range(1000):  # a pause that asks the emulator something, until the environment runs
        if any(p.function == sleeper and p.role == "environment" for p in worker_processes(emulator_pid)):
            break
        lam.get_function(FunctionName=sleeper)
    processes = worker_processes(emulator_pid, include_templates=True)
    assert {p.role for p in processes} == {"environment", "template"}
    return [p.pid for p in processes]


def test_sigterm_ends_the_emulator_and_all_its_lambda_processes(tmp_path: Path) -> None:
    emulator = start_emulator(tmp_path, "--no-stack")
    try:
        lambda_pids = _busy_and_idle_lambda_processes(emulator.endpoint, emulator.process.pid)

        emulator.process.send_signal(signal.SIGTERM)
        code = emulator.process.wait(30)
    finally:
        emulator.stop()

    assert code == 0
    assert [pid for pid in lambda_pids if pid_alive(pid)] == []


def test_down_ends_the_background_emulator_and_all_its_lambda_processes(tmp_path: Path) -> None:
    config = EmulatorConfig(port=free_loopback_port(), state_dir=tmp_path)
    info: dict[str, Any] = start_background(config, ["--no-stack"])
    try:
        lambda_pids = _busy_and_idle_lambda_processes(info["endpoint"], info["pid"])
    finally:
        assert stop_background(config)

    assert not pid_alive(info["pid"])
    assert [pid for pid in lambda_pids if pid_alive(pid)] == []


def test_a_background_emulator_whose_config_does_not_persist_writes_no_snapshot(tmp_path: Path) -> None:
    """The grader's throw-away emulators: their state folder is deleted after, so snapshots would be wasted work."""
    config = EmulatorConfig(port=free_loopback_port(), state_dir=tmp_path, persist=False)
    info: dict[str, Any] = start_background(config, ["--no-stack"])
    try:
        dummy_session(info["region"]).client("s3", endpoint_url=info["endpoint"]).create_bucket(Bucket="kept-nowhere")
    finally:
        assert stop_background(config)

    assert not list(tmp_path.rglob("snapshot.pickle"))


def test_each_stack_function_is_initialised_once_at_start_from_its_local_folder(emulator: RunningEmulator) -> None:
    """The stack's functions run from their folders (hot reload): INIT of the zip the deploy uploaded was thrown
    away (and failed where the zip lacked the folder's packages)."""
    start = emulator.log_path.read_text().split("stack functions initialised")[0]
    reports = [line.split("] INIT_REPORT")[0].rsplit("[", 1)[1] for line in start.splitlines() if "INIT_REPORT" in line]
    assert sorted(reports) == sorted(set(reports)) and reports, start[-3000:]
    assert "Status: error" not in start


STARTS_AND_DIES = """
import os, sys
from pathlib import Path
from emulator.daemon import background_emulator
with background_emulator(Path(sys.argv[1]), ["--no-stack"]) as info:
    print(info["pid"], flush=True)
    os._exit(9)  # killed before it could stop its emulator
"""


def test_a_throw_away_emulator_stops_itself_when_its_caller_dies_without_stopping_it(tmp_path: Path) -> None:
    caller = subprocess.run([sys.executable, "-c", STARTS_AND_DIES, str(tmp_path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={**os.environ, **DUMMY_ENV})
    assert caller.returncode == 9, caller.stderr
    emulator_pid = int(caller.stdout.split()[0])
    try:
        for _ in range(300):  # it notices within a second, then stops (at most STOP_GRACE_SECONDS)
            if not pid_alive(emulator_pid):
                break
            time.sleep(0.1)
        assert not pid_alive(emulator_pid)
        assert "is gone: stopping" in (tmp_path / "emulator.log").read_text()
    finally:
        if pid_alive(emulator_pid):
            os.kill(emulator_pid, signal.SIGKILL)
