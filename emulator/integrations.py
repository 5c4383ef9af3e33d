"""The AWS services that call Lambda, wired to our Lambda service as AWS wires them (docs/fidelity.md, "Services
that call Lambda"): SNS subscriptions and EventBridge targets asynchronously, scheduled rules on the emulator's
clock, the HTTP front doors (API Gateway, function URLs) on the emulator's port, Step Functions executions (their
tasks signed by the execution role's session), CloudWatch alarms evaluated on the clock with SNS actions."""

from __future__ import annotations

import threading
from typing import Any, Protocol

import boto3

from emulator.aws.cloudwatch import AlarmEvaluator
from emulator.aws.events import TargetDelivery, scheduled_rules
from emulator.aws.hooks import IntegrationHooks
from emulator.clock import EmulatorClock
from emulator.front_doors import WSGIApp, front_doors
from emulator.lambda_runtime.event_sources import Clients
from emulator.schedules import Scheduler


class Session(Protocol):
    endpoint_url: str

    def client(self, service: str) -> Any: ...


class LambdaInvoker(Protocol):
    def invoke(self, function_name: str, payload: bytes) -> Any: ...

    def invoke_async(self, function_name: str, payload: bytes) -> str: ...


class Integrations:
    """install() before the stack is deployed (moto's services changed), start() once the endpoint serves."""

    def __init__(self, session: Session, service: LambdaInvoker, port: int, clients: Clients) -> None:
        self.clock = EmulatorClock()
        self._port = port
        self._endpoint_url = session.endpoint_url
        self._clients = clients
        self._invoke = service.invoke
        self._deliveries = TargetDelivery(self._clients, service.invoke_async)
        self._scheduler = Scheduler(scheduled_rules, self._deliveries.submit, self.clock)
        self._hooks = IntegrationHooks()
        self._invoke_async = service.invoke_async
        self._alarms = AlarmEvaluator(self.clock, self._publish)
        self._sns_clients: dict[tuple[str, str], Any] = {}
        self._sns_lock = threading.Lock()

    def install(self) -> None:
        self._hooks.install(self._invoke_async, self._deliveries, self._port, self._endpoint_url, self.clock,
                            self._alarms)

    def front_doors(self, app: WSGIApp) -> WSGIApp:
        """moto's app behind the HTTP endpoints of API Gateway (REST and HTTP APIs) and function URLs
        (emulator/front_doors.py)."""
        return front_doors(app, self._clients, self._invoke, self.clock)

    def start(self) -> None:
        self._deliveries.start()
        self._scheduler.start()
        self._alarms.start()

    def stop(self) -> None:
        self._alarms.stop()
        self._scheduler.stop()
        self._deliveries.stop()
        self._hooks.uninstall()

    def _publish(self, topic_arn: str, subject: str, message: str) -> None:
        """Publishes to a topic as its own account (a 12-digit key is that account: emulator/aws/accounts.py)."""
        region, account = topic_arn.split(":")[3:5]
        with self._sns_lock:
            if (account, region) not in self._sns_clients:
                self._sns_clients[(account, region)] = boto3.client(
                    "sns", region_name=region, endpoint_url=self._endpoint_url, aws_access_key_id=account,
                    aws_secret_access_key=account)
            client = self._sns_clients[(account, region)]
        client.publish(TopicArn=topic_arn, Subject=subject, Message=message)
