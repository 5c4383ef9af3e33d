"""Emulator benchmark: start time, Lambda cold start, the cost of one boto3 call (S3 PUT 50 KB, S3 HEAD, SQS send,
warm Lambda invoke), S3 put -> handler start, the classifier's environments from a snapshot (restore time,
memory), hot reload, and building the classifier's per-function environment (its Dockerfile's requirements, from
the wheelhouse) from a cold and a warm cache.

Prints medians over repeated runs. Targets on a 2-core machine: start <= 2 s, S3 HEAD <= 5 ms, S3 PUT 50 KB
<= 6 ms, warm invoke <= 10 ms,
S3 put -> handler start <= 50 ms, a new classifier environment <= 50 ms median / 100 ms p95, ten of them
with their template <= 4x the memory (PSS) of one spawned environment, the classifier's environment built from a
warm cache <= 10 s.

`--against URL` (repeatable) runs only the per-call benchmark, on the embedded emulator and on each URL (another
local emulator, say), in interleaved rounds: `.venv/bin/python bench/bench_emulator.py --against http://127.0.0.1:4567`.
Its clients sign with the emulator's dummy key, which the emulator's IAM gate lets through unexamined; `--access-key
test` signs with the key users of other emulators set, which the gate examines (a key it never issued: the account's
administrator).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console
from rich.table import Table

from contract.aws import DEFAULT_REGION
from emulator.config import ENV_COLD_START, PROJECT_ROOT, EmulatorConfig, dummy_session
from emulator.daemon import background_emulator, free_loopback_port, start_background, stop_background
from emulator.dockerfile import ImageSource, read_image
from emulator.lambda_runtime import DEFAULT_WHEELHOUSE, EnvironmentBuilder, worker_processes
from grader.metrics import read_report_lines

STARTS = 3
COLD_STARTS = 5
API_CALLS = 200
COMPARE_ROUNDS = 10  # short rounds: a burst of the machine's other load falls on every endpoint alike
API_TARGETS_MS = {"S3 PUT 50 KB": "<= 6", "S3 HEAD": "<= 5"}
PUT_BYTES = 50_000
S3_EVENTS = 30
RESTORE_ROUNDS = 5
BURST = 10
RELOADS = 3
ENV_BUILDS = 3
NO_RECORDS = json.dumps({"Records": []}).encode()
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "lambda.amazonaws.com"}}]}
ECHO = "def lambda_handler(event, context):\n    return event\n"
STAMP = (
    "import json, os, time, boto3\n_sqs = boto3.client('sqs')\n\n"
    "def lambda_handler(event, context):\n    started = time.time()\n"
    "    _sqs.send_message(QueueUrl=os.environ['REPORT_QUEUE_URL'], MessageBody=json.dumps({'started': started}))\n"
)



def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def _client(endpoint: str, service: str, session: boto3.Session | None = None) -> Any:
    return (session or dummy_session()).client(service, endpoint_url=endpoint)


def measure_start(state_root: Path, *args: str) -> list[float]:
    """Seconds from spawning `python -m emulator serve ARGS` until it reports ready."""
    times = []
    for run in range(STARTS):
        config = EmulatorConfig(port=free_loopback_port(), state_dir=state_root / f"start-{run}")
        began = time.perf_counter()
        start_background(config, list(args), stop_with_caller=True)
        times.append(time.perf_counter() - began)
        stop_background(config)
    return times


LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                       "Principal": {"Service": "lambda.amazonaws.com"}}]}


def _bench_role(endpoint: str) -> str:
    """The execution role of the bench's functions (Lambda refuses a role it may not assume)."""
    iam = _client(endpoint, "iam")
    try:
        return str(iam.get_role(RoleName="bench")["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        return str(iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"])


def _function(endpoint: str, source: str, env: dict[str, str] | None = None) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    _client(endpoint, "lambda").create_function(
        FunctionName=name, Runtime="python3.11", Handler="app.lambda_handler", Code={"ZipFile": _zip(source)},
        Role=_bench_role(endpoint), Environment={"Variables": env or {}})
    return name


def measure_invokes(endpoint: str) -> tuple[list[float], list[float]]:
    """Cold (first call on a new function) and warm round trips of a trivial handler, in ms."""
    lam = _client(endpoint, "lambda")
    cold = []
    for _ in range(COLD_STARTS):
        name = _function(endpoint, ECHO)
        began = time.perf_counter()
        lam.invoke(FunctionName=name, Payload=b"{}")
        cold.append((time.perf_counter() - began) * 1000)
    return cold, _per_call(lambda _: lam.invoke(FunctionName=name, Payload=b"{}"))


