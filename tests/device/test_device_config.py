"""Settings: bounds, and resource names from CLI > env var > CloudFormation stack outputs."""

import json
import os
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from device.config import (
    ClientConfig,
    ConsumerConfig,
    RecordConfig,
    UploadConfig,
    resolve_device_id,
    resolve_results_queue_url,
    resolve_spool_dir,
    resolve_videos_bucket,
)
from device.errors import ConfigError


def template(queue_name: str) -> str:
    """A small stack with the contract's VideosBucket and ResultsQueueUrl outputs."""
    return json.dumps(
        {
            "Resources": {
                "Media": {"Type": "AWS::S3::Bucket"},
                "Results": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True, "QueueName": queue_name}},
            },
            "Outputs": {
                "VideosBucket": {"Value": {"Ref": "Media"}},
                "ResultsQueueUrl": {"Value": {"Ref": "Results"}},
            },
        }
    )


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A stack named by $STACK_NAME with the contract's outputs; returns its outputs."""
    name = f"facepipe-{uuid.uuid4().hex[:8]}"
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName=name, TemplateBody=template(f"{name}.fifo"))
    monkeypatch.setenv("STACK_NAME", name)
    outputs = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def test_names_come_from_the_stack_outputs(stack: dict[str, str]) -> None:
    assert resolve_videos_bucket() == stack["VideosBucket"]
    assert resolve_results_queue_url() == stack["ResultsQueueUrl"]
    assert stack["ResultsQueueUrl"].startswith("http")


def test_env_var_beats_stack_and_argument_beats_env(stack: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOS_BUCKET", "from-env")
    monkeypatch.setenv("RESULTS_QUEUE_URL", "http://queue/from-env.fifo")
    assert resolve_videos_bucket() == "from-env"
    assert resolve_results_queue_url() == "http://queue/from-env.fifo"
    assert resolve_videos_bucket("from-cli") == "from-cli"
    only_stack = {"STACK_NAME": os.environ["STACK_NAME"]}
    assert resolve_results_queue_url(environ=only_stack) == stack["ResultsQueueUrl"]


def test_no_stack_no_env_no_argument_is_a_clear_error(aws: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_videos_bucket()
    message = str(caught.value)
    for hint in ("--bucket", "VIDEOS_BUCKET", "'facepipe'", "VideosBucket"):
        assert hint in message


def test_a_stack_without_the_output_is_a_clear_error(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"other-{uuid.uuid4().hex[:8]}"
    template = {"Resources": {"Media": {"Type": "AWS::S3::Bucket"}}, "Outputs": {"Other": {"Value": "x"}}}
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    monkeypatch.setenv("STACK_NAME", name)
    with pytest.raises(ConfigError, match=r"ResultsQueueUrl not found.*\['Other'\]"):
        resolve_results_queue_url()


def test_device_id_and_spool_resolution(tmp_path: Path) -> None:
    assert resolve_device_id("pi-9", {"DEVICE_ID": "pi-env"}) == "pi-9"
    assert resolve_device_id(None, {"DEVICE_ID": "pi-env"}) == "pi-env"
    assert resolve_device_id(None, {})
    assert resolve_spool_dir(None, {"DEVICE_SPOOL_DIR": str(tmp_path)}) == tmp_path
    assert resolve_spool_dir(tmp_path / "cli", {"DEVICE_SPOOL_DIR": "x"}) == tmp_path / "cli"
    with pytest.raises(ConfigError, match="device id"):
        resolve_device_id("bad/id", {})


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: RecordConfig(clip_seconds=0), "clip_seconds"),
        (lambda: RecordConfig(clips=0), "clips"),
        (lambda: ConsumerConfig(wait_time_seconds=21), "wait_time_seconds"),
        (lambda: ConsumerConfig(max_messages=11), "max_messages"),
        (lambda: UploadConfig(backoff_initial=5, backoff_max=1), "backoff_max"),
        (lambda: ClientConfig(max_attempts=0), "max_attempts"),
    ],
)
def test_settings_out_of_bounds_are_rejected(make: Any, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        make()


def test_unknown_settings_are_errors() -> None:
    with pytest.raises(ConfigError, match="clip_second: unknown setting"):
        RecordConfig(clip_second=0.5)  # type: ignore[call-arg]


def test_a_flag_is_not_a_number() -> None:
    with pytest.raises(ConfigError, match=r"clips: .*got True"):
        RecordConfig(clips=True)


def test_the_cli_defaults_are_the_settings_defaults() -> None:
    from device.__main__ import _parser

    record = _parser().parse_args(["record", "--camera", "file:x"])
    results = _parser().parse_args(["results"])
    assert (record.clip_seconds, record.drain_timeout) == (RecordConfig().clip_seconds, UploadConfig().drain_timeout)
    assert (results.wait_time, results.visibility_timeout) == (
        ConsumerConfig().wait_time_seconds, ConsumerConfig().visibility_timeout)
