"""Execution environments forked from a snapshot: INIT once, AWS's SnapStart reporting, nothing unique shared."""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from emulator.lambda_runtime import worker_processes
from tests.conftest import RunningEmulator, start_emulator
from tests.emulator.conftest import TRUST, log_messages
from tests.emulator.functions import create_function

pytestmark = pytest.mark.integration


def invoke(lam: Any, name: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def concurrent_answers(lam: Any, name: str, count: int) -> list[dict[str, Any]]:
    """`count` invocations at once, each holding its environment long enough that none is reused."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: invoke(lam, name, {"seconds": 1.0}), range(count)))


def lines_starting(emulator: RunningEmulator, name: str, prefix: str, expected: int) -> list[str]:
    deadline = time.monotonic() + 10
    while True:
        found = [line for line in log_messages(emulator, name) if line.startswith(prefix)]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_init_runs_once_and_each_environment_is_restored_from_it(lam):
    name = create_function(lam, "snapshot")
    answers = concurrent_answers(lam, name, 3)
    assert len({a["pid"] for a in answers}) == 3
    assert len({a["init_token"] for a in answers}) == 1  # one INIT, inherited by every environment
    assert all(a["init_pid"] not in {b["pid"] for b in answers} for a in answers)
    for answer in answers:
        assert answer["hooks"]["before_snapshot"] == [answer["init_pid"]]  # ran once, in the template
        assert answer["hooks"]["after_restore"] == [answer["pid"]]  # ran in this environment only


def test_environments_share_no_randomness_and_no_tmp(lam):
    name = create_function(lam, "snapshot")
    answers = concurrent_answers(lam, name, 3)
    assert len({a["random"] for a in answers}) == 3
    assert all(a["first_in_tmp"] for a in answers)  # each its own /tmp (test_fidelity_environments.py)


def test_snapshot_reporting_follows_aws(lam, emulator):
    name = create_function(lam, "snapshot")
    for _ in range(2):
        invoke(lam, name)
    reports = lines_starting(emulator, name, "REPORT", 2)
    init_reports = lines_starting(emulator, name, "INIT_REPORT", 1)
    assert len(init_reports) == 1 and "Status: success" in init_reports[0]
    assert len(reports) == 2
    assert sum("Restore Duration" in line and "Billed Restore Duration" in line for line in reports) == 1
    assert not any("Init Duration" in line for line in reports)


def test_a_timeout_kills_the_environment_not_the_snapshot(lam, emulator):
    name = create_function(lam, "snapshot", timeout=1)
    first = invoke(lam, name)
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"seconds": 3}).encode())
    assert json.loads(response["Payload"].read())["errorType"] == "Sandbox.Timedout"
    after = invoke(lam, name)
    assert after["init_token"] == first["init_token"] and after["pid"] != first["pid"]
    assert len(lines_starting(emulator, name, "INIT_REPORT", 1)) == 1


def test_a_killed_template_is_rebuilt_and_the_next_event_runs(lam, emulator):
    name = create_function(lam, "snapshot")
    first = invoke(lam, name)
    assert first["pid"] in {w.pid for w in worker_processes(emulator.process.pid)}
    os.kill(first["init_pid"], signal.SIGKILL)  # its environments go with it, as on a lost host
    deadline = time.monotonic() + 10  # only bounds a failure
    while _running(first["pid"]):
        assert time.monotonic() < deadline, "the environment outlived its template"
        time.sleep(0.05)
    after = invoke(lam, name)
    assert after["init_token"] != first["init_token"]
    assert len(lines_starting(emulator, name, "INIT_REPORT", 2)) == 2


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphaned environment is reparented, so its parent says nothing)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_a_failed_init_fails_every_event_with_awss_error_and_logs_it_once(lam, emulator):
    name = create_function(lam, "import_error")
    errors = [json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) for _ in range(2)]
    assert [e["errorType"] for e in errors] == ["Runtime.ImportModuleError"] * 2
    assert "Unable to import module 'app': No module named 'module_that_does_not_exist'" in errors[0]["errorMessage"]
    init_reports = lines_starting(emulator, name, "INIT_REPORT", 1)
    assert len(init_reports) == 1 and "Status: error" in init_reports[0]


def test_spawn_mode_runs_init_in_every_environment(tmp_path):
    emulator = start_emulator(tmp_path, "--no-stack", env={"EMULATOR_COLD_START": "spawn"})
    try:
        emulator.client("iam").create_role(RoleName="test-lambda-role", AssumeRolePolicyDocument=json.dumps(TRUST))
        lam = emulator.client("lambda")
        name = create_function(lam, "snapshot")
        answers = concurrent_answers(lam, name, 2)
        assert len({a["init_token"] for a in answers}) == 2
        assert all(a["init_pid"] == a["pid"] and a["hooks"]["before_snapshot"] == [] for a in answers)
        reports = lines_starting(emulator, name, "REPORT", 2)
        assert sum("Init Duration" in line for line in reports) == 2
        assert not lines_starting(emulator, name, "INIT_REPORT", 0)
    finally:
        emulator.stop()
