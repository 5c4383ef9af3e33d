"""awslambdaric worker processes: start one, hand it invocations, kill it."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from emulator.errors import EXIT_ERROR, INIT_ERROR, TIMEOUT_ERROR
from emulator.lambda_runtime.runtime_api import Invocation, RuntimeApi

logger = logging.getLogger(__name__)

LogSink = Callable[["Worker", str], None]
_KILL_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker starts from: the environment, the init time limit, where its /tmp lives."""

    base_env: dict[str, str]
    init_timeout: float
    tmp_root: Path


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker needs to know about the function it runs."""

    name: str
    arn: str
    handler: str
    code_dir: Path
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    dead_letter_arn: str | None = None
    code_sha256: str = ""

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


@dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation, with the figures a REPORT line carries."""

    request_id: str
    payload: bytes | None
    error: dict[str, Any] | None
    duration_ms: float
    init_duration_ms: float | None
    max_memory_mb: int
    worker_lost: bool = False
    log_lines: tuple[str, ...] = ()

    @property
    def error_type(self) -> str | None:
        return None if self.error is None else str(self.error.get("errorType", "Unhandled"))


class Worker:
    """One execution environment: an awslambdaric process and its own Runtime API."""

    def __init__(self, spec: FunctionSpec, settings: WorkerSettings, log_sink: LogSink) -> None:
        self.spec = spec
        token = secrets.token_hex(16)
        self.log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{token}"
        self.tmp_dir = settings.tmp_root / f"{spec.name}-{token[:12]}"  # each environment has its own /tmp
        self.tmp_dir.mkdir(parents=True)
        self.last_used = time.monotonic()
        self.init_duration_ms: float | None = None
        self._log_sink = log_sink
        self._api = RuntimeApi()
        self._started_at = time.monotonic()
        self._exited = threading.Event()
        self._lock = threading.Lock()
        self._current: Invocation | None = None
        self._transcript: list[str] = []
        self._process = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", spec.handler],
            cwd=spec.code_dir,
            env=self._environment(settings.base_env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._pump_output, args=(self._process.stdout,), daemon=True).start()
        threading.Thread(target=self._watch_exit, daemon=True).start()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return not self._exited.is_set()

    def wait_ready(self, timeout: float) -> dict[str, Any] | None:
        """Waits for the handler's init; returns the init error, if init failed or took too long."""
        if not self._api.ready.wait(timeout):
            self.kill()
            return {"errorType": INIT_ERROR, "errorMessage": f"Init did not finish within {timeout:.0f} s"}
        if self._api.init_error is not None:
            self.kill()
            return self._api.init_error
        if self._exited.is_set():
            return self._exit_error()
        self.init_duration_ms = (self._api.first_poll_at - self._started_at) * 1000.0  # type: ignore[operator]
        return None

    def invoke(self, request_id: str, payload: bytes) -> InvocationResult:
        """Runs one event; kills the process when the function's timeout passes."""
        timeout = self.spec.timeout_seconds
        deadline_ms = int((time.time() + timeout) * 1000)
        invocation = Invocation(request_id, payload, self.spec.arn, deadline_ms)
        with self._lock:
            self._current = invocation
            self._transcript = []
        if self._exited.is_set():
            invocation.finish(error=self._exit_error())
        started = time.perf_counter()
        self._api.submit(invocation)
        finished = invocation.done.wait(timeout)
        duration_ms = (time.perf_counter() - started) * 1000.0
        with self._lock:
            self._current = None
            lines = tuple(self._transcript)
        memory = self._max_memory_mb()
        self.last_used = time.monotonic()
        if not finished:
            self.kill()
            error = {"errorType": TIMEOUT_ERROR, "errorMessage": f"Task timed out after {timeout:.2f} seconds"}
            return InvocationResult(request_id, None, error, duration_ms, None, memory, True, lines)
        lost = self._exited.is_set()
        response, error = invocation.response, invocation.error
        return InvocationResult(request_id, response, error, duration_ms, None, memory, lost, lines)

    def kill(self) -> None:
        """Stops the process (SIGKILL after a grace period) and its Runtime API."""
        if self._process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self._process.wait(_KILL_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self._process.wait()
        self._exited.wait(_KILL_GRACE_SECONDS)
        self._api.close()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def _signal(self, signum: int) -> None:
        try:
            os.killpg(self._process.pid, signum)
        except ProcessLookupError:
            logger.debug("worker %s already gone", self._process.pid)

    def _environment(self, base_env: dict[str, str]) -> dict[str, str]:
        spec = self.spec
        env = dict(base_env)
        env.update(spec.environment)
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": self._api.address,
                "_HANDLER": spec.handler,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "LAMBDA_RUNTIME_DIR": str(spec.code_dir),
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(spec.code_dir), base_env.get("PYTHONPATH")])),
                "PYTHONUNBUFFERED": "1",
                "TMPDIR": str(self.tmp_dir),
            }
        )
        return env

    def _pump_output(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self._transcript.append(line)
            self._log_sink(self, line)
        stream.close()

    def _watch_exit(self) -> None:
        self._process.wait()
        self._exited.set()
        with self._lock:
            current = self._current
        if current is not None:
            current.finish(error=self._exit_error())
        self._api.ready.set()

    def _exit_error(self) -> dict[str, Any]:
        code = self._process.returncode
        reason = f"signal: {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit status {code}"
        return {"errorType": EXIT_ERROR, "errorMessage": f"Runtime exited with error: {reason}"}

    def _max_memory_mb(self) -> int:
        try:
            status = Path(f"/proc/{self._process.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
        return 0
