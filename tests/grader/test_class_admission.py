"""Quiet starts (grader/classroom/admission.py): the gate's rule on a fake clock and fake pressure, the runner/worker
protocol over a real pipe, and that a worker that crashes, hangs or dies while waiting holds nobody up."""

import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from io import StringIO

import pytest

from grader.__main__ import _parser
from grader.classroom.admission import (
    OPENED,
    POLL_SECONDS,
    UNGATED,
    WAITING,
    Admission,
    OpeningWatch,
    StartGate,
    follow,
    request_start,
)
from grader.classroom.contention import CONTENDED_PRESSURE, DEPLOY_STAGE, RESOURCES_STAGE
from grader.classroom.runner import GateWait, _outlived
from grader.classroom.settings import ClassSettings
from grader.errors import GraderError


class FakeMachine:
    """A clock that moves only when the gate sleeps, a PSI avg10 to set, and things to do at given times."""

    def __init__(self, pressure: float | None = 0.05) -> None:
        self.now, self.pressure = 1000.0, pressure
        self.at: dict[float, Callable[[], None]] = {}

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        for when in [t for t in self.at if t <= self.now]:
            self.at.pop(when)()

    def gate(self, wait_seconds: float = 60, hold_seconds: float = 30, slots: int | None = None) -> StartGate:
        return StartGate(lambda: self.pressure, lambda: self.now, self.sleep, wait_seconds, hold_seconds, slots)


def test_a_start_on_a_quiet_machine_with_nobody_opening_waits_for_nothing() -> None:
    machine = FakeMachine()
    admission = machine.gate().admit("ann")
    assert admission == Admission(0.0, False, 0.05, ())
    assert admission.note() == ""


def test_a_start_waits_for_the_other_submissions_opening_to_end() -> None:
    machine = FakeMachine()
    gate = machine.gate()
    gate.admit("ann")
    machine.at[machine.now + 3] = lambda: gate.release("ann")
    admission = gate.admit("bob")
    assert admission.waited_for == ("ann",) and not admission.forced
    assert admission.waited_seconds == pytest.approx(3, abs=POLL_SECONDS)
    assert gate.opening() == ["bob"]


def test_with_every_slot_taken_a_start_waits_for_a_workload_to_end_however_quiet_and_long() -> None:
    machine = FakeMachine(pressure=0.0)
    gate = machine.gate(slots=2)
    for name in ("ann", "bob"):
        gate.admit(name)
        gate.release(name)  # openings over, workloads running
    machine.at[machine.now + 300] = lambda: gate.finish("ann")
    admission = gate.admit("carl")
    assert admission.waited_seconds == pytest.approx(300, abs=POLL_SECONDS) and not admission.forced
    assert gate.running() == ["bob", "carl"]


def test_a_start_waits_while_another_submission_sets_up_however_long() -> None:
    """At --parallel 8 the first workloads started while the others deployed and started their functions: every
    opening was late. A submission deploying is the class's own load: never a reason to start anyway."""
    machine = FakeMachine(pressure=0.05)
    gate = machine.gate(wait_seconds=60)
    gate.note_stage("bob", DEPLOY_STAGE)
    machine.at[machine.now + 100] = lambda: gate.note_stage("bob", RESOURCES_STAGE)
    machine.at[machine.now + 200] = lambda: gate.note_stage("bob", WAITING)
    admission = gate.admit("ann")
    assert admission.waited_seconds == pytest.approx(200, abs=POLL_SECONDS) and not admission.forced
    assert admission.waited_for == ("bob",)


def test_a_worker_that_ends_while_setting_up_stops_holding_the_others() -> None:
    machine = FakeMachine()
    gate = machine.gate()
    gate.note_stage("bob", DEPLOY_STAGE)
    machine.at[machine.now + 5] = lambda: gate.finish("bob")  # its deploy failed, its worker ended
    assert gate.admit("ann").waited_seconds == pytest.approx(5, abs=POLL_SECONDS)


def test_the_default_slots_are_two_a_core_unless_set() -> None:
    assert ClassSettings().workload_slots(2) == 4 and ClassSettings(workloads=3).workload_slots(2) == 3