class ApiCalls:
    """One endpoint's bucket and queue, and its boto3 clients, connected once: S3 PUT of 50 KB, S3 HEAD of those
    objects, SQS send, timed per call."""

    def __init__(self, endpoint: str, session: boto3.Session | None = None) -> None:
        self._s3, self._sqs = _client(endpoint, "s3", session), _client(endpoint, "sqs", session)
        self._bucket = f"bench-{uuid.uuid4().hex[:8]}"
        self._s3.create_bucket(Bucket=self._bucket)
        self._queue = self._sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        self._body = b"x" * PUT_BYTES

    def run(self, numbers: range) -> dict[str, list[float]]:
        """ms of each call, per kind, for the objects and messages numbered `numbers`."""
        s3, sqs, bucket, queue, body = self._s3, self._sqs, self._bucket, self._queue, self._body
        return {
            "S3 PUT 50 KB": _per_call(lambda n: s3.put_object(Bucket=bucket, Key=f"api/{n}", Body=body), numbers),
            "S3 HEAD": _per_call(lambda n: s3.head_object(Bucket=bucket, Key=f"api/{n}"), numbers),
            "SQS send": _per_call(lambda n: sqs.send_message(QueueUrl=queue, MessageBody=f"message {n}"), numbers),
        }


def measure_api_calls(endpoint: str) -> dict[str, list[float]]:
    """ms per boto3 call on clients already connected: S3 PUT of 50 KB, S3 HEAD of those objects, SQS send."""
    return ApiCalls(endpoint).run(range(API_CALLS))


def compare_api_calls(endpoints: dict[str, str], session: boto3.Session | None = None
                      ) -> dict[str, dict[str, list[float]]]:
    """measure_api_calls on each endpoint (label -> URL), in COMPARE_ROUNDS interleaved rounds, so that the
    machine's other load falls on all of them alike."""
    callers = {label: ApiCalls(url, session) for label, url in endpoints.items()}
    times: dict[str, dict[str, list[float]]] = {label: {} for label in endpoints}
    per_round = API_CALLS // COMPARE_ROUNDS
    for round_ in range(COMPARE_ROUNDS):
        for label, caller in callers.items():
            for kind, values in caller.run(range(round_ * per_round, (round_ + 1) * per_round)).items():
                times[label].setdefault(kind, []).extend(values)
    return times


def _per_call(call: Callable[[int], object], numbers: range = range(API_CALLS)) -> list[float]:
    """ms of each call of `call(n)`, n in `numbers`."""
    times = []
    for n in numbers:
        began = time.perf_counter()
        call(n)
        times.append((time.perf_counter() - began) * 1000)
    return times


def measure_s3_to_handler(endpoint: str) -> list[float]:
    """ms from the start of an S3 PUT to the first line of the notified handler (warm worker)."""
    sqs, s3, lam = (_client(endpoint, s) for s in ("sqs", "s3", "lambda"))
    queue = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    name = _function(endpoint, STAMP, {"REPORT_QUEUE_URL": queue})
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    lam.add_permission(FunctionName=arn, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    latencies = []
    for n in range(S3_EVENTS + 1):
        put_at = time.time()
        s3.put_object(Bucket=bucket, Key=f"videos/bench/{n}.mp4", Body=b"x" * 100_000)
        message = _receive_one(sqs, queue)
        if n:  # the first event pays the cold start
            latencies.append((json.loads(message["Body"])["started"] - put_at) * 1000)
    return latencies


def _receive_one(sqs: Any, queue: str) -> dict[str, Any]:
    while True:
        messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5).get("Messages", [])
        if messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"])
            return messages[0]


def measure_classifier_environments(endpoint: str, emulator_pid: int) -> tuple[list[float], list[float], float]:
    """Restore Durations (ms) of classifier environments forked one at a time and in bursts of 10, and the PSS
    (MiB) of the template plus the environments alive after the last burst."""
    lam = _client(endpoint, "lambda")
    function = _stack_function(lam, "face-classifier")
    alone = []
    for round_ in range(RESTORE_ROUNDS):
        _new_version(lam, function, f"alone-{round_}")  # a new snapshot, so the next event needs a new environment
        since = time.time()
        lam.invoke(FunctionName=function, Payload=NO_RECORDS)
        alone += _restores(_reports_settled(endpoint, function, since, 1))
    in_bursts = []
    for round_ in range(RESTORE_ROUNDS):
        _new_version(lam, function, f"burst-{round_}")
        since = time.time()
        _burst(lam, function, BURST)
        in_bursts += _restores(_reports_settled(endpoint, function, since, BURST))
    processes = [w for w in worker_processes(emulator_pid, include_templates=True) if w.function == function]
    return alone, in_bursts, _pss_mib(processes)


def _restores(reports: list[Any]) -> list[float]:
    return [r.restore_duration_ms for r in reports if r.restore_duration_ms is not None]


