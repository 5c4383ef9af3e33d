"""`python -m emulator logs FUNCTION` and `python -m emulator invoke FUNCTION --event FILE`: plain boto3, any endpoint.

Where they go: $AWS_ENDPOINT_URL if set; else the running emulator (`make up`); else AWS, with the
environment's credentials (the same commands work there).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from contract import CLIENT_CONFIG, Endpoint
from contract.lambda_logs import parse_report_line
from emulator.config import DEFAULT_REGION, EmulatorConfig, dummy_session
from emulator.console.tail import LogEvent, LogTail, log_group
from emulator.daemon import read_ready
from emulator.errors import EmulatorError, NotRunningError

FOLLOW_POLL_SECONDS = 1.0
_SINCE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

Command = Callable[[argparse.Namespace, EmulatorConfig], int]


class CommandError(EmulatorError):
    """A logs/invoke command could not do what was asked (the message says why)."""


def register_commands(sub: Any) -> None:
    """Adds `logs` and `invoke` to `python -m emulator`'s subcommands; each sets `args.run`."""
    logs = sub.add_parser("logs", help="print (or follow) a function's CloudWatch Logs")
    logs.add_argument("function", help="function name, e.g. facepipe-face-classifier")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until Ctrl-C")
    logs.add_argument("--since", type=since_seconds, default=600, help="how far back: 30s, 10m (default), 2h, 1d")
    logs.add_argument("--filter", metavar="TEXT", help="only lines containing TEXT (a CloudWatch quoted term)")
    logs.set_defaults(run=logs_command)
    invoke = sub.add_parser("invoke", help="invoke a function with a saved event; print response, log tail, status")
    invoke.add_argument("function", help="function name, e.g. facepipe-frame-extractor")
    invoke.add_argument("--event", type=Path, required=True, help="JSON event file (e.g. tests/events/*.json)")
    invoke.add_argument("--bucket", help="point the event's S3 records at this bucket (e.g. the stack's)")
    invoke.set_defaults(run=invoke_command)


def since_seconds(text: str) -> int:
    """'10m' -> 600; seconds, minutes, hours or days."""
    match = _SINCE.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a number and s/m/h/d (e.g. 10m), got {text!r}")
    return int(match[1]) * _UNITS[match[2]]


def connect(config: EmulatorConfig) -> tuple[Endpoint, str]:
    """The endpoint the commands use and a line saying which it is."""
    url = os.environ.get("AWS_ENDPOINT_URL")
    if url:
        session = boto3.Session()
        if session.get_credentials() is None:  # an emulator takes any credentials
            session = dummy_session(session.region_name or DEFAULT_REGION)
        return Endpoint(session, url), f"endpoint {url} (AWS_ENDPOINT_URL)"
    try:
        info = read_ready(config)
    except NotRunningError:
        session = boto3.Session()
        return Endpoint(session), f"AWS ({session.region_name or 'no region set'}): no AWS_ENDPOINT_URL, no emulator"
    return Endpoint(dummy_session(info["region"]), info["endpoint"]), f"the emulator at {info['endpoint']}"


def logs_command(args: argparse.Namespace, config: EmulatorConfig) -> int:
    endpoint, where = connect(config)
    console = Console(highlight=False)
    console.print(f"[dim]{log_group(args.function)} on {where}[/dim]")
    console.file.flush()
    logs = endpoint.client("logs", CLIENT_CONFIG)
    pattern = _quoted(args.filter) if args.filter else None
    tail = LogTail(logs, log_group(args.function), int((time.time() - args.since) * 1000), pattern)
    try:
        if not args.follow and not tail.exists():
            raise CommandError(f"no log group {log_group(args.function)}: no such function, or it has not run yet")
        _print_events(console, tail.read())
        while args.follow:
            time.sleep(FOLLOW_POLL_SECONDS)
            _print_events(console, tail.read())
    except KeyboardInterrupt:
        return 0
    except (BotoCoreError, ClientError) as exc:
        raise CommandError(f"reading {log_group(args.function)}: {exc}") from exc
    return 0