def test_a_start_waits_for_the_cpu_pressure_to_fall_to_the_contended_threshold() -> None:
    machine = FakeMachine(pressure=0.80)
    machine.at[machine.now + 10] = lambda: setattr(machine, "pressure", CONTENDED_PRESSURE)
    admission = machine.gate().admit("ann")
    assert admission.waited_seconds == pytest.approx(10, abs=POLL_SECONDS) and not admission.forced
    assert admission.pressure_avg10 == CONTENDED_PRESSURE


def test_without_psi_only_the_openings_count() -> None:
    assert FakeMachine(pressure=None).gate().admit("ann").waited_seconds == 0


def test_the_wait_is_bounded_then_the_workload_starts_anyway_and_says_so() -> None:
    """Busy from outside the class: ann's workload ended after 20 s, the pressure stayed."""
    machine = FakeMachine(pressure=0.93)
    gate = machine.gate(wait_seconds=60, hold_seconds=600)
    assert gate.admit("ann").forced  # nobody of the class runs: the pressure is another job's
    machine.at[machine.now + 20] = lambda: gate.finish("ann")
    admission = gate.admit("bob")
    assert admission.forced and admission.waited_seconds == pytest.approx(60, abs=POLL_SECONDS)
    assert admission.note() == "started without a quiet start after 60 s (cpu pressure 93%, behind ann)"
    assert gate.opening() == ["bob"] and gate.running() == ["bob"]


def test_while_the_class_s_own_workloads_keep_the_machine_busy_a_start_waits_past_the_bound() -> None:
    """Past its opening ann's workload still keeps the pressure over the bar: bob waits for it to end (it is
    bounded by ann's time limit), not for the 60 s."""
    machine = FakeMachine(pressure=0.05)
    gate = machine.gate(wait_seconds=60, hold_seconds=30)
    gate.admit("ann")
    gate.release("ann")  # its opening is over, its workload runs on
    machine.pressure = 0.93

    def ann_ends() -> None:
        gate.finish("ann")
        machine.pressure = 0.10

    machine.at[machine.now + 200] = ann_ends
    admission = gate.admit("bob")
    assert admission.waited_seconds == pytest.approx(200, abs=POLL_SECONDS) and not admission.forced
    assert gate.running() == ["bob"]


def test_once_the_class_s_workloads_end_a_machine_busy_from_outside_starts_the_waiter() -> None:
    machine = FakeMachine(pressure=0.93)
    gate = machine.gate(wait_seconds=60, hold_seconds=30)
    gate.admit("ann")
    machine.at[machine.now + 200] = lambda: gate.finish("ann")
    admission = gate.admit("bob")
    assert admission.forced and admission.waited_seconds == pytest.approx(200, abs=POLL_SECONDS)


def test_a_holder_that_hangs_in_its_opening_stops_holding_the_gate() -> None:
    machine = FakeMachine()
    gate = machine.gate(hold_seconds=30)
    gate.admit("hangs")
    admission = gate.admit("ann")
    assert admission.waited_seconds == pytest.approx(30, abs=POLL_SECONDS) and not admission.forced
    assert admission.waited_for == ("hangs",)


def test_a_waiter_whose_worker_ended_leaves_the_queue_without_the_gate() -> None:
    machine = FakeMachine(pressure=0.9)
    gate = machine.gate()
    assert gate.admit("gone", alive=lambda: False) is None
    machine.pressure = 0.1
    assert gate.admit("ann").waited_seconds == 0 and gate.opening() == ["ann"]


def test_asking_twice_is_refused() -> None:
    gate = FakeMachine().gate()
    gate.admit("ann")
    with pytest.raises(GraderError, match="asked for a start twice"):
        gate.admit("ann")


def test_starts_are_first_come_first_served() -> None:
    gate = StartGate(lambda: 0.0, hold_seconds=60)
    gate.admit("ann")
    order: list[str] = []
    first = threading.Thread(target=lambda: order.append(gate.admit("bob") and "bob"))
    first.start()
    while "bob" not in gate._queue:  # bob is in line before carl asks
        threading.Event().wait(0.01)
    second = threading.Thread(target=lambda: order.append(gate.admit("carl") and "carl"))
    second.start()
    gate.release("ann")
    first.join(10)
    gate.release("bob")
    second.join(10)
    assert order == ["bob", "carl"]


