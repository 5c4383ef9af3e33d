"""`python -m emulator logs` and `invoke` as a user runs them, against the session's emulator via AWS_ENDPOINT_URL."""

from __future__ import annotations

import argparse
import base64
import json
import re
import subprocess
import sys
import threading
import time
from urllib.parse import unquote_plus

import pytest

from emulator.console.cli import since_seconds
from tests.conftest import FIXTURES, ROOT, RunningEmulator

CLIP_EVENT = ROOT / "tests" / "events" / "s3_put_clip_facepipe.json"


def run(emulator: RunningEmulator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "emulator", *args], cwd=ROOT, env=emulator.env(),
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400)])
def test_since_takes_seconds_minutes_hours_days(text: str, seconds: int) -> None:
    assert since_seconds(text) == seconds


def test_since_refuses_anything_else() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="10m"):
        since_seconds("ten minutes")


@pytest.fixture(scope="module")
def invoked(emulator: RunningEmulator) -> subprocess.CompletedProcess[str]:
    """The captured clip event, pointed at the stack's bucket, whose clip is uploaded first."""
    event = json.loads(CLIP_EVENT.read_text())
    key = unquote_plus(event["Records"][0]["s3"]["object"]["key"])
    bucket = emulator.outputs["VideosBucket"]
    emulator.client("s3").put_object(Bucket=bucket, Key=key, Body=(FIXTURES / "videos" / "test_2.mp4").read_bytes())
    return run(emulator, "invoke", emulator.outputs["FrameExtractorFunction"], "--event", str(CLIP_EVENT),
               "--bucket", bucket)


@pytest.mark.integration
def test_invoke_prints_the_response_the_log_tail_with_report_and_the_status(
        invoked: subprocess.CompletedProcess[str]) -> None:
    assert invoked.returncode == 0, invoked.stderr + invoked.stdout
    assert '"frames": 1' in invoked.stdout  # the handler's response
    assert "START RequestId" in invoked.stdout and "REPORT RequestId" in invoked.stdout
    assert "status 200" in invoked.stdout and "ok" in invoked.stdout


@pytest.mark.integration
def test_invoke_of_a_missing_function_says_so(emulator: RunningEmulator) -> None:
    failed = run(emulator, "invoke", "no-such-function", "--event", str(CLIP_EVENT))
    assert failed.returncode == 1
    assert "no-such-function" in failed.stderr


@pytest.mark.integration
def test_logs_prints_the_lines_of_the_window_filtered(emulator: RunningEmulator, invoked: object) -> None:
    printed = run(emulator, "logs", emulator.outputs["FrameExtractorFunction"], "--since", "10m", "--filter", "REPORT")
    assert printed.returncode == 0, printed.stderr
    lines = [line for line in printed.stdout.splitlines() if "RequestId" in line]
    assert lines and all("REPORT" in line for line in lines)


@pytest.mark.integration
def test_logs_of_a_function_that_never_ran_is_an_error(emulator: RunningEmulator) -> None:
    failed = run(emulator, "logs", "no-such-function")
    assert failed.returncode == 1
    assert "no log group /aws/lambda/no-such-function" in failed.stderr


@pytest.mark.integration
def test_logs_follow_streams_the_lines_of_an_invocation_made_after_it_started(emulator: RunningEmulator) -> None:
    function = emulator.outputs["FrameExtractorFunction"]
    follower = subprocess.Popen([sys.executable, "-m", "emulator", "logs", function, "--follow", "--since", "1s"],
                                cwd=ROOT, env=emulator.env(), stdout=subprocess.PIPE, text=True)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(follower.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not seen:  # its first line: which log group, on which endpoint
            time.sleep(0.1)
        answer = emulator.client("lambda").invoke(FunctionName=function, LogType="Tail",
                                                  Payload=json.dumps({"Records": []}).encode())
        request_id = _request_id(base64.b64decode(answer["LogResult"]).decode())
        deadline = time.monotonic() + 30  # the session's emulator may run this function for other tests meanwhile
        while time.monotonic() < deadline and not any(f"REPORT RequestId: {request_id}" in line for line in seen):
            time.sleep(0.2)
    finally:
        follower.terminate()
        follower.wait(10)
    assert any(f"START RequestId: {request_id}" in line for line in seen), seen
    assert any(f"REPORT RequestId: {request_id}" in line for line in seen), seen


def _request_id(log_tail: str) -> str:
    """The invocation's request id, from its START line in the LogType=Tail log."""
    match = re.search(r"START RequestId: (\S+)", log_tail)
    assert match, log_tail
    return match.group(1)
