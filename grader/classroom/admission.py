"""Quiet starts: a submission's timed workload starts only when no other submission is in its opening phase (its
burst PUT, its first answers not yet back) and the machine's CPU pressure (PSI `some avg10`) is at most
contention.CONTENDED_PRESSURE, and no other submission is setting up (deploying, its functions starting). After
START_WAIT_SECONDS it starts anyway, and says so, but only when no other submission of the class is running a
workload or setting up: then the pressure comes from outside the class and waiting would not lower it. While the
class's own work keeps the machine busy, it waits for that to end (each part is bounded by its time limit).
docs/grading.md ("Quiet starts") gives the measurements behind the rule.

The gate lives in the class runner; a worker asks for it over its stdout/stdin pipe (`request_start`), the runner's
reader thread answers (`follow`), and releases it when the worker says its opening is over, when the worker's
stdout ends (it exited, crashed or was killed) or, for a holder that hangs, after OPENING_HOLD_SECONDS."""

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import IO, Any

from grader.classroom.contention import CONTENDED_PRESSURE, SETTING_UP, psi_avg10
from grader.collector import Collector, Received
from grader.config import RunSettings
from grader.errors import GraderError
from grader.run import Target, Wiring
from grader.sender import Sender

logger = logging.getLogger(__name__)

# The longest a workload waits for a quiet start before it starts anyway (noted in its report).
START_WAIT_SECONDS = 60.0
# A holder whose opening has not ended after this long (a hanging or very slow submission) no longer holds the gate.
# Measured openings (burst of 4 answered): 1-3 s alone, up to 10 s on a loaded machine.
OPENING_HOLD_SECONDS = 30.0
POLL_SECONDS = 0.5
WAITING, OPENED = "waiting", "opened"  # the worker's stage lines of the protocol


@dataclass(frozen=True)
class Admission:
    """How a workload's start went: seconds waited, whether the wait ran out (`forced`), PSI's avg10 at the start
    (None without PSI), the submissions whose opening it waited behind, and whether the gate was on at all."""

    waited_seconds: float
    forced: bool
    pressure_avg10: float | None
    waited_for: tuple[str, ...] = ()
    staggered: bool = True

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "waited_for": list(self.waited_for), "threshold": CONTENDED_PRESSURE,
                "limit_seconds": START_WAIT_SECONDS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Admission":
        fields = {name: data[name] for name in cls.__dataclass_fields__}
        return cls(**{**fields, "waited_for": tuple(fields["waited_for"])})

    def note(self) -> str:
        """The gradebook's words when the workload started without a quiet start; empty otherwise."""
        if not self.forced:
            return ""
        pressure = "no PSI" if self.pressure_avg10 is None else f"cpu pressure {self.pressure_avg10:.0%}"
        behind = f", behind {', '.join(self.waited_for)}" if self.waited_for else ""
        return f"started without a quiet start after {self.waited_seconds:.0f} s ({pressure}{behind})"


UNGATED = Admission(0.0, False, None, (), staggered=False)


class StartGate:
    """Admits one workload start at a time, first come first served: when nobody else is in an opening younger
    than hold_seconds and nobody else sets up, and the pressure is at most the threshold; after
    wait_seconds, whatever the machine, once no other admitted workload is still running (finish() ends one). With
    `slots`, never while that many admitted workloads run."""

    def __init__(self, pressure: Callable[[], float | None] = psi_avg10, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, wait_seconds: float = START_WAIT_SECONDS,
                 hold_seconds: float = OPENING_HOLD_SECONDS, slots: int | None = None) -> None:
        self._pressure, self._clock, self._sleep = pressure, clock, sleep
        self._wait_seconds, self._hold_seconds = wait_seconds, hold_seconds
        self._slots = slots
        self._lock = threading.Lock()
        self._opening: dict[str, float] = {}  # holder -> when it was admitted
        self._running: set[str] = set()  # admitted, their workers not yet ended
        self._setting_up: set[str] = set()  # deploying or waiting for their functions (contention.SETTING_UP)
        self._queue: deque[str] = deque()

    def admit(self, name: str, alive: Callable[[], bool] = lambda: True) -> Admission | None:
        """Block until name may start its workload; it then holds the gate until release(name). None when name is
        no longer alive (its worker ended while it waited): it leaves the queue without holding the gate."""
        with self._lock:
            if name in self._queue or name in self._opening:
                raise GraderError(f"{name!r} asked for a start twice")
            self._queue.append(name)
        started, behind = self._clock(), set[str]()
        while alive():
            admission = self._take(name, self._clock() - started, behind)
            if admission is not None:
                return admission
            self._sleep(POLL_SECONDS)
        self.release(name)
        return None

    def _take(self, name: str, waited: float, behind: set[str]) -> Admission | None:
        """Admit name now if it is first in line and the machine is quiet, or if it has waited long enough and no
        other submission of the class runs a workload or sets up; else None, having noted whom it waits behind."""
        with self._lock:
            others, pressure = self._others_opening(name), self._pressure()
            setting_up = self._setting_up - {name}
            behind.update(others, setting_up)
            if self._slots is not None and len(self._running - {name}) >= self._slots:
                return None  # a slot frees when a running workload's worker ends: never forced
            quiet = not others and not setting_up and (pressure is None or pressure <= CONTENDED_PRESSURE)
            due = quiet and self._queue[0] == name
            if not due and (waited < self._wait_seconds or self._running - {name} or setting_up):
                return None
            self._queue.remove(name)
            self._opening[name] = self._clock()
            self._running.add(name)
            return Admission(round(waited, 1), not due, pressure, tuple(sorted(behind)))

    def release(self, name: str) -> None:
        """name's opening is over (or it is gone): it no longer holds the gate, nor waits for it."""
        with self._lock:
            self._opening.pop(name, None)
            if name in self._queue:
                self._queue.remove(name)

    def note_stage(self, name: str, stage: str) -> None:
        """name's worker is at `stage`: while it sets up (contention.SETTING_UP), others' workloads do not start."""
        with self._lock:
            if stage in SETTING_UP:
                self._setting_up.add(name)
            else:
                self._setting_up.discard(name)

    def finish(self, name: str) -> None:
        """name's worker has ended: its workload no longer runs, nor holds or waits for the gate."""
        self.release(name)
        with self._lock:
            self._running.discard(name)
            self._setting_up.discard(name)

    def running(self) -> list[str]:
        """Admitted workloads whose workers have not ended."""
        with self._lock:
            return sorted(self._running)

    def opening(self) -> list[str]:
        """Who holds the gate now (openings younger than hold_seconds)."""
        with self._lock:
            return self._others_opening(None)

    def _others_opening(self, name: str | None) -> list[str]:
        now = self._clock()
        return sorted(holder for holder, since in self._opening.items()
                      if holder != name and now - since < self._hold_seconds)


