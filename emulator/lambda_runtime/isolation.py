"""Functions of different accounts kept apart on one host (EMULATOR_ISOLATION=accounts; off by default).

What the emulator decides here, `snapshot_template.enter_sandbox` applies inside each template or spawned
environment, after its private mounts and before any user code (forks inherit it):
- a uid per account (`account_uid`: 200000 + the account id modulo 100000) as the root of a user namespace of its
  own; not root: a user namespace mapping the emulator's own uid (no uid of its own, but the mounts below);
- the emulator's state folder and EMULATOR_ISOLATION_HIDE's folders (the grader's submissions) under an empty
  tmpfs, the folders the function needs (its interpreter, the environments' /tmp root) bound back;
- root: a /proc of the environment's own (hidepid=2) listing only its account's processes, neither the emulator's
  nor another account's (their command lines, environments and open files); not root, or where the kernel
  refuses that mount, the process list stays the host's and the plan's note says so;
- a CPU share per account: a cgroup of its own (v2 `cpu.weight`, v1 `cpu.shares`: accounts weigh the same, each
  as many busy processes as the host has CPUs), else nice 10 (no RLIMIT_CPU: an environment lives for many
  events, and it counts them all);
- RLIMIT_AS at MemorySize + 4 GiB: a backstop behind the memory watchdog (workers.py), which kills at MemorySize.
Linux: user_namespaces(7); https://docs.kernel.org/admin-guide/cgroup-v2.html ("Weights", "CPU Interface Files").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from emulator.lambda_runtime.errors import EmulatorError
from emulator.lambda_runtime.snapshot_template import (
    ISOLATE_AS_MB_ENV,
    ISOLATE_CGROUP_ENV,
    ISOLATE_NICE_ENV,
    ISOLATE_UID_ENV,
    ISOLATE_USERNS_ENV,
    MOUNT_COVER_ENV,
    MOUNT_PROC_ENV,
    MOUNT_REVEAL_ENV,
)

logger = logging.getLogger(__name__)

ENV_ISOLATION = "EMULATOR_ISOLATION"
ENV_ISOLATION_HIDE = "EMULATOR_ISOLATION_HIDE"  # more folders functions must not see (os.pathsep-separated)
ISOLATION_MODES = ("off", "accounts")
FIRST_UID = 200_000
UID_SLOTS = 100_000  # uids 200000-299999
ADDRESS_SPACE_HEADROOM_MB = 4096  # torch + cv2 + boto3 map ~1 GB more than they touch
FALLBACK_NICE = 10
_CGROUP_PREFIX = "lambda-account-"
_MOUNTS = Path("/proc/self/mounts")


def account_uid(account: str) -> int:
    """The uid an account's functions run as: stable across runs, one per account among 100000 consecutive ids."""
    if not (len(account) == 12 and account.isdigit()):
        raise EmulatorError(f"an account id has 12 digits, got {account!r}")
    return FIRST_UID + int(account) % UID_SLOTS


@dataclass(frozen=True)
class CpuShares:
    """One cgroup per account directly under a writable cpu hierarchy. Accounts weigh the same; each weighs as many
    busy processes as the host has CPUs (a lighter account would starve beside the host's other work: on a loaded
    host its cold starts queued, the class samples' answers came late)."""

    root: Path
    weight_file: str  # cpu.weight (v2, default 100) or cpu.shares (v1, default 1024)
    weight: int

    def folder(self, account: str) -> Path:
        return self.root / f"{_CGROUP_PREFIX}{account}"

    def procs_file(self, account: str) -> str:
        """The cgroup.procs file an environment of `account` writes its pid to (the cgroup made on first use)."""
        folder = self.folder(account)
        if not folder.is_dir():
            folder.mkdir(exist_ok=True)
            (folder / self.weight_file).write_text(str(self.weight))
        return str(folder / "cgroup.procs")


def find_cpu_shares(mounts: Path = _MOUNTS) -> CpuShares | None:
    """A cgroup hierarchy with the cpu controller that we may write to (v2 with cpu enabled below its root, or v1's
    cpu hierarchy), or None."""
    for line in mounts.read_text().splitlines():
        _, point, kind, options, *_ = line.split()
        root, cpus = Path(point), os.cpu_count() or 1
        if kind == "cgroup2" and "cpu" in _words(root / "cgroup.subtree_control") and os.access(root, os.W_OK):
            return CpuShares(root, "cpu.weight", min(10_000, 100 * cpus))
        if kind == "cgroup" and "cpu" in options.split(",") and os.access(root, os.W_OK):
            return CpuShares(root, "cpu.shares", 1024 * cpus)
    return None


