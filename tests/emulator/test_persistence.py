"""State on disk across emulator restarts: what a student leaves in the local cloud is there the next morning, and
`--fresh` starts empty. A SIGKILL mid-write: test_persistence_crash.py."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from facerec.store import publish_model
from tests.conftest import FIXTURES, RunningEmulator, embedded_only, start_emulator
from tests.emulator.conftest import FAST_SNAPSHOTS, TRUST, log_messages

pytestmark = [pytest.mark.integration, embedded_only("restarts the embedded emulator")]


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
