"""Deploy fixtures: the template as `sam build` leaves it, translated; the deploy CLI; a stack to send clips to."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from deploy.stack import load_template, translate
from emulator.config import dummy_session
from tests.conftest import DUMMY_ENV, ROOT
from tests.pipeline.conftest import LABELS, STUDENTS, ResultCollector, new_device, upload_clip

TEMPLATE = ROOT / "template.yaml"
# No credentials, no profile, no instance metadata: boto3 finds nothing and never leaves the machine.
NO_AWS_ENV = {"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent",
              "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}


def as_sam_builds_it(sam: dict[str, Any]) -> dict[str, Any]:
    """The template after `sam build`: each Image function gets the ImageUri of its built image."""
    built = copy.deepcopy(sam)
    for logical_id, resource in built["Resources"].items():
        if resource.get("Properties", {}).get("PackageType") == "Image":
            resource["Properties"]["ImageUri"] = f"{logical_id.lower()}:{resource['Metadata']['DockerTag']}"
    return built


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="session")
def translated(sam_template: dict[str, Any]) -> dict[str, Any]:
    """Plain CloudFormation, as the AWS::Serverless transform makes it from the built template."""
    return translate(as_sam_builds_it(sam_template), "us-east-1")


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def aws_free_env(**extra: str) -> dict[str, str]:
    """This environment without AWS settings or credentials (the AWS path, kept offline)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, **NO_AWS_ENV, **extra}


def run_deploy(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m deploy ARGS` from the project root; output captured."""
    return subprocess.run([sys.executable, "-m", "deploy", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def endpoint_env(endpoint: str, **extra: str) -> dict[str, str]:
    """An environment whose boto3 clients talk to `endpoint` with dummy credentials."""
    return {**os.environ, **DUMMY_ENV, "AWS_ENDPOINT_URL": endpoint, **extra}


def printed_outputs(stdout: str) -> dict[str, str]:
    """The stack outputs JSON object `python -m deploy aws` prints first."""
    outputs, _ = json.JSONDecoder().raw_decode(stdout)
    return outputs


@dataclass
class DeployedStack:
    """A stack at an endpoint: what the pipeline helpers need (outputs and clients)."""

    endpoint: str
    outputs: dict[str, str]

    def client(self, service: str) -> Any:
        return dummy_session().client(service, endpoint_url=self.endpoint)


def assert_clip_is_recognised(stack: DeployedStack, video: str = "test_2.mp4", timeout: float = 60) -> None:
    """One course clip through the deployed pipeline comes back as the right student."""
    collector = ResultCollector(stack.client("sqs"), stack.outputs["ResultsQueueUrl"])
    try:
        device = new_device()
        clip_key = upload_clip(stack, device, video)  # type: ignore[arg-type]
        results = collector.wait_for(device, timeout=timeout)
    finally:
        collector.stop()
    person = LABELS[video]
    assert [r["status"] for r in results] == ["recognized"], results
    assert results[0]["clip_key"] == clip_key and results[0]["name"] == person
    assert results[0]["student"] == {k: STUDENTS[person][k] for k in ("name", "major", "year")}
