"""docker-compose.yml: pinned LocalStack on loopback with the Docker socket; one runtime image name throughout."""

import json
import os
import re
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

SERVICES = {"s3", "lambda", "dynamodb", "sqs", "cloudwatch", "logs", "cloudformation", "iam", "sts"}


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def with_defaults(text: str) -> str:
    """Compose's `${VAR:-default}` with VAR unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)


def test_localstack_is_the_last_token_free_image_unless_told_otherwise(compose):
    localstack = compose["localstack"]
    assert with_defaults(localstack["image"]) == "localstack/localstack:4.14.0"
    assert localstack["environment"]["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"
    assert set(localstack["environment"]["SERVICES"].split(",")) == SERVICES


def test_ports_are_published_on_loopback_only(compose):
    for service in compose.values():
        assert all(port.startswith("127.0.0.1:") for port in service.get("ports", []))


def test_lambda_can_start_containers(compose):
    assert "/var/run/docker.sock:/var/run/docker.sock" in compose["localstack"]["volumes"]


def test_one_runtime_image_name_everywhere(compose):
    image = compose["lambda-runtime"]["image"]
    mapping = json.loads(compose["localstack"]["environment"]["LAMBDA_RUNTIME_IMAGE_MAPPING"])
    assert mapping == {"python3.11": image}
    assert compose["deployer"]["build"]["args"]["RUNTIME_IMAGE"] == image
    assert f"ARG RUNTIME_IMAGE={image}" in (ROOT / "localstack" / "Dockerfile").read_text()
    assert compose["lambda-runtime"]["build"]["target"] == "runtime"


def test_up_without_docker_fails_with_a_clear_message(tmp_path):
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(ROOT / "localstack" / "up.sh")], env=env, capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 1
    assert "needs a running Docker daemon" in result.stderr and "make up" in result.stderr
