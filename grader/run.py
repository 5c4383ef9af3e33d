"""One grading run: pick the target, send the workload, collect the results, check, score, report."""

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import boto3
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from contract import Endpoint, MalformedResultError, Result, client_config
from emulator.config import EmulatorConfig, dummy_session
from emulator.daemon import LOG_FILE, free_loopback_port, start_background, stop_background
from emulator.errors import NotRunningError
from grader.checker import Expected, check
from grader.collector import Collector, Received
from grader.config import ENV_ENDPOINT, RunSettings, Stack, Thresholds, resolve_stack
from grader.errors import GraderError
from grader.metrics import FunctionMetrics, collect_metrics
from grader.permissions import missing_permissions
from grader.report import Outcome, RunInfo
from grader.rubric import score
from grader.sender import Sender, Upload
from grader.workload import WorkItem, load_students

logger = logging.getLogger(__name__)

LOCAL_METRICS_WAIT = 20.0
AWS_METRICS_WAIT = 300.0
TICK_SECONDS = 0.2
LOG_TAIL_LINES = 15


@dataclass(frozen=True)
class Target:
    """Where a run goes: its endpoint, the stack's resources, a description without secrets, the emulator's log."""

    endpoint: Endpoint
    stack: Stack
    description: str
    local: bool
    log_path: Path | None = None
    submission: str | None = None


class Wiring(Protocol):
    """How a run reaches a deployment: what uploads the workload and what collects the answers."""

    def sender(self, target: Target, settings: RunSettings) -> Sender: ...

    def collector(self, target: Target, settings: RunSettings) -> Collector: ...


class QueueWiring:
    """docs/contracts.md's wiring: clips to `videos/<device>/<stamp>.mp4`, answers on the results queue."""

    def sender(self, target: Target, settings: RunSettings) -> Sender:
        s3 = target.endpoint.client("s3", client_config(max_pool_connections=settings.upload_threads + 2))
        return Sender(s3, target.stack.bucket, settings.device_id, settings.rate, settings.upload_threads,
                      settings.burst)

    def collector(self, target: Target, settings: RunSettings) -> Collector:
        sqs_config = client_config(read_timeout=30, max_pool_connections=settings.receive_threads + 2)
        sqs = target.endpoint.client("sqs", sqs_config)
        return Collector(sqs, target.stack.queue_url, settings.receive_threads)


@contextmanager
def embedded_emulator(lambdas: Path | None = None, template: Path | None = None) -> Iterator[Target]:
    """Start an emulator (free port, temporary state dir, no snapshots: the folder is deleted after) with the
    submission's handlers; stop it after."""
    state_dir = Path(tempfile.mkdtemp(prefix="grader-emulator-"))
    config = EmulatorConfig.from_env(port=free_loopback_port(), state_dir=state_dir, persist=False)
    extra = [
        *(["--lambdas", str(lambdas.resolve())] if lambdas else []),
        *(["--template", str(template.resolve())] if template else []),
    ]
    try:
        info = start_emulator(config, extra)
        endpoint = Endpoint(dummy_session(info["region"]), info["endpoint"])
        description = f"embedded emulator {info['endpoint']}"
        submission = str(lambdas) if lambdas else None
        yield Target(endpoint, Stack.from_outputs(info["outputs"]), description, True, state_dir / LOG_FILE, submission)
    finally:
        stop_background(config)
        shutil.rmtree(state_dir, ignore_errors=True)


def start_emulator(config: EmulatorConfig, extra: list[str]) -> dict[str, Any]:
    """start_background, with the end of the emulator's log in the error (its state dir is deleted after)."""
    try:
        return start_background(config, extra, stop_with_caller=True)
    except NotRunningError as exc:
        log = config.state_dir / LOG_FILE
        tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:] if log.is_file() else []
        raise GraderError("\n".join([f"the embedded emulator did not start: {exc}", *tail])) from exc


@contextmanager
def environment_target(endpoint: str | None = None) -> Iterator[Target]:
    """The target the environment names: --endpoint > $AWS_ENDPOINT_URL > AWS; resources per contracts.md."""
    session = boto3.Session()
    url = endpoint or os.environ.get(ENV_ENDPOINT) or None
    target = Endpoint(session, url)
    stack = resolve_stack(target.client("cloudformation"))
    if url:
        yield Target(target, stack, f"endpoint {_without_userinfo(url)}", True)
    else:
        yield Target(target, stack, f"AWS ({session.region_name or 'no region'})", False)


