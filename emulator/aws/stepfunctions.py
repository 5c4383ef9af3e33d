"""Step Functions: executions run by moto's state-machine interpreter (`moto.stepfunctions.parser`, ported from
LocalStack), switched on with moto's own `stepfunctions.execute_state_machine` setting, and wired to the emulator:

- `boto_client_for` (bound by name in each module of the interpreter that calls a service: Lambda tasks, the
  optimised SQS/SNS/DynamoDB/EventBridge/Step Functions integrations, `aws-sdk:` tasks, Map's S3 reader and writer):
  moto's sends to `localhost:5000` (its standalone server) signed by keys of no account. Here every call goes to the
  emulator's own endpoint, signed by a session of the execution's role (or the state's `Credentials.RoleArn`), as
  Step Functions calls services on AWS (https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html):
  a Lambda task is an Invoke of our Lambda service, so qualifiers, limits, logs, metrics and IAM apply;
- `WaitFunction._wait_interval`: a Wait state waits on the emulator's clock (emulator/clock.py), so a test
  advances the clock instead of sleeping through `"Seconds": 3600`;
- `stepfunctions_backends` of moto's models, read by its CloudFormation handlers (`AWS::StepFunctions::StateMachine`,
  which SAM's `AWS::Serverless::StateMachine` becomes): the interpreter's backends, so a state machine a stack
  creates is the one the API lists and starts.
"""

from __future__ import annotations

import importlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import moto.stepfunctions.models as sfn_models
from botocore.client import BaseClient
from botocore.config import Config
from moto.core.config import default_user_config
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from emulator.aws.registry import Internal, Patch, Setting
from emulator.clock import EmulatorClock

_PARSER = "moto.stepfunctions.parser.asl.component.state"
SERVICE_CALLERS = (
    f"{_PARSER}.exec.state_task.lambda_eval_utils",
    *(f"{_PARSER}.exec.state_task.service.state_task_service_{name}"
      for name in ("aws_sdk", "batch", "dynamodb", "ecs", "events", "glue", "sfn", "sns", "sqs", "unsupported")),
    f"{_PARSER}.exec.state_map.item_reader.eval.resource_eval_s3",
    f"{_PARSER}.exec.state_map.result_writer.resource_eval.resource_eval_s3",
)
CLIENT_FACTORIES = tuple(Internal(importlib.import_module(module), "boto_client_for",
                                  ("region", "service", "state_credentials")) for module in SERVICE_CALLERS)
WAIT_INTERVAL = Internal(WaitFunction, "_wait_interval", ("self", "env", "wait_seconds"),
                         source="env.program_state_event.wait(wait_seconds)")
STACK_HANDLERS = tuple(Internal(StateMachine, name, ("cls",), source="stepfunctions_backends[account_id][region_name]")
                       for name in ("create_from_cloudformation_json", "delete_from_cloudformation_json",
                                    "update_from_cloudformation_json"))
INTERNALS = (*CLIENT_FACTORIES, WAIT_INTERVAL, *STACK_HANDLERS)

SESSION_SECONDS = 3600
RENEW_BEFORE = timedelta(minutes=5)
WAIT_TICK_SECONDS = 1.0  # how soon a waiting state notices StopExecution
_CALL_CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=960)  # Lambda: 900 s max


def settings() -> list[Setting]:
    """moto's interpreter answers the Step Functions API (StartExecution runs the state machine)."""
    return [Setting(default_user_config["stepfunctions"], "execute_state_machine", True),
            Setting(vars(sfn_models), "stepfunctions_backends", stepfunctions_parser_backends)]


def patches(endpoint_url: str, clock: EmulatorClock) -> list[Patch]:
    clients = RoleClients(endpoint_url)
    factories = [Patch(internal, lambda _: clients.client_for) for internal in CLIENT_FACTORIES]
    return [*factories, Patch(WAIT_INTERVAL, lambda _: _waiting_on(clock))]


class RoleClients:
    """boto3 clients of the emulator's endpoint signed by a session of a role (AssumeRole, renewed before it
    expires), one per role, region and service."""

    def __init__(self, endpoint_url: str) -> None:
        self._endpoint_url = endpoint_url
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str, str], tuple[BaseClient, datetime]] = {}

    def client_for(self, region: str, service: str, state_credentials: Any = None) -> BaseClient:
        """moto's `boto_client_for`: `state_credentials.role_arn` is the role the call is made as."""
        role_arn = str(getattr(state_credentials, "role_arn", "") or "")
        key = (role_arn, region, service)
        with self._lock:
            cached = self._clients.get(key)
            if cached is None or cached[1] - datetime.now(UTC) < RENEW_BEFORE:
                cached = self._new_client(role_arn, region, service)
                self._clients[key] = cached
            return cached[0]

    def _new_client(self, role_arn: str, region: str, service: str) -> tuple[BaseClient, datetime]:
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
        if not account.isdigit():
            raise ValueError(f"the state machine's role {role_arn!r} is not an IAM role ARN")
        sts = boto3.client("sts", region_name=region, endpoint_url=self._endpoint_url, aws_access_key_id=account,
                           aws_secret_access_key=account)  # a 12-digit key is its account (emulator/aws/accounts.py)
        session = sts.assume_role(RoleArn=role_arn, RoleSessionName="StepFunctions",
                                  DurationSeconds=SESSION_SECONDS)["Credentials"]
        client = boto3.client(service, region_name=region, endpoint_url=self._endpoint_url, config=_CALL_CONFIG,
                              aws_access_key_id=session["AccessKeyId"],
                              aws_secret_access_key=session["SecretAccessKey"],
                              aws_session_token=session["SessionToken"])
        return client, session["Expiration"]


def _waiting_on(clock: EmulatorClock) -> Any:
    def wait_interval(function: WaitFunction, env: Any, wait_seconds: int) -> None:
        deadline = clock.now() + timedelta(seconds=wait_seconds)
        while env.is_running() and (left := (deadline - clock.now()).total_seconds()) > 0:
            clock.sleep(min(left, WAIT_TICK_SECONDS))

    return wait_interval
