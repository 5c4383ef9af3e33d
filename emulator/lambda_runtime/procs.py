"""The emulator's Lambda worker processes as /proc shows them (Linux): pid, function, resident memory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_FUNCTION_VAR = b"AWS_LAMBDA_FUNCTION_NAME="


@dataclass(frozen=True)
class WorkerProcess:
    """One live awslambdaric worker: its pid, the function it runs, its resident set (KiB)."""

    pid: int
    function: str
    rss_kb: int


def worker_processes(emulator_pid: int) -> list[WorkerProcess]:
    """The Lambda workers the emulator process started that are still alive, by pid."""
    workers = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or _parent(entry) != emulator_pid:
            continue
        function = _function_name(entry)
        rss = rss_kb(int(entry.name))
        if function is not None and rss:
            workers.append(WorkerProcess(int(entry.name), function, rss))
    return sorted(workers, key=lambda w: w.pid)


def rss_kb(pid: int) -> int:
    """Resident memory of a process in KiB; 0 once it is gone (or a zombie)."""
    try:
        status = (_PROC / str(pid) / "status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _parent(entry: Path) -> int | None:
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # fields after "(comm)": state, ppid, ...


def _function_name(entry: Path) -> str | None:
    try:
        environ = (entry / "environ").read_bytes()
    except OSError:
        return None
    for item in environ.split(b"\0"):
        if item.startswith(_FUNCTION_VAR):
            return item[len(_FUNCTION_VAR) :].decode()
    return None
