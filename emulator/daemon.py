"""`make up` / `make down`: the emulator in the background, with a pid file and a ready file."""

from __future__ import annotations

import contextlib
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

from emulator.config import DUMMY_CREDENTIALS, ENV_PERSISTENCE, ENV_STATE_DIR, EmulatorConfig
from emulator.errors import NotRunningError
from emulator.lambda_runtime import worker_processes
from emulator.ports import ensure_port_free

READY_FILE = "emulator.json"
PID_FILE = "emulator.pid"
LOG_FILE = "emulator.log"
STOP_GRACE_SECONDS = 4.0
KILL_WAIT_SECONDS = 5.0
ENV_STOP_WITH_PID = "_EMULATOR_STOP_WITH_PID"  # serve stops once the process with this pid is gone


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client_environment(info: dict[str, Any]) -> dict[str, str]:
    """The variables that point boto3 (device, grader, benches) at a running emulator."""
    return {"AWS_ENDPOINT_URL": info["endpoint"], "AWS_DEFAULT_REGION": info["region"], **DUMMY_CREDENTIALS}


def ready_file(config: EmulatorConfig) -> Path:
    return config.state_dir / READY_FILE


def write_ready(config: EmulatorConfig, outputs: dict[str, str]) -> None:
    """Written by the serving process once the stack is deployed: what `up` waits for."""
    info = {"pid": os.getpid(), "endpoint": config.endpoint_url, "outputs": outputs, "region": config.region}
    target = ready_file(config)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_suffix(".tmp")
    staging.write_text(json.dumps(info, indent=2))
    staging.replace(target)


def read_ready(config: EmulatorConfig) -> dict[str, Any]:
    """The running emulator's endpoint and outputs; NotRunningError when none answers."""
    try:
        info = json.loads(ready_file(config).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise NotRunningError(f"no emulator is running (no {ready_file(config)}); start it with `make up`") from exc
    if not (pid_alive(info["pid"]) and _answers(info["endpoint"])):
        raise NotRunningError(f"the emulator recorded in {ready_file(config)} is not answering; run `make up`")
    return info


def start_background(config: EmulatorConfig, extra_args: list[str], timeout: float = 120.0,
                     stop_with_caller: bool = False) -> dict[str, Any]:
    """Starts `python -m emulator serve` detached and waits until it is ready; idempotent.

    With `stop_with_caller` the emulator stops itself once this process is gone, even if it was killed before it
    could stop it (a throw-away emulator must not outlive its test or benchmark). A config with `persist` off starts
    one that keeps no snapshots (its state folder is emptied at start). PortInUseError, before anything
    starts, if another program holds the port; NotRunningError with the serving process's own error line if it
    exits before it is ready.
    """
    try:
        return read_ready(config)
    except NotRunningError:
        pass
    ensure_port_free(config.host, config.port)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    ready_file(config).unlink(missing_ok=True)
    log = (config.state_dir / LOG_FILE).open("ab")
    log_start = log.seek(0, os.SEEK_END)
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", str(config.port), *extra_args],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, ENV_STATE_DIR: str(config.state_dir), ENV_PERSISTENCE: "1" if config.persist else "0",
             **({ENV_STOP_WITH_PID: str(os.getpid())} if stop_with_caller else {})},
    )
    (config.state_dir / PID_FILE).write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            reason = _last_error(config, log_start)
            raise NotRunningError(f"the emulator exited with {process.returncode}: {reason} "
                                  f"(log: {config.state_dir / LOG_FILE})")
        try:
            return read_ready(config)
        except NotRunningError:
            time.sleep(0.1)
    stop_pid(process.pid)
    raise NotRunningError(f"the emulator was not ready within {timeout:.0f} s; see {config.state_dir / LOG_FILE}")


@contextlib.contextmanager
def background_emulator(state_dir: Path, extra_args: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """A throw-away emulator on a free port with its state in `state_dir`; stopped on exit."""
    config = EmulatorConfig(port=free_loopback_port(), state_dir=state_dir)
    info = start_background(config, extra_args or [], stop_with_caller=True)
    try:
        yield info
    finally:
        stop_background(config)


def stop_background(config: EmulatorConfig) -> bool:
    """Stops the emulator named by the pid file; False when none was running."""
    pid_path = config.state_dir / PID_FILE
    try:
        pid = int(pid_path.read_text())
    except (OSError, ValueError):
        return False
    stopped = stop_pid(pid)
    pid_path.unlink(missing_ok=True)
    ready_file(config).unlink(missing_ok=True)
    return stopped


def stop_pid(pid: int, grace: float = STOP_GRACE_SECONDS) -> bool:
    """SIGTERM the emulator's process group, SIGKILL after `grace` seconds; then SIGKILL, by pid, any of its
    Lambda processes (each in a session of its own) still alive."""
    if not pid_alive(pid):
        return False
    lambda_pids = [process.pid for process in worker_processes(pid, include_templates=True)]
    _signal_group(pid, signal.SIGTERM)
    _wait_gone(pid, grace)
    if pid_alive(pid):
        _signal_group(pid, signal.SIGKILL)
    for lambda_pid in lambda_pids:
        with contextlib.suppress(ProcessLookupError):  # gone with the emulator: what we wanted
            os.kill(lambda_pid, signal.SIGKILL)
    for killed in [pid, *lambda_pids]:  # SIGKILL is not instant (a process with many threads): gone on return
        _wait_gone(killed, KILL_WAIT_SECONDS)
    return True


def _wait_gone(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)


def _last_error(config: EmulatorConfig, log_start: int) -> str:
    """The serving process's last `error:` line (what main() prints before exiting non-zero), else its last line;
    from its log past `log_start`, where this run's output begins."""
    try:
        with (config.state_dir / LOG_FILE).open("rb") as log:
            log.seek(log_start)
            lines = log.read().decode(errors="replace").splitlines()
    except OSError as exc:
        return f"its log is unreadable ({exc})"
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    return (errors or lines or ["it printed nothing"])[-1]


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, signum)


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _answers(endpoint: str) -> bool:
    host, port = endpoint.removeprefix("http://").rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False
