"""Was the machine busy while a submission's workload ran? Measured from Linux PSI (`/proc/pressure/cpu`: the
`some` line's `total=` counter, the microseconds in which at least one runnable task waited for a CPU), else from
the load average per core; docs/grading.md ("Contention and regrades") gives the rule and its measurements.

PSI: https://docs.kernel.org/accounting/psi.html; load average: proc(5), /proc/loadavg.
"""

import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from grader.errors import GraderError

PSI_CPU = Path("/proc/pressure/cpu")
# The share of the workload window in which some task waited for a CPU above which the window counts as contended.
# A quiet run of this project's template alone on 2 cores measured <= 15%, four at once 55-75% (docs/grading.md).
CONTENDED_PRESSURE = 0.30
# Without PSI: more runnable tasks than cores, on average over the last minute, counts as contended.
CONTENDED_LOAD_PER_CORE = 1.0
# Before a regrade alone: wait at most this long (s) for PSI's 10-second average to fall to CONTENDED_PRESSURE.
QUIET_WAIT_SECONDS = 120.0
QUIET_POLL_SECONDS = 2.0
_SOME_TOTAL = re.compile(r"^some\b.*\btotal=(\d+)\s*$", re.MULTILINE)
_SOME_AVG10 = re.compile(r"^some\b.*\bavg10=(\d+(?:\.\d+)?)\b", re.MULTILINE)


@dataclass(frozen=True)
class Mark:
    """A point in time (monotonic s) and PSI's cumulative CPU `some` stall there (us; None without PSI)."""

    seconds: float
    some_total_us: int | None


@dataclass(frozen=True)
class Contention:
    """The machine during one window: PSI's CPU pressure (share of the window, None without PSI), the 1-minute load
    average per core at its end, and whether it counts as contended (by `source`: "psi" or "loadavg")."""

    source: str
    window_seconds: float
    cpu_pressure: float | None
    load_per_core: float
    cores: int
    contended: bool

    def describe(self) -> str:
        """`cpu pressure 63%`, or `load 3.1 per core` without PSI."""
        if self.cpu_pressure is not None:
            return f"cpu pressure {self.cpu_pressure:.0%}"
        return f"load {self.load_per_core:.1f} per core, no PSI"

    def to_json(self) -> dict[str, Any]:
        threshold = CONTENDED_PRESSURE if self.source == "psi" else CONTENDED_LOAD_PER_CORE
        return {**asdict(self), "threshold": threshold}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Contention":
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def some_total_us(psi_text: str) -> int:
    """The `some` line's `total=` of a /proc/pressure/cpu text; GraderError when the text has none."""
    found = _SOME_TOTAL.search(psi_text)
    if found is None:
        raise GraderError(f"no 'some ... total=N' line in the CPU pressure text {psi_text[:200]!r}")
    return int(found.group(1))


def some_avg10(psi_text: str) -> float:
    """The `some` line's `avg10=` (a percentage) of a /proc/pressure/cpu text as a share; GraderError without one."""
    found = _SOME_AVG10.search(psi_text)
    if found is None:
        raise GraderError(f"no 'some avg10=X' in the CPU pressure text {psi_text[:200]!r}")
    return float(found.group(1)) / 100


def psi_avg10(psi: Path = PSI_CPU) -> float | None:
    """PSI's CPU `some avg10` as a share; None without PSI."""
    try:
        return some_avg10(psi.read_text())
    except OSError:
        return None


def wait_until_quiet(limit_seconds: float = QUIET_WAIT_SECONDS, psi: Path = PSI_CPU,
                     sleep: Callable[[float], None] = time.sleep) -> bool:
    """Wait, at most limit_seconds, until the last 10 s were not contended (PSI's `some avg10`); True once they
    were, False when the machine stayed busy (other jobs: the regrade then runs anyway) or there is no PSI."""
    waited = 0.0
    while True:
        pressure = psi_avg10(psi)
        if pressure is None:
            return False
        if pressure <= CONTENDED_PRESSURE:
            return True
        if waited >= limit_seconds:
            return False
        sleep(QUIET_POLL_SECONDS)
        waited += QUIET_POLL_SECONDS


def mark(psi: Path = PSI_CPU) -> Mark:
    """Now, and the PSI counter if this kernel has one (absent, or EOPNOTSUPP when booted with psi=0)."""
    try:
        text = psi.read_text()
    except OSError:
        return Mark(time.monotonic(), None)
    return Mark(time.monotonic(), some_total_us(text))


def since(start: Mark, psi: Path = PSI_CPU) -> Contention:
    """The contention from `start` until now."""
    return judge(start, mark(psi), os.getloadavg()[0], os.cpu_count() or 1)


def judge(start: Mark, end: Mark, load_1min: float, cores: int) -> Contention:
    """The rule: contended when PSI's CPU `some` share of the window is above CONTENDED_PRESSURE; without PSI, when
    the load average per core is above CONTENDED_LOAD_PER_CORE."""
    window = end.seconds - start.seconds
    if window <= 0 or cores < 1:
        raise GraderError(f"a contention window needs a positive length and cores, got {window} s, {cores} cores")
    load = round(load_1min / cores, 2)
    if start.some_total_us is None or end.some_total_us is None:
        return Contention("loadavg", round(window, 1), None, load, cores, load > CONTENDED_LOAD_PER_CORE)
    share = round(min(1.0, max(0, end.some_total_us - start.some_total_us) / (window * 1e6)), 3)
    return Contention("psi", round(window, 1), share, load, cores, share > CONTENDED_PRESSURE)
