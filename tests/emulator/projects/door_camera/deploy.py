"""Puts the door camera on an endpoint with plain boto3, and takes it down again.

    python -m tests.emulator.projects.door_camera.deploy up  > outputs.json   # AWS_ENDPOINT_URL etc. as usual
    python -m tests.emulator.projects.door_camera.deploy down outputs.json
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from tests.emulator.projects.door_camera.policies import (
    LAMBDA_TRUST,
    STATES_TRUST,
    function_policy,
    state_machine_policy,
    topic_policy,
)

FUNCTIONS = ("recorder", "chime", "counter", "report", "steps", "visitors")
FUNCTIONS_DIR = Path(__file__).parent / "functions"
ALIAS = "live"
STAGE = "prod"
SNAPSHOT_PREFIX = "snapshots/"
CHIME_TIMEOUT_SECONDS = 5
CHIME_VISIBILITY_SECONDS = 6  # at least the consumer's timeout, or CreateEventSourceMapping refuses the queue
# IAM is eventually consistent: a new role may not be assumable for some seconds
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency)
ROLE_PROPAGATION_SECONDS = 60.0


def deploy(session_kwargs: dict[str, Any], prefix: str = "door-camera") -> dict[str, Any]:
    """Creates every resource; returns their names, ARNs, URLs and what `teardown` needs. `session_kwargs`: what each
    boto3 client is made with (region_name, endpoint_url, credentials). On a failure what was made is deleted."""
    stack = _Stack(session_kwargs, prefix)
    try:
        stack.build()
    except BaseException:
        teardown(session_kwargs, stack.outputs)
        raise
    return stack.outputs


def unmute_chime(session_kwargs: dict[str, Any], outputs: dict[str, Any]) -> None:
    """The chime is deployed muted (its mapping disabled: rings wait in the queue); from now on it rings."""
    boto3.client("lambda", **session_kwargs).update_event_source_mapping(UUID=outputs["chime_mapping"], Enabled=True)


def teardown(session_kwargs: dict[str, Any], outputs: dict[str, Any]) -> None:
    """Deletes what `deploy` created, newest first, and the functions' log groups."""
    for kind, identifier in reversed(outputs.get("created", [])):
        _DELETERS[kind](lambda service: boto3.client(service, **session_kwargs), identifier)


