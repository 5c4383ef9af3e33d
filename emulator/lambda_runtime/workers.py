"""Execution environments: start one (spawned or forked from a template), hand it invocations, kill it."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from emulator.lambda_runtime.errors import EXIT_ERROR, INIT_ERROR, OUT_OF_MEMORY_ERROR, TIMEOUT_ERROR
from emulator.lambda_runtime.runtime_api import Invocation, RuntimeApi
from emulator.lambda_runtime.snapshot_template import MOUNT_TMP_ENV, MOUNT_TMP_MB_ENV
from emulator.lambda_runtime.spec import TEMPLATE_SCRIPT, FunctionSpec, Runtime, WorkerSettings, new_log_stream
from emulator.lambda_runtime.supervisor import Supervisor

logger = logging.getLogger(__name__)

LogSink = Callable[["Worker", str], None]
_KILL_GRACE_SECONDS = 2.0
_DRAIN_SECONDS = 1.0  # the most an invocation waits for its last output lines: a loaded machine was late at 0.1 s
_MEMORY_CHECK_SECONDS = 0.05  # how often a running event's environment is measured against its MemorySize


def runtime_deadline_ms(deadline: float) -> int:
    """The `Lambda-Runtime-Deadline-Ms` for an exact epoch `deadline` (seconds): the whole millisecond before it.

    A runtime reads the time left as this minus the epoch milliseconds truncated (awslambdaric's
    get_remaining_time_in_millis), which can read up to 1 ms more than is truly left; one millisecond less here
    makes what a handler reads never more than what is left, so a handler that starts within the request's
    arrival millisecond still sees less than its whole Timeout, as on Lambda.
    """
    return int(deadline * 1000) - 1


class OutputPump:
    """Reads a process's output lines on the supervisor's loop; `drain` waits until what it wrote so far has been
    handled.

    An environment prints, then posts its answer: by the time the answer arrives every printed byte is in the
    pipe or already read, so "pipe empty and no chunk being handled" means the log tail is complete.
    """

    def __init__(self, stream: IO[bytes], on_line: Callable[[str], None], supervisor: Supervisor) -> None:
        self._fd = stream.fileno()
        self._stream = stream
        self._on_line = on_line
        self._supervisor = supervisor
        self._partial = b""
        self._handling = threading.Event()
        self._closed = threading.Event()
        supervisor.watch(self._fd, self._read)

    def drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (self._pending_bytes() or self._handling.is_set()) and time.monotonic() < deadline:
            time.sleep(0.001)

    def _pending_bytes(self) -> int:
        if self._closed.is_set():  # its number may belong to another file by now
            return 0
        try:
            return struct.unpack("i", fcntl.ioctl(self._fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        except OSError:  # closed: nothing more will come
            return 0

    def _read(self) -> None:
        """What the pipe holds now (the loop saw it readable, so this does not block); at its end, the last line."""
        try:
            chunk = os.read(self._fd, 65536)
        except OSError as exc:
            logger.warning("output of an environment unreadable (%s): its remaining lines are lost", exc)
            chunk = b""
        if not chunk:
            if self._partial:
                self._on_line(self._partial.decode("utf-8", "replace"))
            self._closed.set()
            self._supervisor.unwatch(self._fd, then=self._stream.close)
            return
        self._handling.set()
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for raw in lines:
            self._on_line(raw.decode("utf-8", "replace"))
        self._handling.clear()


class EnvironmentProcess(Protocol):
    """The part of Popen's interface a Worker uses (a ForkedProcess has it too)."""

    pid: int
    stdout: IO[bytes] | None
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int | None: ...


Launch = Callable[[dict[str, str]], EnvironmentProcess]  # the environment's own variables -> its process


def environment_tmp(folder: Path, private: bool, size_mb: int) -> dict[str, str]:
    """An environment's /tmp: a tmpfs of `size_mb` over `folder`, mounted on /tmp (a private mount namespace), else
    TMPDIR=folder (no size limit: `status` says private /tmp is off)."""
    if not private:
        return {"TMPDIR": str(folder)}
    return {MOUNT_TMP_ENV: str(folder), MOUNT_TMP_MB_ENV: str(size_mb), "TMPDIR": "/tmp"}  # noqa: S108