def invoke_command(args: argparse.Namespace, config: EmulatorConfig) -> int:
    endpoint, where = connect(config)
    console = Console(highlight=False)
    payload = _event(args.event, args.bucket)
    console.print(f"[dim]invoking {args.function} on {where} with {args.event}[/dim]")
    try:
        response = endpoint.client("lambda", CLIENT_CONFIG).invoke(
            FunctionName=args.function, Payload=payload, LogType="Tail")
    except (BotoCoreError, ClientError) as exc:
        raise CommandError(f"invoking {args.function}: {exc}") from exc
    body = response["Payload"].read().decode("utf-8", errors="replace")
    failed = "FunctionError" in response
    console.print(Panel(_json_or_text(body), title="response", border_style="red" if failed else "green"))
    tail = base64.b64decode(response.get("LogResult", "")).decode("utf-8", errors="replace")
    lines = [_styled(line) for line in tail.splitlines()] or [Text("(no log tail)", style="dim")]
    console.print(Panel(Text("\n").join(lines), title="log tail (last 4 KB)"))
    console.print(_status(response, tail))
    return 1 if failed else 0


def _event(path: Path, bucket: str | None) -> bytes:
    try:
        event = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CommandError(f"cannot read the event {path}: {exc}") from exc
    if bucket is not None:
        records = event.get("Records") if isinstance(event, dict) else None
        if not records or not all("s3" in record for record in records):
            raise CommandError(f"--bucket needs an S3 event; {path} has no S3 records")
        for record in records:
            record["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    return json.dumps(event).encode()


def _status(response: dict[str, Any], tail: str) -> Text:
    status = Text(f"status {response['StatusCode']}", style="bold")
    if "FunctionError" in response:
        status.append(f"  FunctionError: {response['FunctionError']}", style="bold red")
    else:
        status.append("  ok", style="bold green")
    reports = [r for r in (parse_report_line(line, 0.0) for line in tail.splitlines()) if r is not None]
    if reports:
        report = reports[-1]
        status.append(f"  Duration {report.duration_ms:.1f} ms")
        if report.restore_duration_ms is not None:
            status.append(f"  new environment: Restore Duration {report.restore_duration_ms:.1f} ms", style="yellow")
        if report.init_duration_ms is not None:
            status.append(f"  cold start: Init Duration {report.init_duration_ms:.1f} ms", style="yellow")
    return status


def _print_events(console: Console, events: list[LogEvent]) -> None:
    for event in events:
        stamp = datetime.fromtimestamp(event["timestamp"] / 1000).strftime("%H:%M:%S.%f")[:-3]
        line = Text(f"{stamp} ", style="dim")
        line.append(f"{event.get('logStreamName', '')[-8:]} ", style="blue")
        line.append_text(_styled(event["message"].rstrip("\n")))
        console.print(line, soft_wrap=True)
    console.file.flush()  # streams through a pipe (`logs --follow | grep ...`) line by line


def _styled(message: str) -> Text:
    """REPORT lines stand out, errors are red, START/END dim."""
    if message.startswith(("REPORT", "INIT_REPORT")):
        return Text(message, style="bold cyan")
    if message.startswith(("START", "END")):
        return Text(message, style="dim")
    if '"level":"ERROR"' in message or "Traceback" in message or "[ERROR]" in message:
        return Text(message, style="red")
    return Text(message)


def _json_or_text(body: str) -> Text:
    """The response, indented when it is JSON; long lines wrap rather than being cut."""
    try:
        return Text(json.dumps(json.loads(body), indent=2))
    except json.JSONDecodeError:
        return Text(body)


def _quoted(text: str) -> str:
    if '"' in text:
        raise CommandError("--filter TEXT cannot contain a double quote")
    return f'"{text}"'