class _Stack:
    def __init__(self, session_kwargs: dict[str, Any], prefix: str) -> None:
        self._session_kwargs = session_kwargs
        self.outputs: dict[str, Any] = {"created": []}
        self.names = _names(prefix)

    def client(self, service: str) -> Any:
        return boto3.client(service, **self._session_kwargs)

    def _created(self, kind: str, identifier: Any) -> None:
        self.outputs["created"].append((kind, identifier))

    def build(self) -> None:
        identity = self.client("sts").get_caller_identity()
        region = self.client("sts").meta.region_name
        self.arns = _arns(self.names, region, identity["Account"])
        self.outputs.update(names=self.names, arns=self.arns)
        for function in FUNCTIONS:
            self._role(self.names[f"role:{function}"], LAMBDA_TRUST,
                       function_policy(function, self.names, self.arns))
        self._tables()
        self._chime_queue()
        for function in ("recorder", "chime", "counter", "steps"):
            self._function(function)
        self._report_machine()
        self._function("report")
        self._mappings()
        self._snapshot_topic()
        self._snapshot_bucket()
        self._schedule()
        self._visitors()

    def _role(self, name: str, trust: dict[str, Any], policy: dict[str, Any]) -> None:
        iam = self.client("iam")
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        self._created("role", name)
        iam.put_role_policy(RoleName=name, PolicyName="least-privilege", PolicyDocument=json.dumps(policy))

    def _tables(self) -> None:
        ddb = self.client("dynamodb")
        ddb.create_table(TableName=self.names["visits_table"], BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "door", "KeyType": "HASH"},
                                    {"AttributeName": "snapshot", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "door", "AttributeType": "S"},
                                               {"AttributeName": "snapshot", "AttributeType": "S"}],
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        self._created("table", self.names["visits_table"])
        ddb.create_table(TableName=self.names["counters_table"], BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "door", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "door", "AttributeType": "S"}])
        self._created("table", self.names["counters_table"])
        for table in (self.names["visits_table"], self.names["counters_table"]):
            ddb.get_waiter("table_exists").wait(TableName=table)
        described = ddb.describe_table(TableName=self.names["visits_table"])["Table"]
        self.outputs["visits_stream_arn"] = described["LatestStreamArn"]

    def _chime_queue(self) -> None:
        url = self.client("sqs").create_queue(QueueName=self.names["chime_queue"], Attributes={
            "FifoQueue": "true", "VisibilityTimeout": str(CHIME_VISIBILITY_SECONDS)})["QueueUrl"]
        self._created("queue", url)
        self.outputs["chime_queue_url"] = url

    def _function(self, function: str, environment: dict[str, str] | None = None) -> str:
        lam = self.client("lambda")
        name = self.names[f"fn:{function}"]
        variables = {"recorder": {"VISITS_TABLE": self.names["visits_table"],
                                  "CHIME_QUEUE_URL": self.outputs["chime_queue_url"]},
                     "chime": {"COUNTERS_TABLE": self.names["counters_table"]},
                     "counter": {"COUNTERS_TABLE": self.names["counters_table"]},
                     "report": {"COUNTERS_TABLE": self.names["counters_table"],
                                "REPORT_MACHINE_ARN": self.arns["report_machine"]},
                     "steps": {},
                     "visitors": {"VISITS_TABLE": self.names["visits_table"]}}[function]
        arn = _retry_while_roles_propagate(
            lam.create_function, FunctionName=name, Runtime="python3.11", Handler=f"{function}.lambda_handler",
            Role=f"arn:aws:iam::{self.arns['account']}:role/{self.names['role:' + function]}",
            Code={"ZipFile": _zip(function)}, Timeout=CHIME_TIMEOUT_SECONDS if function == "chime" else 10,
            Environment={"Variables": {**variables, **(environment or {})}})["FunctionArn"]
        self._created("function", name)
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        self.arns[f"fn:{function}"] = arn
        return arn

    def _report_machine(self) -> None:
        steps = self.arns["fn:steps"]
        self._role(self.names["states_role"], STATES_TRUST, state_machine_policy(steps))

        def label(level: str) -> dict[str, Any]:
            return {"Type": "Task", "Resource": steps, "End": True, "Parameters": {
                "action": "label", "level": level, "total.$": "$.tally.total", "busiest.$": "$.tally.busiest"}}

        definition = {"Comment": "the daily door report", "StartAt": "Tally", "States": {
            "Tally": {"Type": "Task", "Resource": steps, "Parameters": {"action": "tally", "counts.$": "$.counts"},
                      "ResultPath": "$.tally", "Next": "Busy day?"},
            "Busy day?": {"Type": "Choice", "Default": "Quiet",
                          "Choices": [{"Variable": "$.tally.total", "NumericGreaterThanEquals": 5, "Next": "Busy"}]},
            "Busy": label("busy"),
            "Quiet": label("quiet")}}
        arn = _retry_while_roles_propagate(
            self.client("stepfunctions").create_state_machine, name=self.names["report_machine"],
            definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{self.arns['account']}:role/{self.names['states_role']}")["stateMachineArn"]
        self._created("state_machine", arn)
        self.outputs["report_machine_arn"] = arn

    def _mappings(self) -> None:
        lam = self.client("lambda")
        for function, settings in (
                ("chime", {"EventSourceArn": self.arns["chime_queue"], "BatchSize": 10, "Enabled": False,
                           "FunctionResponseTypes": ["ReportBatchItemFailures"]}),
                ("counter", {"EventSourceArn": self.outputs["visits_stream_arn"], "BatchSize": 10,
                             "StartingPosition": "TRIM_HORIZON"})):
            uuid = _retry_while_roles_propagate(lam.create_event_source_mapping,
                                                FunctionName=self.names[f"fn:{function}"], **settings)["UUID"]
            self._created("mapping", uuid)
            self.outputs[f"{function}_mapping"] = uuid

    def _snapshot_topic(self) -> None:
        sns, lam = self.client("sns"), self.client("lambda")
        topic = sns.create_topic(Name=self.names["topic"])["TopicArn"]
        self._created("topic", topic)
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(
            topic_policy(topic, self.names["bucket"], self.arns["account"])))
        lam.add_permission(FunctionName=self.names["fn:recorder"], StatementId="snapshot-topic",
                           Action="lambda:InvokeFunction", Principal="sns.amazonaws.com", SourceArn=topic)
        self.outputs["subscription_arn"] = sns.subscribe(
            TopicArn=topic, Protocol="lambda", Endpoint=self.arns["fn:recorder"],
            ReturnSubscriptionArn=True)["SubscriptionArn"]

    def _snapshot_bucket(self) -> None:
        s3 = self.client("s3")
        bucket, region = self.names["bucket"], self.arns["region"]
        location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **location)
        self._created("bucket", bucket)
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"TopicConfigurations": [{
            "Id": "snapshots", "TopicArn": self.arns["topic"], "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": SNAPSHOT_PREFIX}]}}}]})

    def _schedule(self) -> None:
        events = self.client("events")
        rule = self.names["rule"]
        rule_arn = events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)", State="ENABLED")["RuleArn"]
        self._created("rule", rule)
        self.client("lambda").add_permission(
            FunctionName=self.names["fn:report"], StatementId="daily-schedule", Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com", SourceArn=rule_arn)
        events.put_targets(Rule=rule, Targets=[{"Id": "report", "Arn": self.arns["fn:report"]}])

    def _visitors(self) -> None:
        """Version 1 (release v1) behind the alias `live`, which the API and the URL call; $LATEST moves on."""
        lam = self.client("lambda")
        name = self.names["fn:visitors"]
        self._function("visitors", {"RELEASE": "v1"})
        version = lam.publish_version(FunctionName=name, Description="first release")["Version"]
        self.outputs["alias_arn"] = lam.create_alias(FunctionName=name, Name=ALIAS,
                                                     FunctionVersion=version)["AliasArn"]
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {
            "VISITS_TABLE": self.names["visits_table"], "RELEASE": "next"}})
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        self._rest_api()
        self._function_url()

    def _rest_api(self) -> None:
        apigateway = self.client("apigateway")
        api_id = apigateway.create_rest_api(name=self.names["api"])["id"]
        self._created("rest_api", api_id)
        root = next(r["id"] for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
        proxy = apigateway.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")["id"]
        apigateway.put_method(restApiId=api_id, resourceId=proxy, httpMethod="ANY", authorizationType="NONE")
        region, account = self.arns["region"], self.arns["account"]
        apigateway.put_integration(
            restApiId=api_id, resourceId=proxy, httpMethod="ANY", type="AWS_PROXY", integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{self.outputs['alias_arn']}/invocations")
        apigateway.create_deployment(restApiId=api_id, stageName=STAGE)
        self.client("lambda").add_permission(
            FunctionName=self.names["fn:visitors"], Qualifier=ALIAS, StatementId="rest-api",
            Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:{region}:{account}:{api_id}/*/*/*")
        endpoint = self._session_kwargs.get("endpoint_url")
        self.outputs["api_url"] = (f"{endpoint}/restapis/{api_id}/{STAGE}/_user_request_" if endpoint
                                   else f"https://{api_id}.execute-api.{region}.amazonaws.com/{STAGE}")

    def _function_url(self) -> None:
        lam = self.client("lambda")
        name = self.names["fn:visitors"]
        url = lam.create_function_url_config(FunctionName=name, Qualifier=ALIAS, AuthType="NONE")["FunctionUrl"]
        self._created("function_url", name)
        lam.add_permission(FunctionName=name, Qualifier=ALIAS, StatementId="function-url",
                           Action="lambda:InvokeFunctionUrl", Principal="*", FunctionUrlAuthType="NONE")
        self.outputs["function_url"] = url


def _names(prefix: str) -> dict[str, str]:
    names = {"bucket": f"{prefix}-snapshots", "topic": f"{prefix}-snapshots", "visits_table": f"{prefix}-visits",
             "counters_table": f"{prefix}-counters", "chime_queue": f"{prefix}-chime.fifo",
             "report_machine": f"{prefix}-report", "states_role": f"{prefix}-report-machine",
             "rule": f"{prefix}-daily-report", "api": f"{prefix}-api"}
    for function in FUNCTIONS:
        names[f"fn:{function}"] = f"{prefix}-{function}"
        names[f"role:{function}"] = f"{prefix}-{function}-role"
    return names


def _arns(names: dict[str, str], region: str, account: str) -> dict[str, str]:
    """The ARNs the policies name, known before the resources exist."""
    return {"region": region, "account": account,
            "visits_table": f"arn:aws:dynamodb:{region}:{account}:table/{names['visits_table']}",
            "counters_table": f"arn:aws:dynamodb:{region}:{account}:table/{names['counters_table']}",
            "chime_queue": f"arn:aws:sqs:{region}:{account}:{names['chime_queue']}",
            "topic": f"arn:aws:sns:{region}:{account}:{names['topic']}",
            "report_machine": f"arn:aws:states:{region}:{account}:stateMachine:{names['report_machine']}"}


def _zip(function: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(FUNCTIONS_DIR / f"{function}.py", f"{function}.py")
    return buffer.getvalue()


def _retry_while_roles_propagate(call: Callable[..., Any], **kwargs: Any) -> Any:
    deadline = time.monotonic() + ROLE_PROPAGATION_SECONDS
    while True:
        try:
            return call(**kwargs)
        except ClientError as error:
            message = error.response["Error"].get("Message", "")
            about_a_role = "role" in message.lower() or "assume" in message.lower()
            if not about_a_role or time.monotonic() > deadline:
                raise
            time.sleep(2)


def _delete_role(client: Callable[[str], Any], name: str) -> None:
    iam = client("iam")
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    iam.delete_role(RoleName=name)


def _delete_function(client: Callable[[str], Any], name: str) -> None:
    """The function with its versions and aliases, and the log group Lambda made for it."""
    client("lambda").delete_function(FunctionName=name)
    logs = client("logs")
    with contextlib.suppress(logs.exceptions.ResourceNotFoundException):  # a function that never ran has none
        logs.delete_log_group(logGroupName=f"/aws/lambda/{name}")


def _delete_bucket(client: Callable[[str], Any], bucket: str) -> None:
    s3 = client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
    s3.delete_bucket(Bucket=bucket)


def _delete_rule(client: Callable[[str], Any], rule: str) -> None:
    events = client("events")
    targets = [t["Id"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]]
    if targets:
        events.remove_targets(Rule=rule, Ids=targets)
    events.delete_rule(Name=rule)


_DELETERS: dict[str, Callable[[Callable[[str], Any], Any], None]] = {
    "role": _delete_role,
    "table": lambda client, name: client("dynamodb").delete_table(TableName=name),
    "queue": lambda client, url: client("sqs").delete_queue(QueueUrl=url),
    "function": _delete_function,
    "state_machine": lambda client, arn: client("stepfunctions").delete_state_machine(stateMachineArn=arn),
    "mapping": lambda client, uuid: client("lambda").delete_event_source_mapping(UUID=uuid),
    "topic": lambda client, arn: client("sns").delete_topic(TopicArn=arn),
    "bucket": _delete_bucket,
    "rule": _delete_rule,
    "rest_api": lambda client, api_id: client("apigateway").delete_rest_api(restApiId=api_id),
    "function_url": lambda client, name: client("lambda").delete_function_url_config(FunctionName=name,
                                                                                      Qualifier=ALIAS),
}


def main(argv: list[str]) -> int:
    if argv[:1] == ["up"] and len(argv) == 1:
        print(json.dumps(deploy({}), indent=2))
        return 0
    if argv[:1] == ["down"] and len(argv) == 2:
        teardown({}, json.loads(Path(argv[1]).read_text()))
        return 0
    print("usage: python -m tests.emulator.projects.door_camera.deploy up | down OUTPUTS.json", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