def spawn_launcher(spec: FunctionSpec, runtime: Runtime) -> Launch:
    """Each environment a new awslambdaric process that runs INIT itself (EMULATOR_COLD_START=spawn)."""

    def launch(env: dict[str, str]) -> EnvironmentProcess:
        return subprocess.Popen(
            [str(runtime.python), str(TEMPLATE_SCRIPT), "--spawn", spec.handler],
            cwd=spec.code_dir,
            env={**runtime.env, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    return launch


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
    restore_duration_ms: float | None = None
    billed_restore_ms: float | None = None
    undelivered: bool = False  # the environment was gone before it took the event: another one may run it

    @property
    def error_type(self) -> str | None:
        return None if self.error is None else str(self.error.get("errorType", "Unhandled"))


class Worker:
    """One execution environment: a runtime process (spawned, or forked from a template) and its own Runtime API."""

    def __init__(self, spec: FunctionSpec, settings: WorkerSettings, log_sink: LogSink, launch: Launch,
                 supervisor: Supervisor, restored: bool = False) -> None:
        self.spec = spec
        self.restored = restored
        self.log_stream = new_log_stream(spec.version)
        self.tmp_dir = settings.tmp_root / f"{spec.name}-{self.log_stream[-12:]}"  # each environment its own /tmp
        self.tmp_dir.mkdir(parents=True)
        self.last_used = time.monotonic()
        self.init_duration_ms: float | None = None
        self.restore_duration_ms: float | None = None
        self.billed_restore_ms: float | None = None
        self._log_sink = log_sink
        self._supervisor = supervisor
        self._api = RuntimeApi(supervisor)
        self._started_at = time.monotonic()
        self._exited = threading.Event()
        self._lock = threading.Lock()
        self._current: Invocation | None = None
        self._transcript: list[str] = []
        self._release_at_exit = False
        try:
            self._process = launch({"AWS_LAMBDA_RUNTIME_API": self._api.address, "AWS_LAMBDA_LOG_STREAM_NAME":
                                    self.log_stream, **environment_tmp(self.tmp_dir, settings.private_tmp,
                                                                     spec.ephemeral_storage_mb)})
        except BaseException:
            self._release()
            raise
        assert self._process.stdout is not None
        self._output = OutputPump(self._process.stdout, self._on_output_line, supervisor)
        supervisor.watch_exit(self._process.pid, self._on_exit)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return not self._exited.is_set()

    def wait_ready(self, timeout: float) -> dict[str, Any] | None:
        """Waits for init (or restore); returns its error, if it failed or took too long."""
        if not self._api.ready.wait(timeout):
            self.kill()
            return {"errorType": INIT_ERROR, "errorMessage": f"Init did not finish within {timeout:.0f} s"}
        if self._api.init_error is not None:
            self.kill()
            return self._api.init_error
        if self._exited.is_set():
            return self._exit_error()
        ready_at = self._api.first_poll_at
        assert ready_at is not None
        if self.restored:
            self.restore_duration_ms = (ready_at - self._started_at) * 1000.0
            self.billed_restore_ms = (ready_at - (self._api.restore_asked_at or ready_at)) * 1000.0
        else:
            self.init_duration_ms = (ready_at - self._started_at) * 1000.0
        return None

    def invoke(self, request_id: str, payload: bytes, accepted_at: float | None = None) -> InvocationResult:
        """Runs one event; kills the process when the function's timeout passes, counted from `accepted_at` (when
        the service took the event; default now), so the handler starts with less than the whole timeout left."""
        timeout = self.spec.timeout_seconds
        accepted_at = accepted_at or time.time()
        invocation = Invocation(request_id, payload, self.spec.arn, runtime_deadline_ms(accepted_at + timeout))
        with self._lock:
            self._current = invocation
            self._transcript = []
        if self._exited.is_set():
            invocation.finish(error=self._exit_error())
        started = time.perf_counter()
        self._api.submit(invocation)
        left = accepted_at + timeout - time.time()
        finished, out_of_memory = self._wait_within_memory(invocation, time.monotonic() + left)
        duration_ms = (time.perf_counter() - started) * 1000.0
        self._output.drain(_DRAIN_SECONDS)
        with self._lock:
            self._current = None
            lines = tuple(self._transcript)
        memory = self._max_memory_mb()
        self.last_used = time.monotonic()
        if out_of_memory:
            error = {"errorType": OUT_OF_MEMORY_ERROR,
                     "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"}
            return InvocationResult(request_id, None, error, duration_ms, None, self.spec.memory_mb, True, lines)
        if not finished:
            self.kill()
            error = {"errorType": TIMEOUT_ERROR, "errorMessage": f"Task timed out after {timeout:.2f} seconds"}
            return InvocationResult(request_id, None, error, duration_ms, None, memory, True, lines)
        lost = self._exited.is_set()
        response, error = invocation.response, invocation.error
        return InvocationResult(request_id, response, error, duration_ms, None, memory, lost, lines,
                                undelivered=lost and not invocation.delivered)

    def _wait_within_memory(self, invocation: Invocation, deadline: float) -> tuple[bool, bool]:
        """Waits for the event until the deadline: (finished, killed for memory). As Lambda does, the environment is
        killed (SIGKILL, no grace) once its resident memory passes the function's MemorySize."""
        while not invocation.done.wait(min(_MEMORY_CHECK_SECONDS, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return False, False
            if self._resident_mb() > self.spec.memory_mb:
                self._signal(signal.SIGKILL)
                self._exited.wait()
                self._release()
                return False, True
        return True, False

    def _resident_mb(self) -> int:
        return _status_field_mb(self._process.pid, "VmRSS:")

    def kill(self) -> None:
        """Stops the process (SIGKILL after a grace period) and its Runtime API; not on the supervisor's loop,
        which reaps the process this waits for."""
        if self._process.poll() is None:
            self._signal(signal.SIGTERM)
            if not self._exited.wait(_KILL_GRACE_SECONDS):
                self._signal(signal.SIGKILL)
        self._exited.wait()
        self._release()

    def end_soon(self) -> None:
        """`kill` for the supervisor's loop, which must not wait: SIGTERM now, SIGKILL after the grace period, the
        Runtime API and /tmp released once the process is reaped."""
        with self._lock:
            exited = self._exited.is_set()
            self._release_at_exit = not exited
        if exited:
            self._release()
            return
        self._signal(signal.SIGTERM)
        self._supervisor.call_later(_KILL_GRACE_SECONDS, self._kill_if_alive)

    def _kill_if_alive(self) -> None:
        if not self._exited.is_set():
            self._signal(signal.SIGKILL)

    def _release(self) -> None:
        self._api.close()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def _signal(self, signum: int) -> None:
        try:
            os.killpg(self._process.pid, signum)
        except ProcessLookupError:  # a fork that has not called setsid yet has no group of its own
            self._signal_process(signum)

    def _signal_process(self, signum: int) -> None:
        try:
            os.kill(self._process.pid, signum)
        except ProcessLookupError:
            logger.debug("environment %s already gone", self._process.pid)

    def _on_output_line(self, line: str) -> None:
        with self._lock:
            self._transcript.append(line)
        self._log_sink(self, line)

    def _on_exit(self) -> None:
        """The supervisor saw the process exit: reaps it, fails the event it was running."""
        self._process.wait()  # the only wait without a timeout: it reaps the process
        with self._lock:
            self._exited.set()
            current, release = self._current, self._release_at_exit
        if current is not None:
            current.finish(error=self._exit_error())
        self._api.ready.set()
        if release:
            self._release()

    def _exit_error(self) -> dict[str, Any]:
        code = self._process.returncode
        reason = f"signal: {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit status {code}"
        return {"errorType": EXIT_ERROR, "errorMessage": f"Runtime exited with error: {reason}"}

    def _max_memory_mb(self) -> int:
        return _status_field_mb(self._process.pid, "VmHWM:")


def _status_field_mb(pid: int, field: str) -> int:
    """A memory figure of /proc/PID/status in MB (0 when the process is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(field):
            return int(line.split()[1]) // 1024
    return 0
