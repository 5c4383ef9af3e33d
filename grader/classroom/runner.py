"""The class run: one emulator, a worker process per submission (its own account), `parallel` at a time, each
stopped at the time limit; then the gradebook."""

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from emulator.config import EmulatorConfig
from emulator.daemon import LOG_FILE, free_loopback_port, stop_background
from emulator.lambda_runtime.isolation import ENV_ISOLATION, ENV_ISOLATION_HIDE
from grader.classroom.admission import WAITING, Admission, StartGate, follow
from grader.classroom.contention import DEPLOY_STAGE, RESOURCES_STAGE, Timeline, wait_until_quiet
from grader.classroom.deploy_jail import UNJAILED, ClassFolders, jail_refusal
from grader.classroom.gradebook import write_gradebook
from grader.classroom.manifest import fallback_student, load_manifest
from grader.classroom.regrade import oversubscribed, regraded, set_aside_first_run
from grader.classroom.sandbox import kill_group
from grader.classroom.settings import MANIFEST, ClassSettings, account_id
from grader.classroom.submission import SUMMARY, Summary, account_endpoint, release_bucket_names
from grader.config import PROJECT_ROOT
from grader.errors import ConfigError, GraderError
from grader.run import start_emulator

logger = logging.getLogger(__name__)

STEPS = (DEPLOY_STAGE, RESOURCES_STAGE, "grading")
WAITING_WORDS = "waiting for a quiet start"
STDERR_TAIL = 2000
WORKER_LOG = "worker.log"
UNJAILED_WORDS = ("deploy commands run as the grader's own user, in their own folders: a hostile deploy can read "
                  "the other submissions and the grader's files")


def shared_folders(root: Path) -> tuple[Path, ...]:
    """The sub-folders of root starting with _ (code the submissions share): each jailed deploy gets a copy."""
    return tuple(sorted(p.resolve() for p in root.iterdir() if p.is_dir() and p.name.startswith("_")))


def find_submissions(root: Path) -> list[Path]:
    """Every sub-folder of root not starting with . or _ (shared code), in name order; ConfigError if none."""
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder of submissions")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    if not folders:
        raise ConfigError(f"{root} holds no submission folder (each needs a {MANIFEST})")
    return folders


@contextmanager
def class_emulator(hidden: Sequence[Path] = ()) -> Iterator[tuple[str, Path]]:
    """One emulator with no stack of its own for the whole class: (endpoint, its log file). Its functions run
    isolated per account (EMULATOR_ISOLATION=accounts unless set otherwise), `hidden` out of their sight. It keeps
    no snapshots: its state folder is deleted after the class."""
    state_dir = Path(tempfile.mkdtemp(prefix="grader-class-"))
    config = EmulatorConfig.from_env(port=free_loopback_port(), state_dir=state_dir, persist=False)
    try:
        with _isolated(hidden):
            info = start_emulator(config, ["--no-stack", "--fresh"])
        yield info["endpoint"], state_dir / LOG_FILE
    finally:
        stop_background(config)
        shutil.rmtree(state_dir, ignore_errors=True)


