"""Emulator benchmark: start time, Lambda cold start, warm invoke overhead, S3 put -> handler start.

Prints medians over repeated runs. Targets on a 2-core machine: start <= 2 s, warm invoke <= 10 ms,
S3 put -> handler start <= 50 ms.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from emulator.config import EmulatorConfig, dummy_session
from emulator.daemon import free_loopback_port, start_background, stop_background

STARTS = 3
COLD_STARTS = 5
WARM_CALLS = 100
S3_EVENTS = 30
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


def _client(endpoint: str, service: str) -> Any:
    return dummy_session().client(service, endpoint_url=endpoint)


def measure_start(state_root: Path, *args: str) -> list[float]:
    """Seconds from spawning `python -m emulator serve ARGS` until it reports ready."""
    times = []
    for run in range(STARTS):
        config = EmulatorConfig(port=free_loopback_port(), state_dir=state_root / f"start-{run}")
        began = time.perf_counter()
        start_background(config, list(args))
        times.append(time.perf_counter() - began)
        stop_background(config)
    return times


def _function(endpoint: str, source: str, env: dict[str, str] | None = None) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    _client(endpoint, "lambda").create_function(
        FunctionName=name, Runtime="python3.11", Handler="app.lambda_handler", Code={"ZipFile": _zip(source)},
        Role="arn:aws:iam::123456789012:role/bench", Environment={"Variables": env or {}})
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
    warm = []
    for _ in range(WARM_CALLS):
        began = time.perf_counter()
        lam.invoke(FunctionName=name, Payload=b"{}")
        warm.append((time.perf_counter() - began) * 1000)
    return cold, warm


def measure_s3_to_handler(endpoint: str) -> list[float]:
    """ms from the start of an S3 PUT to the first line of the notified handler (warm worker)."""
    sqs, s3, lam = (_client(endpoint, s) for s in ("sqs", "s3", "lambda"))
    queue = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    name = _function(endpoint, STAMP, {"REPORT_QUEUE_URL": queue})
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
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


def main() -> None:
    console = Console()
    with tempfile.TemporaryDirectory() as state:
        state_root = Path(state)
        with console.status("emulator start-up"):
            bare_starts = measure_start(state_root, "--no-stack")
            starts = measure_start(state_root)
        config = EmulatorConfig(port=free_loopback_port(), state_dir=state_root / "main", template=None)
        info = start_background(config, ["--no-stack"])
        try:
            _client(info["endpoint"], "iam").create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(TRUST))
            with console.status("cold and warm invokes"):
                cold, warm = measure_invokes(info["endpoint"])
            with console.status("S3 put -> handler start"):
                s3_latency = measure_s3_to_handler(info["endpoint"])
        finally:
            stop_background(config)
    table = Table(title=f"emulator benchmark ({os.cpu_count()} cores)")
    for column in ("measure", "runs", "median", "p95", "target"):
        table.add_column(column)
    rows = [("emulator start, APIs + Lambda service up (s)", bare_starts, "<= 2 s"),
            ("emulator start + stack deployed and seeded (s)", starts, "-"),
            ("Lambda cold start, trivial handler (ms)", cold, "-"),
            ("warm invoke round trip (ms)", warm, "<= 10 ms"),
            ("S3 put -> handler start (ms)", s3_latency, "<= 50 ms")]
    for label, values, target in rows:
        p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 2 else max(values)
        table.add_row(label, str(len(values)), f"{statistics.median(values):.2f}", f"{p95:.2f}", target)
    console.print(table)


if __name__ == "__main__":
    main()
