"""The calls each function's role made, and the least-privilege policy built from them
(`python -m emulator policy FUNCTION`), ready for a template's `Policies:` or a setup script.

Calls are kept as JSON lines under the state folder (`iam/<account>/<function>.jsonl`), each action and resource
once. The policy grants exactly the actions called; resources are the ARNs called, except that an S3 object in a
folder becomes that folder's `*` and a log stream its group's (a function reads and writes a new key per event).
Calls are recorded in that narrowed form: a function reading one new object per event adds nothing to the log, in
memory or on disk, once its folder is known.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import boto3

from emulator.config import DEFAULT_ACCOUNT, DUMMY_CREDENTIALS, EmulatorConfig
from emulator.daemon import read_ready
from emulator.errors import EmulatorError, NotRunningError

CALLS_FOLDER = "iam"
# What Lambda calls with the execution role to deliver to a DLQ or destination, by the target ARN's service
# (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html)
DELIVERY_ACTIONS = {"sqs": "sqs:SendMessage", "sns": "sns:Publish", "lambda": "lambda:InvokeFunction",
                    "events": "events:PutEvents", "s3": "s3:PutObject"}
# What an event source mapping's poller calls with the execution role, by the source's service
# (with-sqs.html#events-sqs-permissions, with-ddb.html#events-dynamodb-permissions, with-kinesis.html)
POLLING_ACTIONS = {
    "sqs": ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
    "dynamodb": ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                 "dynamodb:ListStreams"),
    "kinesis": ("kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:ListStreams"),
}


class CallLog:
    """Appends each (action, resource pattern) a function's role used, once, to that function's file: the set of
    those seen is bounded by a function's folders, not by the objects it reads or writes."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._seen: set[tuple[str, str, str, str]] = set()
        self._lock = threading.Lock()

    def record(self, account: str, function_name: str, action: str, resource: str) -> None:
        pattern = narrowest_pattern(resource)
        call = (account, function_name, action, pattern)
        with self._lock:
            if call in self._seen:
                return
            self._seen.add(call)
            path = calls_file(self._folder, account, function_name)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as calls:
                calls.write(json.dumps({"action": action, "resource": pattern}) + "\n")


def calls_file(folder: Path, account: str, function_name: str) -> Path:
    return folder / account / f"{function_name}.jsonl"


def read_calls(path: Path) -> list[tuple[str, str]]:
    """(action, resource) pairs recorded in a calls file; EmulatorError when there is none."""
    if not path.is_file():
        raise EmulatorError(f"no calls recorded for {path.stem} (in {path.parent}): invoke the function first")
    return [(call["action"], call["resource"]) for call in map(json.loads, path.read_text().splitlines()) if call]


def least_privilege_policy(calls: list[tuple[str, str]]) -> dict[str, Any]:
    """One Allow statement per set of resources, listing every action used on exactly that set."""
    resources_by_action: dict[str, set[str]] = defaultdict(set)
    for action, resource in calls:
        resources_by_action[action].add(resource)
    actions_by_resources: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for action, resources in sorted(resources_by_action.items()):
        actions_by_resources[tuple(sorted({narrowest_pattern(r) for r in resources}))].append(action)
    statements = [{"Effect": "Allow", "Action": actions, "Resource": list(resources)}
                  for resources, actions in sorted(actions_by_resources.items(), key=lambda item: item[1])]
    return {"Version": "2012-10-17", "Statement": statements}


def narrowest_pattern(resource: str) -> str:
    """An S3 object in a folder -> `bucket/folder/*` (each event writes or reads a new key there); a log stream ->
    its group's `:*`; anything else as called. A pattern maps to itself."""
    bucket, _, key = resource.partition("/") if resource.startswith("arn:aws:s3:::") else (resource, "", "")
    if "/" in key:
        return f"{bucket}/{key.split('/')[0]}/*"
    if ":log-stream:" in resource:
        return resource.split(":log-stream:")[0] + ":*"
    return resource


def register_policy_command(sub: Any) -> None:
    command = sub.add_parser("policy", help="print the least-privilege policy built from a function's calls")
    command.add_argument("function", help="function name")
    command.add_argument("--account", default=DEFAULT_ACCOUNT, help="the function's account (default %(default)s)")
    command.set_defaults(run=_print_policy)


def log_delivery_calls(region: str, account: str, function_name: str) -> list[tuple[str, str]]:
    """What Lambda does with the function's execution role to deliver its logs, which the function never calls
    itself: without these on AWS its log group stays empty
    (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html#monitoring-cloudwatchlogs-prereqs)."""
    group = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function_name}"
    return [("logs:CreateLogGroup", f"{group}:*"), ("logs:CreateLogStream", f"{group}:log-stream:*"),
            ("logs:PutLogEvents", f"{group}:log-stream:*")]


def configuration_calls(lam: Any, function_name: str) -> list[tuple[str, str]]:
    """What Lambda calls with the function's role because of its configuration, whether or not it happened in
    this run: its dead-letter target, its async destinations, its event source mappings' polling and failures."""
    config = lam.get_function_configuration(FunctionName=function_name)
    targets = [(config.get("DeadLetterConfig") or {}).get("TargetArn")]
    try:
        destinations = lam.get_function_event_invoke_config(FunctionName=function_name).get("DestinationConfig")
    except lam.exceptions.ResourceNotFoundException:
        destinations = None
    targets += [d.get("Destination") for d in (destinations or {}).values()]
    calls = []
    for page in lam.get_paginator("list_event_source_mappings").paginate(FunctionName=function_name):
        for mapping in page["EventSourceMappings"]:
            source = mapping.get("EventSourceArn", "")
            calls += [(action, source) for action in POLLING_ACTIONS.get(_service(source), ())]
            targets.append(((mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"))
    calls += [(DELIVERY_ACTIONS[_service(t)], t) for t in targets if t and _service(t) in DELIVERY_ACTIONS]
    return calls


def _service(arn: str) -> str:
    return arn.split(":")[2] if arn.count(":") >= 5 else ""


def _print_policy(args: argparse.Namespace, config: EmulatorConfig) -> int:
    calls = read_calls(calls_file(config.state_dir / CALLS_FOLDER, args.account, args.function))
    calls += log_delivery_calls(config.region, args.account, args.function)
    try:
        calls += configuration_calls(_lambda_client(config, args.account), args.function)
    except NotRunningError as exc:
        print(f"note: {exc}; the permissions Lambda uses for this function's dead-letter queue, destinations and "
              "triggers are left out", file=sys.stderr)
    print(json.dumps(least_privilege_policy(calls), indent=2))
    return 0


def _lambda_client(config: EmulatorConfig, account: str) -> Any:
    """The running emulator's Lambda API as the account's administrator (a 12-digit key is that account)."""
    info = read_ready(config)
    key = DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"] if account == DEFAULT_ACCOUNT else account
    session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                            region_name=info["region"])
    return session.client("lambda", endpoint_url=info["endpoint"])
