"""Shared fixtures: a real emulator process (moto + awslambdaric workers) on a free loopback port, or the stack at
the endpoint $FACEPIPE_TEST_ENDPOINT names, so the integration suite runs unchanged on LocalStack or AWS:

- unset or `embedded`: start the embedded emulator (the default);
- a URL (e.g. http://127.0.0.1:4566 after `make up EMULATOR=localstack`): the stack $STACK_NAME there;
- `aws`: the stack $STACK_NAME on AWS, with the environment's credentials and region.

Tests that need the embedded emulator itself (its log, its processes) ask for `emulator` and are skipped elsewhere.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import boto3
import pytest
from hypothesis import settings
from moto.server import ThreadedMotoServer
from xdist.scheduler import LoadFileScheduling
from xdist.workermanage import WorkerController

from contract import (
    DEFAULT_STACK_NAME,
    ENV_STACK_NAME,
    Endpoint,
    FrameKey,
    Origin,
    Outcome,
    Result,
    Student,
    clip_metadata,
    format_stamp,
    frame_key,
    parse_stamp,
    stack_outputs,
    utc_now,
)
from emulator.allocator import long_lived_imports
from emulator.aws.botocore_data import share_parsed_files
from emulator.config import DEFAULT_REGION, DUMMY_CREDENTIALS, dummy_session
from emulator.daemon import ENV_STOP_WITH_PID, free_loopback_port

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PORT_ATTEMPTS = 3
DUMMY_ENV = {**DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION": DEFAULT_REGION}
ENV_TEST_ENDPOINT = "FACEPIPE_TEST_ENDPOINT"
EMBEDDED, AWS = "embedded", "aws"
MR_BEAN = Outcome.face(0, "mr_bean", 0.97, (10, 60, 70, 5), Student("mr_bean", "lawyer", "freshmen"))
TIMINGS = {"download": 3.1, "recognize": 80.2, "lookup": 2.0, "total": 90.0}


def result_body(device_id: str, stamp: str, frame_index: int, outcome: Outcome, /, *, uploaded_at: str | None = None,
                classified_at: str | None = None, model_version: str = "test",
                timings: Mapping[str, float] = TIMINGS, **overrides: Any) -> dict[str, Any]:
    """A result message made by the contract's builder, as a dict; keyword arguments override (or break) fields."""
    frame = FrameKey.parse(frame_key(device_id, stamp, frame_index))
    origin = Origin.of_frame(frame, clip_metadata(device_id, stamp, uploaded_at or stamp), stamp, model_version)
    return Result.of(origin, outcome, parse_stamp(classified_at or stamp), timings).to_dict() | overrides


# Hypothesis fails an example slower than 200 ms by default: a wall-clock assertion, which a busy machine fails
# (test_lambda_limits, beside another job: 385 ms once, 21 ms on the retry). No deadline in this suite.
settings.register_profile("facepipe", deadline=None)
settings.load_profile("facepipe")

FILE_SECONDS = "facepipe/file-seconds"  # .pytest_cache key: each test file's seconds in the last run that ran it


def _file_rank(tests: list[pytest.Item]) -> int:
    """0 for a file with a `slow` test, 1 with an `integration` test, else 2."""
    if any(test.get_closest_marker("slow") for test in tests):
        return 0
    return 1 if any(test.get_closest_marker("integration") for test in tests) else 2


