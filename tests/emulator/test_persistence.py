"""State on disk across emulator restarts: what a student leaves in the local cloud is there the next morning."""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from facerec.store import publish_model
from tests.conftest import FIXTURES, RunningEmulator, endpoint_target, start_emulator
from tests.emulator.conftest import TRUST, log_messages

pytestmark = pytest.mark.integration

FAST_SNAPSHOTS = {"EMULATOR_SNAPSHOT_SECONDS": "0.2"}


@pytest.fixture(autouse=True)
def _embedded_only() -> None:
    if endpoint_target() != "embedded":
        pytest.skip("restarts the embedded emulator")


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def _leave_things_behind(running: RunningEmulator) -> dict[str, Any]:
    """Clips, a published model, a DLQ entry, a received (in-flight) result, a row, a zip function."""
    outputs = running.outputs
    s3, sqs = running.client("s3"), running.client("sqs")
    clip = (FIXTURES / "videos").glob("*.mp4").__next__().read_bytes()
    for index in range(3):
        s3.put_object(Bucket=outputs["VideosBucket"], Key=f"kept/clip-{index}.mp4", Body=clip)
    pointer = publish_model(s3, outputs["ModelsBucket"], FIXTURES / "model")
    sqs.send_message(QueueUrl=outputs["DeadLetterQueueUrl"], MessageBody='{"left": "in the DLQ"}')
    sqs.send_message(QueueUrl=outputs["ResultsQueueUrl"], MessageBody='{"result": 1}', MessageGroupId="pi",
                     MessageDeduplicationId="result-1")
    in_flight = sqs.receive_message(QueueUrl=outputs["ResultsQueueUrl"], VisibilityTimeout=600)["Messages"]
    running.client("dynamodb").put_item(TableName=outputs["StudentsTable"],
                                        Item={"name": {"S": "ada"}, "major": {"S": "maths"}, "year": {"S": "1"}})
    iam = running.client("iam")
    role = iam.create_role(RoleName="kept-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    running.client("lambda").create_function(
        FunctionName="kept-function", Runtime="python3.11", Role=role, Handler="app.handler",
        Code={"ZipFile": _zip("def handler(event, context):\n    return {'kept': event}\n")})
    return {"clip": clip, "model": pointer["version"], "in_flight": in_flight[0]["Body"]}


@pytest.mark.slow
def test_clips_model_dlq_results_rows_functions_and_stack_survive_a_restart(tmp_path: Path) -> None:
    first = start_emulator(tmp_path, env=FAST_SNAPSHOTS)
    try:
        left = _leave_things_behind(first)
    finally:
        first.stop()
    second = start_emulator(tmp_path, env=FAST_SNAPSHOTS)
    try:
        outputs, s3, sqs = second.outputs, second.client("s3"), second.client("sqs")
        assert outputs == first.outputs
        assert "restored" in second.log_path.read_text() and "deployed in" not in second.log_path.read_text()
        for index in range(3):
            body = s3.get_object(Bucket=outputs["VideosBucket"], Key=f"kept/clip-{index}.mp4")["Body"].read()
            assert body == left["clip"]
        current = json.loads(s3.get_object(Bucket=outputs["ModelsBucket"], Key="models/current.json")["Body"].read())
        assert current["version"] == left["model"]
        dead = sqs.receive_message(QueueUrl=outputs["DeadLetterQueueUrl"])["Messages"]
        assert [m["Body"] for m in dead] == ['{"left": "in the DLQ"}']
        again = sqs.receive_message(QueueUrl=outputs["ResultsQueueUrl"])["Messages"]
        assert [m["Body"] for m in again] == [left["in_flight"]], "an in-flight message is visible again"
        sqs.send_message(QueueUrl=outputs["ResultsQueueUrl"], MessageBody="dup", MessageGroupId="pi",
                         MessageDeduplicationId="result-1")
        sqs.delete_message(QueueUrl=outputs["ResultsQueueUrl"], ReceiptHandle=again[0]["ReceiptHandle"])
        assert "Messages" not in sqs.receive_message(QueueUrl=outputs["ResultsQueueUrl"]), "dedup ids survive too"
        row = second.client("dynamodb").get_item(TableName=outputs["StudentsTable"], Key={"name": {"S": "ada"}})
        assert row["Item"]["major"] == {"S": "maths"}
        answer = second.client("lambda").invoke(FunctionName="kept-function", Payload=b'"hi"')["Payload"].read()
        assert json.loads(answer) == {"kept": "hi"}
        reports = log_messages(second, "kept-function", timeout=30, until="REPORT RequestId")  # INIT_REPORT comes first
        assert any(line.startswith("REPORT") for line in reports)
        stack = second.client("cloudformation").describe_stacks(StackName="facepipe")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
    finally:
        second.stop()


def test_a_fresh_start_is_empty(tmp_path: Path) -> None:
    first = start_emulator(tmp_path, "--no-stack")
    try:
        first.client("s3").create_bucket(Bucket="kept")
    finally:
        first.stop()
    fresh = start_emulator(tmp_path, "--no-stack", "--fresh")
    try:
        assert fresh.client("s3").list_buckets()["Buckets"] == []
    finally:
        fresh.stop()


def test_sigkill_under_load_leaves_the_last_complete_state(tmp_path: Path) -> None:
    running = start_emulator(tmp_path, "--no-stack", env=FAST_SNAPSHOTS)
    s3, bucket = running.client("s3"), "load"
    s3.create_bucket(Bucket=bucket)
    stop = threading.Event()
    puts: list[int] = []

    def load() -> None:
        while not stop.is_set():
            try:
                s3.put_object(Bucket=bucket, Key=f"load/{len(puts)}.bin", Body=os.urandom(20_000))
            except (BotoCoreError, ClientError):  # the emulator is killed mid-request: the load ends there
                return
            puts.append(len(puts))

    writer = threading.Thread(target=load)
    writer.start()
    while len(puts) < 150:
        stop.wait(0.05)
    os.kill(running.process.pid, signal.SIGKILL)
    running.process.wait()
    stop.set()
    writer.join()

    restarted = start_emulator(tmp_path, "--no-stack", env=FAST_SNAPSHOTS)
    try:
        s3 = restarted.client("s3")
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="load/")
                for o in page.get("Contents", [])]
        assert keys, "the snapshots taken before the kill are there"
        for key in keys:
            assert len(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == 20_000
        s3.put_object(Bucket=bucket, Key="after/restart.bin", Body=b"ok")
    finally:
        restarted.stop()
