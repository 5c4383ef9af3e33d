"""The emulator's Lambda processes as /proc shows them (Linux): pid, function, role, resident memory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_FUNCTION_VAR = b"AWS_LAMBDA_FUNCTION_NAME="
TEMPLATE_SCRIPT_NAME = b"snapshot_template.py"


@dataclass(frozen=True)
class WorkerProcess:
    """One live Lambda process: its pid, the function, "environment" or "template", its resident set (KiB)."""

    pid: int
    function: str
    rss_kb: int
    role: str = "environment"


def worker_processes(emulator_pid: int, include_templates: bool = False) -> list[WorkerProcess]:
    """The execution environments (spawned, or forked from a template) of the emulator that are still alive."""
    children = _children()
    found = []
    for pid in children.get(emulator_pid, []):
        function = _function_name(pid)
        if function is None:
            continue
        if _is_template(pid):
            found += [WorkerProcess(child, function, rss_kb(child)) for child in children.get(pid, [])]
            if include_templates:
                found.append(WorkerProcess(pid, function, rss_kb(pid), "template"))
        else:
            found.append(WorkerProcess(pid, function, rss_kb(pid)))
    return sorted((w for w in found if w.rss_kb), key=lambda w: w.pid)


def running_programs() -> set[str]:
    """The program path (argv[0]) of every process on this machine that shows its command line."""
    programs = set()
    for cmdline in _PROC.glob("[0-9]*/cmdline"):
        try:
            programs.add(cmdline.read_bytes().split(b"\0", 1)[0].decode(errors="replace"))
        except OSError:  # it ended while we looked
            continue
    return programs


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


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and (parent := _parent(entry)) is not None:
            children.setdefault(parent, []).append(int(entry.name))
    return children


def _parent(entry: Path) -> int | None:
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # fields after "(comm)": state, ppid, ...


def _is_template(pid: int) -> bool:
    try:
        return TEMPLATE_SCRIPT_NAME in (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False


def _function_name(pid: int) -> str | None:
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    for item in environ.split(b"\0"):
        if item.startswith(_FUNCTION_VAR):
            return item[len(_FUNCTION_VAR) :].decode()
    return None