def _test_file(nodeid: str) -> str:
    return nodeid.split("::")[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first: pytest-xdist (`--dist loadfile --no-loadscope-reorder`) runs each file whole on one
    worker, in this order, so no long file starts last. Files with slow tests, then integration ones, then the rest
    (markers); within each, by the seconds the last run that ran them took (FILE_SECONDS), files not timed first."""
    by_file: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(_test_file(item.nodeid), []).append(item)
    timed: dict[str, float] = config.cache.get(FILE_SECONDS, {}) if getattr(config, "cache", None) else {}
    order = {path: (_file_rank(tests), -timed.get(path, math.inf)) for path, tests in by_file.items()}
    items.sort(key=lambda item: order[_test_file(item.nodeid)])


class FileTimer:
    """Adds up each test file's setup, call and teardown seconds, and saves them for the next run's order (in the
    process that reports: the only one with -n 0, the controller with pytest-xdist)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        path = _test_file(report.nodeid)
        self.seconds[path] = self.seconds.get(path, 0.0) + report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if getattr(session.config, "cache", None) is not None and self.seconds:
            timed = session.config.cache.get(FILE_SECONDS, {})
            session.config.cache.set(FILE_SECONDS, {**timed, **{p: round(s, 2) for p, s in self.seconds.items()}})


class FileByFile(LoadFileScheduling):
    """pytest-xdist's loadfile, but a worker is sent its next file only once it is down to the last test of its
    files (which it holds until it knows what runs next), not with two left: a file sent early waits behind the
    worker's long test while another worker may be free."""

    def _reschedule(self, node: WorkerController) -> None:
        if self.workqueue and self._pending_of(self.assigned_work[node]) > 1:
            return
        super()._reschedule(node)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling | None:
    return FileByFile(config, log) if config.getoption("dist") == "loadfile" else None


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Iterator[None]:
    """What collection imports (moto, boto3, the project) lives as long as the process: frozen after it, so the
    process's later collections do not walk it again and again."""
    with long_lived_imports():
        return (yield)


def pytest_configure(config: pytest.Config) -> None:
    share_parsed_files()  # the tests make a boto3 session per client: each would parse botocore's files again
    if not hasattr(config, "workerinput"):  # a pytest-xdist worker reports to the controller, which times
        config.pluginmanager.register(FileTimer(), "facepipe-file-timer")
        _compile_once_before_the_workers(config)


def _compile_once_before_the_workers(config: pytest.Config) -> None:
    """With pytest-xdist and a bytecode folder not made yet (`make test` on a fresh clone sets PYTHONPYCACHEPREFIX
    to .pytest_cache/pycache): one collection compiles what the tests import before the workers start; otherwise
    every worker compiles the same modules at once (moto, botocore, the project: ~7 CPU-s each), and so do the
    emulators they start."""
    prefix = sys.pycache_prefix
    if not config.getoption("numprocesses", None) or prefix is None or Path(prefix).exists():
        return
    collect = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n0", "-p", "no:cacheprovider", *config.args]
    subprocess.run(collect, cwd=config.invocation_params.dir, capture_output=True, check=False)  # errors: the run's own


@pytest.fixture
def make_result() -> Callable[..., dict[str, Any]]:
    """Build docs/contracts.md's example message (mr_bean, captured 300 ms ago); keyword arguments override fields."""

    def build(frame_index: int = 0, **overrides: Any) -> dict[str, Any]:
        now = utc_now()
        return result_body("pi-1", format_stamp(now - timedelta(milliseconds=300)), frame_index, MR_BEAN,
                           uploaded_at=format_stamp(now - timedelta(milliseconds=250)),
                           classified_at=format_stamp(now), model_version="ab12cd34", **overrides)

    return build


@dataclass
class RunningEmulator:
    """A started `python -m emulator serve` process and how to talk to it."""

    process: subprocess.Popen[bytes]
    endpoint: str
    outputs: dict[str, str]
    state_dir: Path
    log_path: Path

    def client(self, service: str) -> Any:
        return dummy_session().client(service, endpoint_url=self.endpoint)

    def env(self) -> dict[str, str]:
        """An environment for child processes (device, grader) pointed at this emulator."""
        return {**os.environ, **DUMMY_ENV, "AWS_ENDPOINT_URL": self.endpoint}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class PortTakenError(RuntimeError):
    """The emulator found its port taken: another process bound it after free_loopback_port chose it."""


def start_emulator(state_dir: Path, *args: str, env: dict[str, str] | None = None,
                   timeout: float = 120.0, port: int | None = None) -> RunningEmulator:
    """Starts an emulator subprocess (on a free port unless given one) and waits for its ready file. A port chosen
    here can be taken by another process before the emulator binds it (nothing reserves it): then another one is
    chosen, up to PORT_ATTEMPTS times."""
    for _ in range(PORT_ATTEMPTS - 1):
        try:
            return _start_emulator(state_dir, args, env, timeout, port or free_loopback_port())
        except PortTakenError:
            if port is not None:
                raise
    return _start_emulator(state_dir, args, env, timeout, port or free_loopback_port())


def _start_emulator(state_dir: Path, args: tuple[str, ...], env: dict[str, str] | None, timeout: float,
                    port: int) -> RunningEmulator:
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "emulator.log"
    child_env = {**os.environ, **DUMMY_ENV, "EMULATOR_STATE_DIR": str(state_dir), ENV_STOP_WITH_PID: str(os.getpid()),
                 **(env or {})}
    child_env.pop("AWS_ENDPOINT_URL", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "emulator", "serve", "--port", str(port), *args],
                                   cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT)
    ready = state_dir / "emulator.json"
    ready.unlink(missing_ok=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log_path.read_text()[-3000:]
            error = PortTakenError if f"port {port} on 127.0.0.1 is already in use" in output else RuntimeError
            raise error(f"emulator exited {process.returncode}:\n{output}")
        if ready.is_file():
            info = json.loads(ready.read_text())
            return RunningEmulator(process, info["endpoint"], info["outputs"], state_dir, log_path)
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"emulator not ready in {timeout} s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A bare moto server (no Lambda service, no stack) for the session, stopped at the end."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class StackUnderTest(Protocol):
    """What the pipeline tests need of a deployed stack, wherever it runs."""

    outputs: dict[str, str]

    def client(self, service: str) -> Any: ...


@dataclass
class RemoteStack:
    """A stack deployed at another endpoint (LocalStack) or on AWS, reached with the environment's credentials."""

    endpoint: Endpoint
    outputs: dict[str, str]

    def client(self, service: str) -> Any:
        return self.endpoint.client(service)


def endpoint_target() -> str:
    """`embedded`, `aws` or an endpoint URL, from $FACEPIPE_TEST_ENDPOINT."""
    return os.environ.get(ENV_TEST_ENDPOINT) or EMBEDDED


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> StackUnderTest:
    """The stack the integration tests use: the embedded emulator's, or the one $FACEPIPE_TEST_ENDPOINT names."""
    target = endpoint_target()
    if target == EMBEDDED:
        return request.getfixturevalue("emulator")
    session = boto3.Session()
    if target != AWS and session.get_credentials() is None:
        session = dummy_session(session.region_name or DEFAULT_REGION)  # an emulator takes any credentials
    endpoint = Endpoint(session, None if target == AWS else target)
    name = os.environ.get(ENV_STACK_NAME) or DEFAULT_STACK_NAME
    return RemoteStack(endpoint, stack_outputs(endpoint.client("cloudformation"), name))


def embedded_only(reason: str) -> pytest.MarkDecorator:
    """Skips a test that starts emulators of its own when the tests target another endpoint."""
    return pytest.mark.skipif(endpoint_target() != EMBEDDED, reason=f"{reason}; {ENV_TEST_ENDPOINT} is set")


def embedded_emulator(state_dir: Path, why: str) -> Iterator[RunningEmulator]:
    """A started emulator with the stack deployed, stopped after; skipped when the tests target another endpoint."""
    if endpoint_target() != EMBEDDED:
        pytest.skip(f"{why}; {ENV_TEST_ENDPOINT} is {endpoint_target()}")
    running = start_emulator(state_dir, env={"EMULATOR_ASYNC_RETRY_DELAYS": "0.2,0.4"})
    yield running
    running.stop()


def collected_results(stack: StackUnderTest) -> Iterator[Any]:
    """A collector of the stack's results queue, stopped after."""
    from tests.pipeline.conftest import ResultCollector  # imported late: that module imports this one

    collector = ResultCollector(stack.client("sqs"), stack.outputs["ResultsQueueUrl"])
    yield collector
    collector.stop()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """One emulator with the project's stack deployed, shared by the tests that need the emulator itself."""
    yield from embedded_emulator(tmp_path_factory.mktemp("emulator"), "needs the embedded emulator (log, processes)")


@pytest.fixture(scope="session")
def results(stack: StackUnderTest) -> Iterator[Any]:
    """The one collector of the stack's results queue (two would steal each other's messages)."""
    yield from collected_results(stack)