def measure_spawned_environment(state_root: Path) -> float:
    """PSS (MiB) of one classifier environment that ran INIT itself (EMULATOR_COLD_START=spawn)."""
    os.environ[ENV_COLD_START] = "spawn"
    try:
        with background_emulator(state_root / "spawn") as info:
            lam = _client(info["endpoint"], "lambda")
            function = _stack_function(lam, "face-classifier")
            lam.invoke(FunctionName=function, Payload=NO_RECORDS)
            return _pss_mib([w for w in worker_processes(info["pid"]) if w.function == function])
    finally:
        del os.environ[ENV_COLD_START]


def measure_hot_reload(state_root: Path) -> list[float]:
    """Seconds from saving a change to the frame extractor's app.py until an invocation answers with it."""
    lambdas = state_root / "lambdas"
    shutil.copytree(PROJECT_ROOT / "lambdas", lambdas, ignore=shutil.ignore_patterns("__pycache__"))
    app = lambdas / "frame_extractor" / "app.py"
    source = app.read_text()
    times = []
    with background_emulator(state_root / "reload", ["--lambdas", str(lambdas)]) as info:
        lam = _client(info["endpoint"], "lambda")
        function = _stack_function(lam, "frame-extractor")
        lam.invoke(FunctionName=function, Payload=NO_RECORDS)
        for n in range(RELOADS):
            app.write_text(source.replace('return {"frames": written}', f'return {{"frames": written, "n": {n}}}'))
            saved = time.perf_counter()
            while json.loads(lam.invoke(FunctionName=function, Payload=NO_RECORDS)["Payload"].read()).get("n") != n:
                time.sleep(0.01)
            times.append(time.perf_counter() - saved)
    return times


def _stack_function(lam: Any, suffix: str) -> str:
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"] if f["FunctionName"].endswith(suffix)]
    if len(names) != 1:
        raise SystemExit(f"expected one stack function ending in {suffix!r}, found {names}")
    return names[0]


def _new_version(lam: Any, function: str, round_: str) -> None:
    variables = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=function,
                                      Environment={"Variables": {**variables, "BENCH_ROUND": round_}})


def _burst(lam: Any, function: str, count: int) -> None:
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(lambda _: lam.invoke(FunctionName=function, Payload=NO_RECORDS), range(count)))


def _reports_settled(endpoint: str, function: str, since: float, expected: int) -> list[Any]:
    logs = _client(endpoint, "logs")
    deadline = time.monotonic() + 30
    while len(reports := read_report_lines(logs, function, since, time.time() + 1)) < expected:
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return reports


def measure_environment_builds(state_root: Path) -> tuple[list[float], list[float], list[float]]:
    """The classifier's environment (s): from an empty cache, from a warm uv cache (a new recipe's venv), and
    already built (a second start)."""
    image = read_image(ImageSource(PROJECT_ROOT / "lambdas/face_classifier/Dockerfile", PROJECT_ROOT))
    recipe = image.environment(image.without_code_folder(PROJECT_ROOT / "lambdas/face_classifier"))
    cold, warm, cached = [], [], []
    for run in range(ENV_BUILDS):
        cache = state_root / f"env-cache-{run}"
        builder = EnvironmentBuilder(cache, DEFAULT_WHEELHOUSE)
        cold.append(_timed(lambda b=builder: b.build(recipe)))
        cached.append(_timed(lambda b=builder: b.build(recipe)))
        shutil.rmtree(cache / "envs")
        warm.append(_timed(lambda b=builder: b.build(recipe)))
        shutil.rmtree(cache)
    return cold, warm, cached


