"""`python -m deploy` with AWS_ENDPOINT_URL: a fresh emulator gets a working stack, and destroy removes it."""

import pytest
from botocore.exceptions import ClientError

from tests.conftest import start_emulator
from tests.deploy.conftest import (
    DeployedStack,
    assert_clip_is_recognised,
    endpoint_env,
    printed_outputs,
    run_deploy,
)

pytestmark = pytest.mark.integration

STACK = "deploytest"


@pytest.fixture(scope="module")
def bare_emulator(tmp_path_factory):
    """The AWS APIs and the Lambda service, with no stack deployed."""
    running = start_emulator(tmp_path_factory.mktemp("bare-emulator"), "--no-stack")
    yield running
    running.stop()


def _stack_exists(emulator):
    try:
        emulator.client("cloudformation").describe_stacks(StackName=STACK)
    except ClientError:
        return False
    return True


def test_a_dry_run_changes_nothing(bare_emulator):
    buckets_before = bare_emulator.client("s3").list_buckets()["Buckets"]
    result = run_deploy("aws", "--dry-run", "--stack-name", STACK, env=endpoint_env(bare_emulator.endpoint))
    assert result.returncode == 0, result.stderr
    assert "through the CloudFormation API" in result.stdout and "nothing was changed" in result.stdout
    assert bare_emulator.client("s3").list_buckets()["Buckets"] == buckets_before
    assert not _stack_exists(bare_emulator)


def test_deploy_creates_a_working_stack_and_destroy_removes_it(bare_emulator):
    env = endpoint_env(bare_emulator.endpoint)
    deployed = run_deploy("aws", "--stack-name", STACK, env=env)
    assert deployed.returncode == 0, deployed.stderr
    outputs = printed_outputs(deployed.stdout)
    assert f"export STACK_NAME={STACK}" in deployed.stdout
    assert f"export AWS_ENDPOINT_URL={bare_emulator.endpoint}" in deployed.stdout

    assert_clip_is_recognised(DeployedStack(bare_emulator.endpoint, outputs), "test_2.mp4")

    planned = run_deploy("destroy", "--dry-run", "--stack-name", STACK, env=env)
    assert planned.returncode == 0 and _stack_exists(bare_emulator), planned.stderr
    destroyed = run_deploy("destroy", "--stack-name", STACK, env=env)
    assert destroyed.returncode == 0, destroyed.stderr
    assert not _stack_exists(bare_emulator)
    with pytest.raises(ClientError):
        bare_emulator.client("s3").head_bucket(Bucket=outputs["VideosBucket"])
    assert f"{STACK}-artifacts-" in destroyed.stdout  # it says what it leaves, and how to remove it