def follow(lines: Iterable[str], reply: IO[str] | None, gate: StartGate | None, name: str,
           on_stage: Callable[[str], None], alive: Callable[[], bool] = lambda: True,
           on_admitted: Callable[[Admission], None] = lambda admission: None) -> None:
    """The runner's side for one worker: pass each stage line to on_stage; on `waiting`, admit it through the gate
    (while alive), tell on_admitted and write the Admission as a JSON line to reply (its stdin); on `opened`,
    release it; whatever happens, finish it when its lines end (exit, crash, kill)."""
    try:
        for line in lines:
            stage = _stage(line)
            if stage is None:
                logger.debug("%s: %s", name, line.rstrip())
                continue
            on_stage(stage)
            if gate:
                gate.note_stage(name, stage)
            if stage == WAITING:
                admission = gate.admit(name, alive) if gate else UNGATED
                if admission is not None:
                    on_admitted(admission)
                    _answer(reply, admission, name)
            elif stage == OPENED and gate:
                gate.release(name)
    finally:
        if gate:
            gate.finish(name)


def request_start(say: Callable[[str], None], answers: IO[str]) -> Admission:
    """The worker's side: say `waiting`, then read the runner's Admission (its stdin); when the runner is gone (end
    of input, unreadable answer), start at once and record why."""
    say(WAITING)
    line = answers.readline()
    try:
        return Admission.from_json(json.loads(line))
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("no start admission from the class runner (%r: %s): starting now", line[:200], exc)
        return UNGATED


class OpeningWatch:
    """A wiring whose collector calls `opened` once `burst` answers are in: the end of the workload's opening (its
    burst answered, its first environments started)."""

    def __init__(self, wiring: Wiring, burst: int, opened: Callable[[], None]) -> None:
        self._wiring, self._burst, self._opened = wiring, burst, opened

    def sender(self, target: Target, settings: RunSettings) -> Sender:
        return self._wiring.sender(target, settings)

    def collector(self, target: Target, settings: RunSettings) -> "_WatchedCollector":
        return _WatchedCollector(self._wiring.collector(target, settings), self._burst, self._opened)


class _WatchedCollector:
    """A collector, unchanged, that calls `opened` the first time received() holds `burst` answers."""

    def __init__(self, collector: Collector, burst: int, opened: Callable[[], None]) -> None:
        self._collector, self._burst, self._opened, self._told = collector, burst, opened, False

    def start(self) -> None:
        self._collector.start()

    def stop(self) -> list[Received]:
        return self._collector.stop()

    def received(self) -> list[Received]:
        received = self._collector.received()
        if not self._told and len(received) >= self._burst:
            self._told = True
            self._opened()
        return received


def _answer(reply: IO[str] | None, admission: Admission, name: str) -> None:
    if reply is None:
        raise GraderError(f"{name} asked for a quiet start but its runner has no pipe to answer on")
    try:
        reply.write(json.dumps(admission.to_json()) + "\n")
        reply.flush()
    except (BrokenPipeError, ValueError) as exc:  # the worker died meanwhile; follow() releases the gate
        logger.warning("%s: could not answer its start request: %s", name, exc)


def _stage(line: str) -> str | None:
    try:
        stage = json.loads(line)["stage"]
    except (ValueError, KeyError, TypeError):
        return None
    return stage if isinstance(stage, str) else None