def grade(
    settings: RunSettings,
    thresholds: Thresholds,
    items: Sequence[WorkItem],
    target: Target,
    students_path: Path,
    console: Console,
    wiring: Wiring | None = None,
) -> Outcome:
    """Send the workload to the target, collect and check the results, read the metrics, score."""
    students = load_students(students_path)
    wiring = wiring or QueueWiring()
    collector = wiring.collector(target, settings)
    started = time.time()
    collector.start()
    try:
        uploads, timed_out = _send_and_wait(settings, items, wiring.sender(target, settings), collector, console)
    finally:
        received = collector.stop()
    expected = _expected(items, uploads)
    console.print("reading Lambda metrics ...")
    functions = (target.stack.frame_extractor, target.stack.face_classifier)
    metrics, settled = _read_metrics(settings, target, functions, started, sum(u.error is None for u in uploads))
    verdict = check(expected, received, students, thresholds.latency_limit_ms)
    extractor, classifier = metrics[functions[0]], metrics[functions[1]]
    info = RunInfo(
        settings.workload,
        len(items),
        settings.rate,
        settings.device_id,
        target.description,
        target.stack,
        started,
        time.time(),
        timed_out,
        settled,
        target.submission,
    )
    return Outcome(
        info,
        verdict,
        thresholds,
        score(verdict, extractor, classifier, thresholds),
        {"frame_extractor": extractor, "face_classifier": classifier},
        uploads,
        received,
        tuple(p for p in [target.log_path] if p is not None and p.is_file()),
        missing_permissions(target.endpoint, functions) if target.local else (),
    )


def _read_metrics(
    settings: RunSettings, target: Target, functions: tuple[str, str], started: float, sent: int
) -> tuple[dict[str, FunctionMetrics], bool]:
    """Both functions' metrics, waiting until the extractor shows an invocation per upload (or the wait ends)."""
    wait = settings.metrics_wait
    if wait is None:
        wait = LOCAL_METRICS_WAIT if target.local else AWS_METRICS_WAIT
    cloudwatch, logs = target.endpoint.client("cloudwatch"), target.endpoint.client("logs")
    return collect_metrics(cloudwatch, logs, functions, started, wait, {functions[0]: sent})


def _send_and_wait(
    settings: RunSettings, items: Sequence[WorkItem], sender: Sender, collector: Collector, console: Console
) -> tuple[list[Upload], bool]:
    """Upload on schedule with a progress bar; wait for every answer (then `settle` s) or `timeout` s."""
    stop = threading.Event()
    done: list[list[Upload]] = []
    thread = threading.Thread(target=lambda: done.append(sender.run(items, stop)), name="sender", daemon=True)
    tracker = _AnswerTracker()
    columns = (TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        sent_task = progress.add_task("uploaded", total=len(items))
        answered_task = progress.add_task("answered", total=len(items))
        thread.start()
        try:
            timed_out = _wait(settings, thread, sender, collector, tracker, progress, (sent_task, answered_task))
        finally:
            stop.set()
            thread.join()
    return (done[0] if done else []), timed_out


def _wait(
    settings: RunSettings,
    thread: threading.Thread,
    sender: Sender,
    collector: Collector,
    tracker: "_AnswerTracker",
    progress: Progress,
    tasks: tuple[int, int],
) -> bool:
    """Tick until all sent uploads are answered and quiet for `settle` s; True if `timeout` ended it."""
    uploads_done_at: float | None = None
    while True:
        time.sleep(TICK_SECONDS)
        sent_keys = sender.sent_keys()
        received = collector.received()
        answered = tracker.update(received, sent_keys)
        progress.update(tasks[0], completed=len(sent_keys))
        progress.update(tasks[1], completed=answered)
        if thread.is_alive():
            continue
        now = time.time()
        uploads_done_at = uploads_done_at or now
        quiet = not received or now - received[-1].received_at >= settings.settle
        if answered >= len(sent_keys) and quiet:
            return False
        if now - uploads_done_at >= settings.timeout:
            logger.warning(
                "timeout: %d of %d uploads answered after %.0f s", answered, len(sent_keys), settings.timeout
            )
            return True


class _AnswerTracker:
    """Which sent clips have at least one valid result so far (parsed incrementally)."""

    def __init__(self) -> None:
        self._seen = 0
        self._clips: set[str] = set()

    def update(self, received: Sequence[Received], sent_keys: set[str]) -> int:
        """Parse the new messages; return how many sent clips are answered."""
        for message in received[self._seen :]:
            try:
                self._clips.add(Result.from_json(message.body).clip_key)
            except MalformedResultError:
                logger.debug("malformed message %s (the checker lists it)", message.message_id)
        self._seen = len(received)
        return len(self._clips & sent_keys)


def _expected(items: Sequence[WorkItem], uploads: Sequence[Upload]) -> list[Expected]:
    """The expected answer per workload item; unsent or failed uploads have no upload time."""
    by_index = {u.index: u for u in uploads}
    expected = []
    for index, item in enumerate(items):
        upload = by_index.get(index)
        if upload is None:
            expected.append(
                Expected(
                    f"(not sent) {item.name}",
                    item.name,
                    item.source,
                    item.persons,
                    None,
                    "not sent: the run was stopped",
                )
            )
        else:
            uploaded_at = upload.started_at if upload.error is None else None
            expected.append(Expected(upload.key, item.name, item.source, item.persons, uploaded_at, upload.error))
    return expected


def _without_userinfo(url: str) -> str:
    """The URL without any user:password part."""
    parts = urlsplit(url)
    return (
        parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()
        if parts.hostname
        else url
    )
