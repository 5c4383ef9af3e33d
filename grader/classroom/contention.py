"""Was the machine busy while a submission's workload ran? Measured from Linux PSI (`/proc/pressure/cpu`: the
`some` line's `total=` counter, the microseconds in which at least one runnable task waited for a CPU), else from
the load average per core; docs/grading.md ("Contention and regrades") gives the rule and its measurements.

PSI: https://docs.kernel.org/accounting/psi.html; load average: proc(5), /proc/loadavg.
"""

import math
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from grader.errors import GraderError

PSI_CPU = Path("/proc/pressure/cpu")
# The share of the workload window in which some task waited for a CPU above which the window counts as contended.
# A quiet run of this project's template alone on 2 cores measured <= 15%, four at once 55-75% (docs/grading.md).
CONTENDED_PRESSURE = 0.30
# The same over a submission's opening (its workload's start until its burst is answered): its own burst of 4 clips
# alone measured 0.37 there on a quiet machine, so the bar is higher than the whole window's (docs/grading.md).
OPENING_CONTENDED_PRESSURE = 0.60
# Without PSI: more runnable tasks than cores, on average over the last minute, counts as contended.
CONTENDED_LOAD_PER_CORE = 1.0
# Before a regrade alone: wait at most this long (s) for PSI's 10-second average to fall to CONTENDED_PRESSURE.
QUIET_WAIT_SECONDS = 120.0
QUIET_POLL_SECONDS = 2.0
# The workers' stage lines that begin a span (grader.classroom.submission prints them): its deploy, its opening.
DEPLOY_STAGE, RESOURCES_STAGE, STARTED = "deploy", "resources", "started"
SETTING_UP = frozenset({DEPLOY_STAGE, RESOURCES_STAGE})  # a submission's stages before its workload asks to start
_SPAN_OPENED_BY = {DEPLOY_STAGE: "deploy", STARTED: "opening"}
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
    average per core at its end, and whether it counts as contended (by `source`: "psi" or "loadavg", above
    `threshold`)."""

    source: str
    window_seconds: float
    cpu_pressure: float | None
    load_per_core: float
    cores: int
    contended: bool
    threshold: float

    def describe(self) -> str:
        """`cpu pressure 63%`, or `load 3.1 per core` without PSI."""
        if self.cpu_pressure is not None:
            return f"cpu pressure {self.cpu_pressure:.0%}"
        return f"load {self.load_per_core:.1f} per core, no PSI"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

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


def judge(start: Mark, end: Mark, load_1min: float, cores: int, pressure_threshold: float = CONTENDED_PRESSURE
          ) -> Contention:
    """The rule: contended when PSI's CPU `some` share of the window is above pressure_threshold; without PSI, when
    the load average per core is above CONTENDED_LOAD_PER_CORE."""
    window = end.seconds - start.seconds
    if window <= 0 or cores < 1:
        raise GraderError(f"a contention window needs a positive length and cores, got {window} s, {cores} cores")
    load = round(load_1min / cores, 2)
    if start.some_total_us is None or end.some_total_us is None:
        return Contention("loadavg", round(window, 1), None, load, cores, load > CONTENDED_LOAD_PER_CORE,
                          CONTENDED_LOAD_PER_CORE)
    share = round(min(1.0, max(0, end.some_total_us - start.some_total_us) / (window * 1e6)), 3)
    return Contention("psi", round(window, 1), share, load, cores, share > pressure_threshold, pressure_threshold)


def judge_opening(start: Mark, end: Mark) -> Contention | None:
    """The opening's pressure against OPENING_CONTENDED_PRESSURE; None without PSI (a 1-minute load average says
    nothing of a few seconds) or for an opening of no length."""
    if start.some_total_us is None or end.some_total_us is None or end.seconds <= start.seconds:
        return None
    return judge(start, end, os.getloadavg()[0], os.cpu_count() or 1, OPENING_CONTENDED_PRESSURE)


def busy_reasons(window: Contention | None, opening: Contention | None, overlapped_by: Sequence[str]) -> list[str]:
    """Why the machine counts as contended while a submission's timed workload was measured (empty: it does not):
    its whole window's pressure, its opening's, or another submission's deploy or opening during its opening."""
    reasons = [f"{window.describe()} over its workload"] if window and window.contended else []
    reasons += [f"{opening.describe()} in its opening"] if opening and opening.contended else []
    return reasons + [f"{other} during its opening" for other in overlapped_by]


@dataclass(frozen=True)
class Span:
    """A submission's deploy or opening on the class runner's clock (end None: not over yet)."""

    name: str
    kind: str
    start: float
    end: float | None = None

    def overlaps(self, other: "Span") -> bool:
        return self.start < _or_never(other.end) and other.start < _or_never(self.end)


def _or_never(end: float | None) -> float:
    return math.inf if end is None else end


class Timeline:
    """The class's deploys and openings as the runner sees them in the workers' stage lines: a deploy lasts from
    `deploy` to the next stage, an opening from `started` to the next (`opened`); a worker's end closes both."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock, self._lock, self._spans = clock, threading.Lock(), list[Span]()

    def stage(self, name: str, stage: str) -> None:
        with self._lock:
            self._close(name)
            if stage in _SPAN_OPENED_BY:
                self._spans.append(Span(name, _SPAN_OPENED_BY[stage], self._clock()))

    def end(self, name: str) -> None:
        with self._lock:
            self._close(name)

    def overlapping(self, name: str) -> list[str]:
        """The other submissions' deploys and openings that overlapped name's opening: `s002's deploy`, ..."""
        with self._lock:
            openings = [span for span in self._spans if span.name == name and span.kind == "opening"]
            return sorted({f"{other.name}'s {other.kind}" for other in self._spans for mine in openings
                           if other.name != name and other.overlaps(mine)})

    def _close(self, name: str) -> None:
        now = self._clock()
        self._spans = [replace(span, end=now) if span.name == name and span.end is None else span
                       for span in self._spans]
