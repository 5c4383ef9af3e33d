"""Execution environments from a snapshot: one process per function version runs INIT once and forks the rest."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from emulator.lambda_runtime.errors import INIT_ERROR
from emulator.lambda_runtime.snapshot_template import CONTROL_FD_ENV, MOUNT_KEEP_ENV, MOUNT_LOWER_ENV
from emulator.lambda_runtime.spec import TEMPLATE_SCRIPT, FunctionSpec, Runtime, WorkerSettings, new_log_stream
from emulator.lambda_runtime.supervisor import Supervisor
from emulator.lambda_runtime.workers import OutputPump, environment_tmp

_REPLY_BYTES = 1 << 16
_EXIT_GRACE_SECONDS = 2.0

LineSink = Callable[[str, str], None]  # (log stream, line)


class TemplateLostError(RuntimeError):
    """The template process is gone: it cannot fork environments any more."""


class Template:
    """One function version's INIT, done once, in a process that forks execution environments on request."""

    def __init__(self, spec: FunctionSpec, settings: WorkerSettings, runtime: Runtime, sink: LineSink,
                 supervisor: Supervisor) -> None:
        self.spec = spec
        self._private_tmp = settings.private_tmp
        self.log_stream = new_log_stream(spec.version)
        self.tmp_dir = settings.tmp_root / f"{spec.name}-template-{self.log_stream[-12:]}"
        self.tmp_dir.mkdir(parents=True)
        self.init_duration_ms: float | None = None
        self.init_error: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {**runtime.env, **environment_tmp(self.tmp_dir, settings.private_tmp, spec.ephemeral_storage_mb),
               CONTROL_FD_ENV: str(theirs.fileno()), "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
               "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
               "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9"}  # never called: each fork gets its own
        self._keep = {k: v for k, v in env.items() if k == MOUNT_KEEP_ENV}
        self._started_at = time.monotonic()
        self._process = subprocess.Popen(
            [str(runtime.python), str(TEMPLATE_SCRIPT), spec.handler], cwd=spec.code_dir, env=env,
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        theirs.close()
        assert self._process.stdout is not None
        OutputPump(self._process.stdout, lambda line: sink(self.log_stream, line), supervisor)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def wait_ready(self, timeout: float) -> dict[str, Any] | None:
        """Waits for INIT; returns its error (import failure, hook failure, time limit), None when ready."""
        self._control.settimeout(timeout)
        try:
            reply = self._receive()
        except TimeoutError:  # closed, so no settimeout below: on a closed socket it raised EBADF
            self.close()
            reply = {"init_error": {"errorType": INIT_ERROR, "errorMessage": f"Init did not finish within "
                                    f"{timeout:.0f} s"}}
        except TemplateLostError:
            reply = {"init_error": {"errorType": INIT_ERROR, "errorMessage": "Runtime exited during INIT "
                                    f"with {_describe_exit(self._process.wait())}"}}
        else:
            self._control.settimeout(None)
        self.init_duration_ms = (time.monotonic() - self._started_at) * 1000.0
        self.init_error = reply.get("init_error")
        return self.init_error

    def fork(self, env: dict[str, str]) -> ForkedProcess:
        """A new execution environment: a copy-on-write child of this template with its own env and output."""
        if self._private_tmp:  # the environment's /tmp: an overlay on what INIT left in the template's
            env = {**env, **self._keep, MOUNT_LOWER_ENV: str(self.tmp_dir)}
        read_end, write_end = os.pipe()
        try:
            with self._lock:
                self._request({"op": "fork", "env": env}, write_end)
                pid = int(self._receive()["pid"])
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        return ForkedProcess(pid, os.fdopen(read_end, "rb"), self)

    def reap(self, pid: int) -> int | None:
        """The exit code of an environment that has exited; None when the template went first."""
        try:
            with self._lock:
                self._request({"op": "reap", "pid": pid})
                return int(self._receive()["exit_code"])
        except TemplateLostError:
            return None

    def close(self) -> None:
        """Ends the template; environments forked from it end with it (as they would on the same host)."""
        self._control.close()
        try:
            self._process.wait(_EXIT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _kill_group(self._process.pid, signal.SIGKILL)
            self._process.wait()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def _request(self, message: dict[str, Any], fd: int | None = None) -> None:
        try:
            socket.send_fds(self._control, [json.dumps(message).encode()], [] if fd is None else [fd])
        except OSError as exc:
            raise TemplateLostError(f"template of {self.spec.name} is gone: {exc}") from exc

    def _receive(self) -> dict[str, Any]:
        try:
            data = self._control.recv(_REPLY_BYTES)
        except TimeoutError:
            raise
        except OSError as exc:
            raise TemplateLostError(f"template of {self.spec.name} is gone: {exc}") from exc
        if not data:
            raise TemplateLostError(f"template of {self.spec.name} exited")
        return json.loads(data)


class ForkedProcess:
    """An execution environment forked from a template, with the part of Popen's interface a Worker uses.

    Only one thread (the worker's exit watcher) blocks in `wait()` without a timeout; it reaps the process
    through the template and releases the others.
    """

    def __init__(self, pid: int, stdout: IO[bytes], template: Template) -> None:
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None
        self._template = template
        self._pidfd = os.pidfd_open(pid)
        self._exited = threading.Event()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once the environment has exited (negative for a signal); None if timeout passes first."""
        if timeout is not None:
            self._exited.wait(timeout)
            return self.returncode
        select.select([self._pidfd], [], [])
        code = self._template.reap(self.pid)
        os.close(self._pidfd)
        self.returncode = -signal.SIGKILL if code is None else code  # no template left to ask: it took us along
        self._exited.set()
        return self.returncode


def _kill_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        return


def _describe_exit(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
