"""Is a loopback TCP port free, and if not, which process listens on it (Linux /proc, this user's processes)."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from emulator.errors import PortInUseError

_PROC = Path("/proc")
_TCP_TABLES = ("net/tcp", "net/tcp6")
_LISTEN = "0A"


def ensure_port_free(host: str, port: int) -> None:
    """Raises PortInUseError (naming the listening process when /proc shows it) if `host:port` cannot be bound.

    Binds the way the API server does (SO_REUSEADDR), so a port held only by closing connections counts as free.
    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise PortInUseError(f"cannot listen on {host}:{port}: {exc}") from exc
            raise PortInUseError(f"port {port} on {host} is already in use by {port_owner(port)}; stop that "
                                 f"program or choose another port (--port, EMULATOR_PORT)") from exc


def port_owner(port: int) -> str:
    """'pid N (command line)' of the process listening on TCP `port`, or why it cannot be told."""
    inodes = _listening_inodes(port)
    if not inodes:
        return "a connection or a socket not listening (no process listens on it)"
    for pid_dir in _PROC.iterdir():
        if pid_dir.name.isdigit() and _holds_socket(pid_dir, inodes):
            return f"pid {pid_dir.name} ({_command_line(pid_dir)})"
    return "a process this user cannot inspect"


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port` (any address), from /proc/net/tcp and tcp6."""
    inodes = set()
    for table in _TCP_TABLES:
        try:
            lines = (_PROC / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{inode}]")
    return inodes


def _holds_socket(pid_dir: Path, inodes: set[str]) -> bool:
    """Whether a process has one of these sockets open; False for processes gone or not ours to inspect."""
    try:
        descriptors = list((pid_dir / "fd").iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if descriptor.readlink().as_posix() in inodes:
                return True
        except OSError:
            continue
    return False


def _command_line(pid_dir: Path) -> str:
    try:
        raw = (pid_dir / "cmdline").read_bytes()
    except OSError:
        return "command line unreadable"
    return " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split()) or pid_dir.name
