"""The pipeline test against LocalStack in Docker (testcontainers), deployed by `python -m deploy aws`.

Skipped, with the reason, where no Docker daemon answers: LocalStack runs Lambda functions in containers.
The images and settings come from docker-compose.yml, so this runs what `make up EMULATOR=localstack` runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import docker
import pytest
import yaml
from docker.errors import DockerException

from tests.conftest import DUMMY_ENV, ROOT
from tests.deploy.conftest import DeployedStack, assert_clip_is_recognised, endpoint_env, printed_outputs, run_deploy


def docker_unavailable() -> str | None:
    """Why Docker cannot be used here, or None when a daemon answers."""
    try:
        docker.from_env(timeout=5).ping()
    except DockerException as exc:
        return f"no Docker daemon answers ({exc}); the LocalStack tests need one"
    return None


UNAVAILABLE = docker_unavailable()
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.docker,
              pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or "")]


def _expand(value: Any) -> str:
    """Compose's `${VAR:-default}`, from this environment."""
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: os.environ.get(m.group(1)) or m.group(2), str(value))


@pytest.fixture(scope="module")
def localstack_url() -> Iterator[str]:
    """LocalStack as docker-compose.yml configures it, with the Lambda runtime image in a local registry."""
    from testcontainers.community.localstack import LocalStackContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    runtime, localstack = services["lambda-runtime"], services["localstack"]
    client = docker.from_env()
    with DockerContainer(services["registry"]["image"]).with_bind_ports(5000, 5000) as registry:
        wait_for_logs(registry, "listening on")
        client.images.build(path=str(ROOT), dockerfile=runtime["build"]["dockerfile"],
                            target=runtime["build"]["target"], tag=runtime["image"])
        client.images.push(runtime["image"])
        container = LocalStackContainer(image=_expand(localstack["image"]), region_name=DUMMY_ENV["AWS_DEFAULT_REGION"])
        for key, value in localstack["environment"].items():
            container.with_env(key, _expand(value))
        container.with_volume_mapping("/var/run/docker.sock", "/var/run/docker.sock", "rw")
        with container as running:
            yield running.get_url()


def test_a_clip_through_localstack_comes_back_as_the_right_person(localstack_url):
    deployed = run_deploy("aws", env=endpoint_env(localstack_url), timeout=900)
    assert deployed.returncode == 0, deployed.stderr
    assert_clip_is_recognised(DeployedStack(localstack_url, printed_outputs(deployed.stdout)), timeout=300)
