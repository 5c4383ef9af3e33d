"""What the fidelity suite (tests/emulator/test_fidelity_*.py) runs against, with plain boto3 only.

FIDELITY_ENDPOINT_URL unset: the session's embedded emulator (tests/conftest.py). Set it to another endpoint
(LocalStack: http://localhost:4566) or to `aws` (real AWS, default credential chain) to check the same
expectations there; FIDELITY_ROLE_ARN then names a Lambda execution role that may write logs and send to SQS.
Tests of failure paths only the emulator can provoke are marked `emulator_only` and skip themselves elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from tests.conftest import DUMMY_ENV
from tests.emulator.conftest import TRUST
from tests.emulator.functions import zip_handler

ENV_ENDPOINT = "FIDELITY_ENDPOINT_URL"
ENV_ROLE = "FIDELITY_ROLE_ARN"
REGION = "us-east-1"
EMBEDDED_ROLE = "fidelity-lambda-role"
_EMBEDDED_PATIENCE_SECONDS = 15.0
_AWS_PATIENCE_SECONDS = 420.0  # AWS retries a failed async event after 1 and then 2 minutes
ACTIVE_POLL_SECONDS = 0.2  # 5 GetFunctionConfiguration calls a second while a new function is Pending

emulator_only = pytest.mark.skipif(ENV_ENDPOINT in os.environ, reason="provokes a failure only the emulator has")


@dataclass
class Cloud:
    """Clients for one endpoint, and the resources the tests made there (deleted by `close`)."""

    endpoint_url: str | None
    credentials: dict[str, str]
    role_arn: str
    patience: float
    _cleanups: list[Callable[[], object]] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION, **self.credentials)

    def queue(self) -> tuple[str, str]:
        """A new standard queue SNS topics and EventBridge rules may send to: (url, arn)."""
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=unique("fidelity"))["QueueUrl"]
        self._cleanups.append(lambda: sqs.delete_queue(QueueUrl=url))
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": ["sns.amazonaws.com", "events.amazonaws.com"]},
            "Action": "sqs:SendMessage", "Resource": arn}]}
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        return url, arn

    def topic_to(self, queue_arn: str) -> str:
        """A new SNS topic delivering raw messages to the queue; its ARN."""
        sns = self.client("sns")
        topic = sns.create_topic(Name=unique("fidelity"))["TopicArn"]
        self._cleanups.append(lambda: sns.delete_topic(TopicArn=topic))
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        return topic

    def bus_to(self, queue_arn: str) -> str:
        """A new EventBridge bus whose rule forwards Lambda's invocation results to the queue; its ARN."""
        events = self.client("events")
        bus, rule = unique("fidelity"), "lambda-results"
        arn = events.create_event_bus(Name=bus)["EventBusArn"]
        events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["lambda"]}))
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])

        def delete() -> None:
            events.remove_targets(Rule=rule, EventBusName=bus, Ids=["queue"])
            events.delete_rule(Name=rule, EventBusName=bus)
            events.delete_event_bus(Name=bus)

        self._cleanups.append(delete)
        return arn

    def function(self, source: str, env: dict[str, str] | None = None, code: bytes | None = None,
                 **extra: Any) -> str:
        """A new python3.11 function running `source` as app.lambda_handler (or the given zip); its ARN.
        `extra`: more CreateFunction parameters (Layers, Timeout...)."""
        lam = self.client("lambda")
        name = unique("fidelity")
        arn = lam.create_function(**{
            "FunctionName": name, "Runtime": "python3.11", "Handler": "app.lambda_handler", "Role": self.role_arn,
            "Code": {"ZipFile": code or zip_handler(source)}, "Timeout": 10, "Environment": {"Variables": env or {}},
            **extra})["FunctionArn"]
        self._cleanups.append(lambda: lam.delete_function(FunctionName=name))
        self.wait_until_active(name)
        return arn

    def wait_until_active(self, function: str) -> None:
        """Until the function's State is Active, as boto3's function_active_v2 waiter, but polled every
        ACTIVE_POLL_SECONDS, not every second: on the emulator a function is Pending for ~0.4 s (its INIT)."""
        lam = self.client("lambda")
        deadline = time.monotonic() + self.patience
        while (state := lam.get_function_configuration(FunctionName=function)["State"]) != "Active":
            assert state == "Pending" and time.monotonic() < deadline, f"{function} is {state}, not Active"
            time.sleep(ACTIVE_POLL_SECONDS)

    def proxy_rest_api(self, function_arn: str, path_part: str, method: str) -> str:
        """A REST API whose /`path_part` resource proxies `method` to the function (AWS_PROXY), deployed to stage
        prod: its id (deleted at close). The function's permission for API Gateway is the caller's to add."""
        apigateway = self.client("apigateway")
        api_id = apigateway.create_rest_api(name=unique("fidelity"))["id"]
        self._cleanups.append(lambda: apigateway.delete_rest_api(restApiId=api_id))
        root = next(r["id"] for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
        resource = apigateway.create_resource(restApiId=api_id, parentId=root, pathPart=path_part)["id"]
        apigateway.put_method(restApiId=api_id, resourceId=resource, httpMethod=method, authorizationType="NONE")
        apigateway.put_integration(
            restApiId=api_id, resourceId=resource, httpMethod=method, type="AWS_PROXY", integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations")
        apigateway.create_deployment(restApiId=api_id, stageName="prod")
        return api_id

    def layer(self, content: bytes) -> str:
        """A new layer version from a zip; its version ARN."""
        lam = self.client("lambda")
        name = unique("fidelity")
        arn = lam.publish_layer_version(LayerName=name, Content={"ZipFile": content})["LayerVersionArn"]
        self._cleanups.append(lambda: lam.delete_layer_version(LayerName=name, VersionNumber=int(arn.split(":")[-1])))
        return arn

    def role(self) -> str:
        """A new role Lambda may assume; its name (attached policies are detached before it is deleted)."""
        iam = self.client("iam")
        name = unique("fidelity")
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))

        def delete() -> None:
            for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
            iam.delete_role(RoleName=name)

        self._cleanups.append(delete)
        return name

    def bucket(self, versioned: bool = False) -> str:
        """A new bucket (emptied and deleted by `close`)."""
        s3 = self.client("s3")
        name = unique("fidelity")
        s3.create_bucket(Bucket=name)
        self._cleanups.append(lambda: _delete_bucket(s3, name))
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def notify(self, bucket: str, function_arn: str) -> None:
        """Every ObjectCreated event of the bucket invokes the function (with the permission AWS requires)."""
        self.client("lambda").add_permission(
            FunctionName=function_arn, StatementId=unique("s3"), Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}")
        self.client("s3").put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"Id": "fidelity", "LambdaFunctionArn": function_arn,
                                              "Events": ["s3:ObjectCreated:*"]}]})

    def metric_sum(self, function_arn: str, metric: str) -> float:
        now = datetime.now(UTC)
        points = self.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric,
            Dimensions=[{"Name": "FunctionName", "Value": function_arn.split(":")[6]}],
            StartTime=now - timedelta(minutes=30), EndTime=now + timedelta(minutes=1), Period=3600,
            Statistics=["Sum"])["Datapoints"]
        return sum(p["Sum"] for p in points)

    def wait_for_metric(self, function_arn: str, metric: str, at_least: float) -> float:
        """The metric's sum once it reached `at_least` (metrics arrive in the background), or when patience ran out."""
        deadline = time.monotonic() + self.patience
        while (total := self.metric_sum(function_arn, metric)) < at_least and time.monotonic() < deadline:
            time.sleep(0.2)
        return total

    def close(self) -> None:
        while self._cleanups:
            self._cleanups.pop()()