def _words(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []


@dataclass(frozen=True)
class Isolation:
    """How accounts' functions are kept apart: `how` is "uid" (root), "userns" (not root) or "off"; "mounts": off,
    but not root, each environment in a user namespace of the emulator's uid for its private mounts."""

    how: str = "off"
    cpu: CpuShares | None = None
    hidden: tuple[Path, ...] = ()
    note: str = "off"
    own_processes_only: bool = False

    @property
    def enabled(self) -> bool:
        return self.how in ("uid", "userns")

    def variables(self, account: str, memory_mb: int) -> dict[str, str]:
        """What an environment of `account` needs to isolate itself (none when off)."""
        if self.how == "mounts":
            return {ISOLATE_USERNS_ENV: "1"}
        if not self.enabled:
            return {}
        env = {ISOLATE_AS_MB_ENV: str(memory_mb + ADDRESS_SPACE_HEADROOM_MB)}
        env[ISOLATE_UID_ENV if self.how == "uid" else ISOLATE_USERNS_ENV] = str(account_uid(account))
        if self.cpu is not None:
            env[ISOLATE_CGROUP_ENV] = self.cpu.procs_file(account)
        else:
            env[ISOLATE_NICE_ENV] = str(FALLBACK_NICE)
        return env

    def mounts(self, needed: Sequence[Path], tmp_root: Path) -> dict[str, str]:
        """The folders to cover (ours, and any closed folder above one the function needs) and to bind back."""
        if not self.enabled:
            return {}
        cover, reveal = cover_and_reveal(self.hidden, [*needed, tmp_root])
        env = {MOUNT_COVER_ENV: os.pathsep.join(map(str, cover)),
               MOUNT_REVEAL_ENV: os.pathsep.join(sorted(map(str, reveal)))}
        if self.own_processes_only:
            env[MOUNT_PROC_ENV] = "1"
        return env


def cover_and_reveal(hidden: Sequence[Path], needed: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """The folders to cover with an empty tmpfs (`hidden`, and any closed folder above a needed one: another uid
    could not pass through it), outermost first, and the needed folders under those to bind back."""
    found = {p.resolve() for p in needed if p.exists()}
    closed = {c for p in found for c in _closed_ancestors(p)}
    cover = sorted({*(h.resolve() for h in hidden), *closed}, key=lambda p: len(p.parts))
    reveal = sorted(p for p in found if any(p != c and p.is_relative_to(c) for c in cover))
    return cover, reveal


def _closed_ancestors(path: Path) -> list[Path]:
    """The folders above `path` that other users cannot pass through (no o+x), e.g. /root above a pyenv."""
    return [p for p in reversed(path.parents) if not p.stat().st_mode & 0o001]


def _private_mounts_only(probe: Callable[[dict[str, str]], str | None]) -> tuple[Isolation, str | None]:
    """No isolation; but not root, where mounts are refused, a user namespace of the emulator's own uid still gives
    each environment its own /tmp and /var/task, as on AWS (user_namespaces(7): its creator may mount in it)."""
    refused = probe({})
    if refused is None or os.geteuid() == 0 or probe({ISOLATE_USERNS_ENV: "1"}) is not None:
        return Isolation(), refused
    return Isolation("mounts", note="off (not root: a user namespace of the emulator's uid for the mounts)"), None


def plan_isolation(environ: Mapping[str, str], state_dir: Path, probe: Callable[[dict[str, str]], str | None]
                   ) -> tuple[Isolation, str | None]:
    """The isolation EMULATOR_ISOLATION asks for, as far as this host allows, and whether environments get their own
    /tmp here (None) or why not. `probe` tries an environment's setup with the given variables."""
    mode = environ.get(ENV_ISOLATION, "off")
    if mode not in ISOLATION_MODES:
        raise EmulatorError(f"{ENV_ISOLATION} must be one of {', '.join(ISOLATION_MODES)}, got {mode!r}")
    if mode == "off":
        return _private_mounts_only(probe)
    hidden = (state_dir, *(Path(p) for p in environ.get(ENV_ISOLATION_HIDE, "").split(os.pathsep) if p))
    how = "uid" if os.geteuid() == 0 else "userns"
    candidate = Isolation(how, find_cpu_shares(), hidden)
    who = {ISOLATE_UID_ENV if how == "uid" else ISOLATE_USERNS_ENV: str(FIRST_UID)}
    refused = probe(who)
    if refused is not None:
        logger.warning("%s=accounts: functions run NOT isolated from each other or from the emulator's files: %s",
                       ENV_ISOLATION, refused)
        return Isolation(note=f"off ({refused})"), probe({})
    processes = "only their account's" if how == "uid" else "the host's (not root)"
    if how == "uid" and (proc_refused := probe({**who, MOUNT_PROC_ENV: "1"})) is not None:
        processes = f"the host's ({proc_refused})"
    cpu = f"cgroup per account under {candidate.cpu.root}" if candidate.cpu else f"nice {FALLBACK_NICE}"
    user = "uid 200000 + account id mod 100000" if how == "uid" else "a user namespace (not root: the emulator's uid)"
    note = (f"accounts: {user}; CPU: {cpu}; RLIMIT_AS MemorySize + {ADDRESS_SPACE_HEADROOM_MB} MiB; "
            f"processes listed: {processes}")
    return Isolation(how, candidate.cpu, hidden, note, processes.startswith("only")), None