def _timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _pss_mib(processes: list[Any]) -> float:
    total_kb = 0
    for process in processes:
        for line in Path(f"/proc/{process.pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def _quantiles(values: list[float]) -> tuple[float, float]:
    """(median, p95)."""
    p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 2 else max(values)
    return statistics.median(values), p95


def _state_folder() -> tempfile.TemporaryDirectory[str]:
    """A temporary state folder where `make up` keeps its state (the project's .emulator/), not in /tmp: on the
    2-core machine these figures come from, creating a file under /tmp cost 350-675 us of kernel time and elsewhere
    on the same disk 14-22 us, and each new S3 object is a file."""
    parent = PROJECT_ROOT / ".emulator"
    parent.mkdir(exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="bench-", dir=parent)


def compare(urls: list[str], access_key: str | None = None) -> None:
    """The per-call benchmark on the embedded emulator and on each other endpoint, side by side, in one run; signed
    with `access_key` (as its secret too) or else the emulator's dummy key."""
    session = boto3.Session(access_key, access_key, region_name=DEFAULT_REGION) if access_key else None
    console = Console()
    with _state_folder() as state:
        config = EmulatorConfig(port=free_loopback_port(), state_dir=Path(state) / "main", template=None)
        info = start_background(config, ["--no-stack"], stop_with_caller=True)
        try:
            with console.status(f"one boto3 call, {API_CALLS} each, {COMPARE_ROUNDS} interleaved rounds"):
                times = compare_api_calls({"ours (embedded)": info["endpoint"], **{url: url for url in urls}}, session)
        finally:
            stop_background(config)
    table = Table(title=f"one boto3 call on a connected client, ms, median (p95) ({os.cpu_count()} cores)")
    table.add_column("endpoint", no_wrap=True)
    kinds = list(next(iter(times.values())))
    for kind in kinds:
        table.add_column(f"{kind} (target {API_TARGETS_MS.get(kind, '-')})")
    for label, by_kind in times.items():
        table.add_row(label, *(f"{median:.2f} ({p95:.2f})" for median, p95 in map(_quantiles, by_kind.values())))
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", action="append", metavar="URL", default=[],
                        help="only the per-call benchmark (S3 PUT 50 KB, S3 HEAD, SQS send), on the embedded "
                             "emulator and on this endpoint too (e.g. another emulator); repeatable")
    parser.add_argument("--access-key", metavar="KEY",
                        help="with --against: sign with this access key id (and secret), e.g. `test` as users of other "
                             "emulators do; default: the emulator's dummy key")
    args = parser.parse_args(argv)
    if args.access_key and not args.against:
        parser.error("--access-key is for the --against comparison")
    if args.against:
        compare(args.against, args.access_key)
        return
    console = Console()
    with _state_folder() as state:
        state_root = Path(state)
        with console.status("emulator start-up"):
            bare_starts = measure_start(state_root, "--no-stack")
            starts = measure_start(state_root)
        config = EmulatorConfig(port=free_loopback_port(), state_dir=state_root / "main", template=None)
        info = start_background(config, ["--no-stack"], stop_with_caller=True)
        try:
            _client(info["endpoint"], "iam").create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(TRUST))
            with console.status("one boto3 call: S3, SQS"):
                api_calls = measure_api_calls(info["endpoint"])
            with console.status("cold and warm invokes"):
                cold, warm = measure_invokes(info["endpoint"])
            with console.status("S3 put -> handler start"):
                s3_latency = measure_s3_to_handler(info["endpoint"])
        finally:
            stop_background(config)
        stack = background_emulator(state_root / "stack")
        with console.status("classifier environments from a snapshot"), stack as info:
            alone, in_bursts, forked_pss = measure_classifier_environments(info["endpoint"], info["pid"])
        with console.status("one spawned classifier environment"):
            spawned_pss = measure_spawned_environment(state_root)
        with console.status("hot reload"):
            reloads = measure_hot_reload(state_root)
        with console.status("the classifier's environment"):
            env_cold, env_warm, env_cached = measure_environment_builds(state_root)
    table = Table(title=f"emulator benchmark ({os.cpu_count()} cores)")
    for column in ("measure", "runs", "median", "p95", "target"):
        table.add_column(column)
    rows = [("emulator start, APIs + Lambda service up (s)", bare_starts, "<= 2 s"),
            ("emulator start + stack deployed and seeded (s)", starts, "-"),
            ("Lambda cold start, trivial handler (ms)", cold, "-"),
            ("boto3 S3 PUT 50 KB (ms)", api_calls["S3 PUT 50 KB"], "<= 6 ms"),
            ("boto3 S3 HEAD (ms)", api_calls["S3 HEAD"], "<= 5 ms"),
            ("boto3 SQS send (ms)", api_calls["SQS send"], "-"),
            ("boto3 Lambda invoke, warm, round trip (ms)", warm, "<= 10 ms"),
            ("S3 put -> handler start (ms)", s3_latency, "<= 50 ms"),
            ("new classifier environment, fork -> handler start, one at a time (ms)", alone,
             "<= 50 ms, p95 <= 100"),
            (f"... in bursts of {BURST} on {os.cpu_count()} cores (ms)", in_bursts, "-"),
            ("hot reload, save -> new code serving (s)", reloads, "-"),
            ("classifier environment built, cold cache (s)", env_cold, "-"),
            ("classifier environment built, warm cache (s)", env_warm, "<= 10 s"),
            ("classifier environment, already built (second start) (s)", env_cached, "-")]
    for label, values, target in rows:
        median, p95 = _quantiles(values)
        table.add_row(label, str(len(values)), f"{median:.2f}", f"{p95:.2f}", target)
    console.print(table)
    console.print(f"memory (PSS): template + {BURST} forked classifier environments {forked_pss:.0f} MiB; one spawned "
                  f"environment {spawned_pss:.0f} MiB; ratio {forked_pss / spawned_pss:.1f}x (target <= 4x; "
                  f"{BURST} spawned ~{BURST}x)")


if __name__ == "__main__":
    main()