WORKER = textwrap.dedent("""
    import json, os, sys
    print(json.dumps({"stage": "grading"}), flush=True)
    print(json.dumps({"stage": "waiting"}), flush=True)
    print(sys.stdin.readline(), file=sys.stderr, flush=True)
    os._exit(3)  # a crash in its opening: it never says "opened"
""")


def test_a_worker_that_crashes_while_holding_the_gate_releases_it() -> None:
    gate, stages = StartGate(lambda: 0.0, hold_seconds=600), []
    worker = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    follow(worker.stdout, worker.stdin, gate, "crashing", stages.append, lambda: worker.poll() is None)
    assert worker.wait(10) == 3 and stages == ["grading", WAITING]
    assert Admission.from_json(json.loads(worker.stderr.read())).waited_seconds == 0  # it was admitted
    assert gate.opening() == [] and gate.running() == []
    assert gate.admit("next").waited_seconds == 0


def test_the_protocol_admits_then_releases_on_opened() -> None:
    gate, answers = StartGate(lambda: 0.0, hold_seconds=600), StringIO()
    seen: list[list[str]] = []
    lines = [f'{{"stage": "{WAITING}"}}\n', "not json\n", f'{{"stage": "{OPENED}"}}\n']
    follow(lines, answers, gate, "ann", lambda stage: seen.append(gate.opening()))
    assert seen == [[], ["ann"]] and gate.opening() == []  # each stage is seen before it is acted on
    assert gate.running() == []  # its lines ended: its worker is gone
    assert request_start(lambda stage: None, StringIO(answers.getvalue())).staggered


def test_a_worker_whose_runner_is_gone_starts_at_once() -> None:
    said: list[str] = []
    assert request_start(said.append, StringIO("")) == UNGATED and said == [WAITING]


def test_without_a_gate_every_start_is_answered_at_once() -> None:
    answers = StringIO()
    follow([f'{{"stage": "{WAITING}"}}\n'], answers, None, "ann", lambda stage: None)
    assert Admission.from_json(json.loads(answers.getvalue())) == UNGATED


def test_the_opening_ends_when_the_burst_is_answered() -> None:
    told: list[int] = []

    class Collector:
        def __init__(self) -> None:
            self.answers: list[str] = []

        def received(self) -> list[str]:
            return list(self.answers)

    class Wiring:
        collected = Collector()

        def collector(self, target: object, settings: object) -> Collector:
            return self.collected

    watched = OpeningWatch(Wiring(), 4, lambda: told.append(1)).collector(None, None)
    for answer in range(6):
        watched.received()
        assert len(told) == (answer >= 4)
        Wiring.collected.answers.append(str(answer))
    assert len(told) == 1


@pytest.mark.parametrize(("burst", "count", "answers"), [(4, 100, 4), (4, 2, 2), (1, 1, 1)])
def test_a_workload_smaller_than_its_burst_opens_on_its_last_answer(burst: int, count: int, answers: int) -> None:
    assert ClassSettings(burst=burst, count=count).opening_answers == answers


def test_the_flag_turns_quiet_starts_off() -> None:
    assert _parser().parse_args(["class", "s", "--out", "o"]).stagger is True
    assert _parser().parse_args(["class", "s", "--out", "o", "--no-stagger"]).stagger is False
    assert ClassSettings().stagger is True


def test_the_wait_for_a_quiet_start_is_not_counted_in_the_time_limit() -> None:
    machine = FakeMachine()
    waiting = GateWait(lambda: machine.now)
    waiting.begin()
    machine.sleep(40)
    assert waiting.seconds() == 40
    waiting.end(Admission(42.0, False, 0.1))
    machine.sleep(100)
    assert waiting.seconds() == 42
    sleeper = [sys.executable, "-c", "import time; time.sleep(1)"]
    assert _outlived(subprocess.Popen(sleeper, text=True), 0.1, waiting) is False
    overdue = subprocess.Popen(sleeper, text=True)
    assert _outlived(overdue, 0.1, GateWait()) is True
    overdue.kill()
    overdue.wait()
