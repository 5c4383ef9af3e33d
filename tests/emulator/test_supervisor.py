"""The Lambda service's supervisor loop (issue 20): one thread reads every environment's output, reaps what exits,
runs the timers (idle reaping among them) and ends once nothing is left to watch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from emulator.config import dummy_session
from emulator.lambda_runtime import (
    EmulatorError,
    FunctionSpec,
    LambdaService,
    LambdaSettings,
    LogShipper,
    MetricsPublisher,
    Telemetry,
    worker_processes,
)
from emulator.lambda_runtime.supervisor import Supervisor
from emulator.lambda_runtime.workers import OutputPump

WAIT_SECONDS = 10.0


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    loop = Supervisor("test-supervisor")
    yield loop
    loop.stop()
    assert loop.join(WAIT_SECONDS)


def test_output_lines_are_read_and_the_last_one_needs_no_newline(supervisor: Supervisor) -> None:
    lines: list[str] = []
    ended = threading.Event()
    process = subprocess.Popen([sys.executable, "-c", "print('one'); print('two', end='')"], stdout=subprocess.PIPE)
    assert process.stdout is not None
    OutputPump(process.stdout, lines.append, supervisor)
    supervisor.watch_exit(process.pid, ended.set)
    assert ended.wait(WAIT_SECONDS)
    assert process.wait(WAIT_SECONDS) == 0
    _wait_until(lambda: lines == ["one", "two"])


def test_a_killed_process_is_reported_and_reaped(supervisor: Supervisor) -> None:
    codes: list[int | None] = []
    ended = threading.Event()
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    supervisor.watch_exit(process.pid, lambda: (codes.append(process.wait()), ended.set()))
    os.kill(process.pid, signal.SIGKILL)
    assert ended.wait(WAIT_SECONDS)
    assert codes == [-signal.SIGKILL]


def test_timers_run_in_order_and_a_cancelled_one_not_at_all(supervisor: Supervisor) -> None:
    ran: list[str] = []
    done = threading.Event()
    supervisor.call_later(0.2, lambda: (ran.append("late"), done.set()))
    supervisor.call_later(0.05, lambda: ran.append("early"))
    supervisor.call_later(0.1, lambda: ran.append("cancelled")).cancel()
    assert done.wait(WAIT_SECONDS)
    assert ran == ["early", "late"]


def test_a_failing_callback_leaves_the_loop_running(supervisor: Supervisor) -> None:
    ticks: list[float] = []

    def fail() -> None:
        raise ValueError("a bug in one callback")

    supervisor.call_soon(fail)
    supervisor.every(0.05, lambda: ticks.append(time.monotonic()))
    _wait_until(lambda: len(ticks) >= 3)


def test_the_loop_ends_only_once_nothing_is_watched() -> None:
    loop = Supervisor("test-supervisor")
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    loop.watch_exit(process.pid, process.wait)
    loop.stop()
    assert not loop.join(0.3)
    process.kill()
    assert loop.join(WAIT_SECONDS)
    assert process.returncode == -signal.SIGKILL
    with pytest.raises(EmulatorError, match="stopped"):
        loop.call_soon(lambda: None)


@pytest.mark.parametrize("cold_start", ["fork", "spawn"])
def test_idle_environments_are_reaped_and_stop_ends_the_loop(tmp_path: Path, moto_endpoint: str,
                                                             cold_start: str) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return event\n")
    spec = FunctionSpec("idle-fn", "arn:aws:lambda:us-east-1:123456789012:function:idle-fn", "app.handler", code,
                        timeout_seconds=10, memory_mb=128)
    session = dummy_session()
    logs, cloudwatch = (session.client(s, endpoint_url=moto_endpoint) for s in ("logs", "cloudwatch"))
    telemetry = Telemetry(LogShipper(lambda account: logs), MetricsPublisher(lambda account: cloudwatch))
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_endpoint}
    settings = LambdaSettings(base_env=env, tmp_root=tmp_path / "tmp", init_timeout_seconds=30, cold_start=cold_start,
                              builder=None, function_env_days=14, account_concurrency=2, async_retry_delays=(0, 0),
                              max_event_age_seconds=60, worker_idle_seconds=0.5)
    service = LambdaService(settings, telemetry, lambda name: spec)
    try:
        result = service.invoke(spec.name, b'{"a": 1}')
        assert result.error is None and result.payload == b'{"a": 1}'
        assert service.worker_counts() == {spec.name: 1}
        [environment] = worker_processes(os.getpid())
        _wait_until(lambda: service.worker_counts() == {spec.name: 0})
        _wait_until(lambda: worker_processes(os.getpid()) == [])
        _wait_until(lambda: not Path(f"/proc/{environment.pid}").exists())  # reaped, not left a zombie
        _wait_until(lambda: [p for p in (tmp_path / "tmp").iterdir() if "template" not in p.name] == [])  # its /tmp
    finally:
        service.stop()
        telemetry.logs.close()
        telemetry.metrics.close()
    _wait_until(lambda: "lambda-supervisor" not in {thread.name for thread in threading.enumerate()})


def _wait_until(condition: Callable[[], bool], timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