@contextmanager
def _isolated(hidden: Sequence[Path]) -> Iterator[None]:
    """The environment the emulator starts with: isolation on by default, the class's folders hidden."""
    saved = {name: os.environ.get(name) for name in (ENV_ISOLATION, ENV_ISOLATION_HIDE)}
    os.environ.setdefault(ENV_ISOLATION, "accounts")
    os.environ[ENV_ISOLATION_HIDE] = os.pathsep.join(
        filter(None, [saved[ENV_ISOLATION_HIDE], *(str(p.resolve()) for p in hidden)]))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def grade_class(root: Path, out: Path, settings: ClassSettings, console: Console) -> list[Summary]:
    """Grade every submission under root into out, then regrade alone those whose timing lines failed on a busy
    machine (unless settings.regrade is off); write grades.csv and index.html; return the summaries."""
    folders = find_submissions(root)
    out.mkdir(parents=True, exist_ok=True)
    refused = jail_refusal()
    cores = os.cpu_count() or 1
    at_once = min(settings.parallel, settings.workload_slots(cores)) if settings.stagger else settings.parallel
    warnings = [w for w in (oversubscribed(at_once, cores, settings.regrade),
                            refused and f"{UNJAILED_WORDS} ({refused})") if w]
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    duplicates = _duplicate_students(folders)
    linked = [f.resolve() for f in folders if not f.resolve().is_relative_to(root.resolve())]  # symlinked elsewhere
    gate, timeline = (StartGate(slots=settings.workload_slots(cores)) if settings.stagger else None), Timeline()
    with class_emulator([root, out, *linked]) as (endpoint, log), _progress(console) as progress:
        jail = UNJAILED if refused else ClassFolders((root.resolve(), out.resolve(), *linked, log.parent),
                                                    shared_folders(root))
        overall = progress.add_task("[bold]class", total=len(folders))
        tasks = {folder: progress.add_task(folder.name, total=len(STEPS) + 1, start=False) for folder in folders}

        def one(indexed: tuple[int, Path]) -> Summary:
            index, folder = indexed
            if folder in duplicates:
                summary = Summary(fallback_student(folder), str(folder), account_id(index), note=duplicates[folder])
            else:
                summary = _run_worker(folder, out, account_id(index), endpoint, settings, progress, tasks[folder],
                                      Watch(gate, timeline), jail)
            progress.update(tasks[folder], completed=len(STEPS) + 1,
                            description=f"{folder.name}: {summary.stage} {summary.total:g}")
            progress.advance(overall)
            return summary

        with ThreadPoolExecutor(settings.parallel, thread_name_prefix="submission") as pool:
            try:
                summaries = list(pool.map(one, enumerate(folders)))
            except BaseException:  # interrupted: end the workers, or the pool waits for each to finish its run
                LIVE_WORKERS.kill_all()
                raise
        if settings.regrade:
            summaries = _regrade_alone(summaries, folders, out, endpoint, settings, progress, jail)
        if log.is_file():
            shutil.copy2(log, out / "emulator.log")
    write_gradebook(summaries, out, warnings)
    return summaries


def _regrade_alone(summaries: list[Summary], folders: Sequence[Path], out: Path, endpoint: str,
                   settings: ClassSettings, progress: Progress, jail: ClassFolders) -> list[Summary]:
    """Grade again, one at a time, each submission that failed a timing line on a busy machine: in a fresh account
    (its first one's buckets deleted, bucket names being global), never flagged again (regrade off), each once the
    machine is quiet (other jobs) or after settings.quiet_wait s (that wait stands for the start gate's)."""
    chosen = [index for index, summary in enumerate(summaries) if summary.failed_on_a_busy_machine]
    if not chosen:
        return summaries
    overall = progress.add_task("[bold]regrades alone", total=len(chosen))
    once = settings.model_copy(update={"regrade": False})
    result = list(summaries)
    for index in chosen:
        folder, first = folders[index], summaries[index]
        set_aside_first_run(out / first.student)
        task = progress.add_task(f"{folder.name} (alone): waiting for a quiet machine", total=len(STEPS) + 1,
                                 start=False)
        wait_until_quiet(settings.quiet_wait)
        release_bucket_names(account_endpoint(first.account, endpoint))
        again = _run_worker(folder, out, account_id(len(folders) + index), endpoint, once, progress, task,
                            Watch(None, Timeline()), jail)
        result[index] = regraded(first, again)
        result[index].write(out / first.student)
        progress.update(task, completed=len(STEPS) + 1, description=f"{folder.name} (alone): {result[index].total:g}")
        progress.advance(overall)
    return result


class LiveWorkers:
    """The pids of the running worker processes (each leads its own process group)."""

    def __init__(self) -> None:
        self._pids: set[int] = set()
        self._lock = threading.Lock()

    def add(self, pid: int) -> None:
        with self._lock:
            self._pids.add(pid)

    def discard(self, pid: int) -> None:
        with self._lock:
            self._pids.discard(pid)

    def kill_all(self) -> None:
        with self._lock:
            pids = list(self._pids)
        for pid in pids:
            kill_group(pid)


LIVE_WORKERS = LiveWorkers()


@dataclass(frozen=True)
class Watch:
    """What the runner does with a worker's stage lines: admit its workload's start through the gate (None: at
    once), note its deploy and opening on the class's timeline (for the regrade rule's overlaps)."""

    gate: StartGate | None
    timeline: Timeline


