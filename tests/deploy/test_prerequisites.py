"""The concurrency the stack reserves, and the settings a deploy refuses before calling AWS."""

import boto3
import pytest
from botocore.stub import Stubber

from deploy.config import DeployConfig, parse_parameters
from deploy.errors import ConfigError
from deploy.prereqs import check_concurrency, reserved_concurrency


class _OneClientSession:
    """A session whose only client is the one given (an AWS account that cannot exist here)."""

    def __init__(self, client):
        self._client = client

    def client(self, service):
        return self._client


def test_the_stack_reserves_what_its_parameters_say(sam_template):
    assert reserved_concurrency(sam_template, {}) == 20
    assert reserved_concurrency(sam_template, {"ClassifierReservedConcurrency": "3"}) == 13


@pytest.mark.parametrize(("limit", "ok"), [(10, False), (29, False), (1000, True)])
def test_an_account_too_small_for_the_reservations_is_told_what_to_do(limit, ok):
    lam = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="stub", aws_secret_access_key="stub")
    with Stubber(lam) as stub:
        stub.add_response("get_account_settings", {"AccountLimit": {"ConcurrentExecutions": limit}})
        check = check_concurrency(DeployConfig(), _OneClientSession(lam))
    assert check.ok is ok
    if not ok:
        assert "Service Quotas" in check.detail and "ClassifierReservedConcurrency" in check.detail


@pytest.mark.parametrize("name", ["Facepipe", "x", "facepipe_dev", "a-very-long-stack-name-for-buckets"])
def test_stack_names_that_would_make_bad_bucket_names_are_refused(name):
    with pytest.raises(ConfigError, match="stack name"):
        DeployConfig(stack_name=name)


def test_arguments_beat_the_environment():
    env = {"STACK_NAME": "from-env", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}
    config = DeployConfig.from_env(env, stack_name="from-arg", region=None)
    assert (config.stack_name, config.region, config.on_aws) == ("from-arg", "eu-west-1", False)


def test_parameters_must_be_key_value():
    assert parse_parameters(["A=1", "B=x=y"]) == {"A": "1", "B": "x=y"}
    with pytest.raises(ConfigError):
        parse_parameters(["A"])