@contextlib.contextmanager
def connected(request: pytest.FixtureRequest) -> Iterator[Cloud]:
    """The cloud FIDELITY_ENDPOINT_URL names, else the session's embedded emulator."""
    endpoint = os.environ.get(ENV_ENDPOINT)
    if endpoint is None:
        emulator = request.getfixturevalue("emulator")
        credentials = {"aws_access_key_id": DUMMY_ENV["AWS_ACCESS_KEY_ID"],
                       "aws_secret_access_key": DUMMY_ENV["AWS_SECRET_ACCESS_KEY"]}
        cloud = Cloud(emulator.endpoint, credentials, "", _EMBEDDED_PATIENCE_SECONDS)
        iam = cloud.client("iam")
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(RoleName=EMBEDDED_ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
        cloud.role_arn = iam.get_role(RoleName=EMBEDDED_ROLE)["Role"]["Arn"]
    else:
        cloud = Cloud(None if endpoint == "aws" else endpoint, {}, os.environ[ENV_ROLE], _AWS_PATIENCE_SECONDS)
    try:
        yield cloud
    finally:
        cloud.close()


def advance_clock(cloud: Cloud, seconds: float) -> None:
    """On the emulator, its clock moves on (POST /_emulator/clock); on AWS time has to pass."""
    if os.environ.get(ENV_ENDPOINT):
        time.sleep(seconds)
        return
    request = urllib.request.Request(f"{cloud.endpoint_url}/_emulator/clock", method="POST",
                                     data=json.dumps({"advance_seconds": seconds}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def early_in_a_minute(cloud: Cloud, room: float = 30.0) -> None:
    """Returns once the clock is at least `room` seconds before its next minute, so that datapoints made now fall in
    one metric period (periods are whole clock minutes)."""
    now = clock_now(cloud)
    into = now.second + now.microsecond / 1e6
    if into > 60 - room:
        advance_clock(cloud, 60.5 - into)


def clock_now(cloud: Cloud) -> datetime:
    """The emulator's clock (GET /_emulator/clock); on AWS, this machine's."""
    if os.environ.get(ENV_ENDPOINT):
        return datetime.now(UTC)
    with urllib.request.urlopen(f"{cloud.endpoint_url}/_emulator/clock", timeout=10) as response:
        return datetime.fromisoformat(json.load(response)["now"])


def http_call(cloud: Cloud, url: str, method: str = "GET", body: bytes | None = None
              ) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body); a *.localhost.localstack.cloud URL is sent to the emulator with its Host header."""
    headers = {}
    parts = urlsplit(url)
    if cloud.endpoint_url and parts.hostname and parts.hostname.endswith(".localhost.localstack.cloud"):
        headers["Host"] = parts.netloc
        url = url.replace(f"{parts.scheme}://{parts.netloc}", cloud.endpoint_url, 1)
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _delete_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [{"Key": o["Key"], "VersionId": o["VersionId"]}
                   for o in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
    s3.delete_bucket(Bucket=bucket)