def _run_worker(folder: Path, out: Path, account: str, endpoint: str, settings: ClassSettings, progress: Progress,
                task: TaskID, watch: Watch, jail: ClassFolders) -> Summary:
    """The worker process for one submission, killed (with its group) at the time limit; its stderr (warnings,
    a crash's traceback) in DIR/<student>/worker.log; its stages watched; its deploy jailed away from
    jail.hidden; its summary told which other deploys and openings overlapped its opening."""
    progress.start_task(task)
    command = [sys.executable, "-m", "grader.classroom.worker", str(folder.resolve()), "--out", str(out.resolve()),
               "--account", account, "--endpoint", endpoint, "--settings", settings.model_dump_json(),
               *(f"--hide={path}" for path in jail.hidden), *(f"--share={path}" for path in jail.shared)]
    log = out / _student(folder) / WORKER_LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w+b") as stderr:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=stderr, text=True, start_new_session=True)
        LIVE_WORKERS.add(process.pid)
        waiting = GateWait()
        reader = threading.Thread(target=_follow, args=(process, watch, waiting, progress, task, folder.name),
                                  daemon=True)
        reader.start()
        try:
            timed_out = _outlived(process, settings.timeout, waiting)
        finally:  # an interrupted grader (Ctrl-C, SIGTERM) leaves no worker behind: each has a session of its own
            kill_group(process.pid)
            process.wait()
            LIVE_WORKERS.discard(process.pid)
        reader.join()
        overlapped_by = watch.timeline.overlapping(folder.name)
        return _summary_of(folder, out, account, timed_out, settings.timeout, _tail(stderr), overlapped_by)


class GateWait:
    """How long a worker has waited for its workload's start: the grader's wait, not counted in its time limit."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock, self._seconds = clock, 0.0
        self._since: float | None = None

    def begin(self) -> None:
        self._since = self._clock()

    def end(self, admission: Admission) -> None:
        self._since, self._seconds = None, self._seconds + admission.waited_seconds

    def seconds(self) -> float:
        return self._seconds + (self._clock() - self._since if self._since is not None else 0.0)


def _outlived(process: subprocess.Popen[str], limit: float, waiting: GateWait) -> bool:
    """Wait for the process; True when it ran longer than limit s plus its wait for a quiet start."""
    started = time.monotonic()
    while True:
        remaining = started + limit + waiting.seconds() - time.monotonic()
        if remaining <= 0:
            return True
        try:
            process.wait(remaining)
            return False
        except subprocess.TimeoutExpired:
            continue


def _summary_of(folder: Path, out: Path, account: str, timed_out: bool, limit: float, stderr: str,
                overlapped_by: list[str]) -> Summary:
    """The worker's summary.json with the overlaps added; a timeout or a crash (no summary) overrides or stands in
    for it."""
    student = _student(folder)
    path = out / student / SUMMARY
    summary = Summary.read(path) if path.is_file() else Summary(student, str(folder), account)
    summary.overlapped_by = overlapped_by
    if timed_out:
        summary.stage, summary.note = "timeout", f"not graded within {limit:.0f} s (stopped while in {summary.stage})"
        summary.points, summary.passed = {}, False
    elif not path.is_file():
        summary.stage, summary.note = "crashed", f"the grading process ended without a summary: {stderr[-300:]}"
    summary.write(out / student)
    return summary


def _follow(process: subprocess.Popen[str], watch: Watch, waiting: GateWait, progress: Progress,
            task: TaskID, name: str) -> None:
    """Answer the worker's start requests through the gate, note its stages on the timeline and advance its bar on
    each stage line it prints."""

    def show(stage: str) -> None:
        watch.timeline.stage(name, stage)
        if stage == WAITING:
            waiting.begin()
        if stage in STEPS:
            progress.update(task, completed=STEPS.index(stage) + 1, description=f"{name}: {stage}")
        else:
            progress.update(task, description=f"{name}: {WAITING_WORDS if stage == WAITING else 'grading'}")

    try:
        follow(process.stdout or (), process.stdin, watch.gate, name, show, lambda: process.poll() is None,
               waiting.end)
    finally:
        watch.timeline.end(name)
        if process.stdin:
            process.stdin.close()


def _duplicate_students(folders: Sequence[Path]) -> dict[Path, str]:
    """Folders whose manifest names a student an earlier folder already named, with the reason."""
    seen: dict[str, Path] = {}
    duplicates = {}
    for folder in folders:
        student = _student(folder)
        if student in seen:
            duplicates[folder] = f"student {student!r} is also {seen[student].name}: not graded twice"
        seen.setdefault(student, folder)
    return duplicates


def _student(folder: Path) -> str:
    """The manifest's student id, or the folder's name when the manifest is unreadable."""
    try:
        return load_manifest(folder).student
    except GraderError:
        return fallback_student(folder)


def _tail(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read()[-STDERR_TAIL:].decode(errors="replace")


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    columns = (TextColumn("{task.description:<40}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        yield progress
