"""Runs a submission's command as a limited subprocess: CPU seconds, address space, log size, a nice value, its own
TMPDIR and process group (killed whole at the time limit), and an environment holding only its account's settings;
in a Jail (as root), under its account's uid with the class's folders out of its sight.

The nice value is the command's CPU share: a submission's functions run in its account's CPU cgroup (the emulator's,
emulator/lambda_runtime/isolation.py, each weighing `1024 x cores` in cgroup v1), while its deploy command runs
beside the grader in the root cgroup, where CFS weighs a nice-19 task 15 against nice 0's 1024 (sched(7)): a deploy
then takes CPU from the other submissions' timed workloads last."""

import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from emulator.lambda_runtime.snapshot_template import hide_folders

FILE_LIMIT_BYTES = 300 * 1024 * 1024  # any file it writes, its log included: above Lambda's 250 MB package
TAIL_LINES = 20
TAIL_BYTES = 16_384
_KEPT_ENV = ("PATH", "LANG", "LC_ALL", "HOME")


@dataclass(frozen=True)
class Limits:
    """What one command may use: CPU time (s, per process), address space (MiB), wall-clock time (s), and its nice
    value (added to ours, 0-19: how last it gets a CPU)."""

    cpu_seconds: int
    memory_mib: int
    wall_seconds: float
    nice: int = 0


@dataclass(frozen=True)
class Jail:
    """Who a command runs as and what it does not see (root only): `uid` (and gid: the same number), the folders
    covered by an empty tmpfs in a mount namespace of its own (`cover`), the folders bound back under them
    (`reveal`); its /proc lists only its uid's processes."""

    uid: int
    cover: tuple[str, ...]
    reveal: tuple[str, ...]


@dataclass(frozen=True)
class CommandResult:
    """How a command ended: its exit code (negative: killed by that signal), whether the time limit ended it."""

    returncode: int
    timed_out: bool
    seconds: float
    log: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        """One line for the gradebook."""
        if self.timed_out:
            return f"did not finish within {self.seconds:.0f} s"
        if self.returncode < 0:
            return f"killed by {signal.Signals(-self.returncode).name} (a CPU, memory or log-size limit?)"
        return f"exited with {self.returncode}"

    def tail(self) -> str:
        """The last lines of its output."""
        with self.log.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - TAIL_BYTES))
            return "\n".join(log.read().decode(errors="replace").splitlines()[-TAIL_LINES:])


def minimal_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """PATH, locale and HOME from ours, nothing of AWS's or the grader's, plus `extra`."""
    return {**{k: os.environ[k] for k in _KEPT_ENV if k in os.environ}, **extra}


def run_limited(command: Sequence[str], cwd: Path, env: Mapping[str, str], limits: Limits, log: Path,
                tmp_dir: Path, jail: Jail | None = None) -> CommandResult:
    """Run `command` in `cwd` with the limits, in the jail if given; stdout and stderr to `log`; TMPDIR is
    `tmp_dir` (created)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(command), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env={**env, "TMPDIR": str(tmp_dir)}, process_group=0, preexec_fn=_limiter(limits, jail),
        )
        try:
            returncode, timed_out = process.wait(limits.wall_seconds), False
        except subprocess.TimeoutExpired:
            returncode, timed_out = -signal.SIGKILL, True
        kill_group(process.pid)
        process.wait()
    return CommandResult(returncode, timed_out, time.monotonic() - started, log)


def kill_group(pgid: int) -> None:
    """SIGKILL what is left of a process group (children a command left behind); nothing left is fine."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return


def _limiter(limits: Limits, jail: Jail | None) -> Callable[[], None]:
    """The child's rlimits, nice value and jail (applied between fork and exec)."""
    def apply() -> None:
        os.nice(limits.nice)
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        memory = limits.memory_mib * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT_BYTES, FILE_LIMIT_BYTES))
        if jail is not None:
            enter(jail)

    return apply


def enter(jail: Jail) -> None:
    """Hide the jail's folders, then give up root for the jail's uid and gid, for good (setresuid(2))."""
    hide_folders(list(jail.cover), list(jail.reveal))
    os.setgroups([])
    os.setresgid(jail.uid, jail.uid, jail.uid)
    os.setresuid(jail.uid, jail.uid, jail.uid)
