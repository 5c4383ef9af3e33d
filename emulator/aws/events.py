"""EventBridge: what the emulator changes in moto's events (5.2.5, pinned), and how targets are delivered.

- `Rule.send_to_targets`: moto answers PutEvents with HTTP 500 (`NotImplementedError`) for a Lambda or SNS target
  and delivers to SQS inside the PutEvents call, ignoring a rule's DISABLED state and a target's `Input` and
  `InputPath`. Here a matching, enabled rule hands the event to `TargetDelivery`, whose thread delivers it as
  EventBridge does: Lambda asynchronously (InvocationType Event), SQS by SendMessage (FIFO: the target's
  MessageGroupId), SNS by Publish. Other targets (log groups, archives, buses, API destinations) stay moto's.
- The event as AWS shapes it (https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html):
  `time` in ISO 8601 (moto keeps epoch seconds), no `ingestion-time`.
- What a target receives (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html):
  the event; or `Input` (constant JSON text); or the part `InputPath` selects; or `InputTransformer`'s template
  with each `<name>` replaced by its `InputPathsMap` value: JSON-encoded outside a quoted string, the bare text
  inside one. `<aws.events.rule-arn>`, `<aws.events.rule-name>`, `<aws.events.event.ingestion-time>` and
  `<aws.events.event.json>` are predefined.
"""

from __future__ import annotations

import copy
import json
import logging
import queue
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from moto.events.models import EventsBackend, Rule, events_backends

from emulator.aws.iam import service_may_invoke
from emulator.aws.registry import Internal, Patch
from emulator.errors import EmulatorError
from emulator.lambda_runtime.event_sources import Clients

logger = logging.getLogger(__name__)

SEND_TO_TARGETS = Internal(Rule, "send_to_targets", ("self", "original_event", "transform_input"),
                           source="self.event_pattern.matches_event(original_event)")
DEFAULT_BUS = Internal(EventsBackend, "_add_default_event_bus", ("self",), source='self.event_buses["default"]')
INTERNALS = (SEND_TO_TARGETS, DEFAULT_BUS)
DELIVERED_SERVICES = ("lambda", "sqs", "sns")
_EVENT_KEYS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")
_TEMPLATE_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|<([^<>\s"]+)>')
_PLACEHOLDER = re.compile(r"<([^<>\s\"]+)>")
_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']+)'\]")

Notify = Callable[[str, bytes], object]


def patches(delivery: TargetDelivery) -> list[Patch]:
    return [Patch(SEND_TO_TARGETS, lambda original: _delivering_through(delivery, original))]


def scheduled_rules() -> list[dict[str, Any]]:
    """Every account's and region's scheduled rules (on the default bus, the only one a schedule may use), in
    ListRules' shape plus their `Targets`: what the scheduler fires, read from moto's store rather than asking each
    account's API every tick."""
    rules = []
    for regions in list(events_backends.values()):
        for backend in list(regions.values()):
            bus = backend.event_buses.get("default")
            for rule in list(bus.rules.values()) if bus else []:
                if rule.scheduled_expression:
                    rules.append({"Name": rule.name, "Arn": rule.arn, "ScheduleExpression": rule.scheduled_expression,
                                  "State": rule.state, "Targets": copy.deepcopy(rule.targets)})
    return rules


def aws_event(moto_event: dict[str, Any]) -> dict[str, Any]:
    """moto's event message in AWS's shape: ISO time, no ingestion time, AWS's key order."""
    event = {key: moto_event[key] for key in _EVENT_KEYS if key in moto_event}
    moment = event.get("time")
    if isinstance(moment, int | float):
        event["time"] = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def target_input(target: dict[str, Any], event: dict[str, Any], rule: dict[str, Any]) -> str:
    """The text a target receives for an event, as its Input, InputPath or InputTransformer says."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        return json.dumps(json_path(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        values = {name: json_path(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()}
        values.update({"aws.events.rule-arn": rule["Arn"], "aws.events.rule-name": rule["Name"],
                       "aws.events.event.ingestion-time": event.get("time"), "aws.events.event.json": event})
        return fill_template(transformer["InputTemplate"], values)
    return json.dumps(event)


def json_path(document: Any, path: str) -> Any:
    """The value a JSONPath of dots and indexes ($.detail.items[0]) selects; None when it selects nothing."""
    if not path.startswith("$"):
        raise EmulatorError(f"InputPath {path!r} must start with '$'")
    value, position = document, 1
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            raise EmulatorError(f"InputPath {path!r}: cannot read it from position {position}")
        key, index, quoted = step.groups()
        if index is not None:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            value = value.get(key or quoted) if isinstance(value, dict) else None
        position = step.end()
    return value


def fill_template(template: str, values: dict[str, Any]) -> str:
    """The template with each known `<name>`: inside a quoted string its text, elsewhere its JSON."""

    def outside(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return _PLACEHOLDER.sub(inside, match.group(0))
        name = match.group(1)
        return json.dumps(values[name]) if name in values else match.group(0)

    def inside(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        value = values[name]
        text = value if isinstance(value, str) else json.dumps(value)
        return json.dumps(text)[1:-1]

    return _TEMPLATE_TOKEN.sub(outside, template)


class TargetDelivery:
    """EventBridge's delivery to targets, off the caller's thread: Lambda through our service's async invoke,
    SQS and SNS through their APIs on the emulator's endpoint, as the rule's account."""

    def __init__(self, clients: Clients, invoke_async: Notify) -> None:
        self._clients = clients
        self._invoke_async = invoke_async
        self._queue: queue.Queue[tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._deliver_forever, name="eventbridge-targets", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5.0)

    def submit(self, rule: dict[str, Any], targets: list[dict[str, Any]], event: dict[str, Any]) -> None:
        """Queues one event for a rule's targets (`rule`: its Arn and Name)."""
        self._queue.put((rule, copy.deepcopy(targets), event))

    def _deliver_forever(self) -> None:
        while (item := self._queue.get()) is not None:
            rule, targets, event = item
            for target in targets:
                try:
                    self._deliver(target, target_input(target, event, rule), rule["Arn"])
                except (BotoCoreError, ClientError, EmulatorError) as exc:
                    logger.error("rule %s: event %s not delivered to %s: %s", rule["Name"], event.get("id"),
                                 target["Arn"], exc)

    def _deliver(self, target: dict[str, Any], text: str, rule_arn: str) -> None:
        arn = target["Arn"]
        _, _, service, _, account, resource = arn.split(":", 5)
        _, _, _, rule_region, rule_account, _ = rule_arn.split(":", 5)
        if service == "lambda":
            if service_may_invoke(arn, "events.amazonaws.com", rule_arn):
                self._invoke_async(arn, text.encode())
        elif service == "sns":
            self._clients("sns", rule_account, rule_region).publish(TopicArn=arn, Message=text)
        elif service == "sqs":
            sqs = self._clients("sqs", rule_account, rule_region)
            url = sqs.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=account)["QueueUrl"]
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            sqs.send_message(QueueUrl=url, MessageBody=text, **({"MessageGroupId": group} if group else {}))
        else:
            raise EmulatorError(f"{service} targets are not delivered by the emulator")


def _delivering_through(delivery: TargetDelivery, original: Any) -> Any:
    def send_to_targets(rule: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
        if rule.state != "ENABLED" or not rule.event_pattern.matches_event(original_event):
            return
        ours = [t for t in rule.targets if t["Arn"].split(":")[2] in DELIVERED_SERVICES]
        if ours:
            delivery.submit({"Arn": rule.arn, "Name": rule.name}, ours, aws_event(original_event))
        others = [t for t in rule.targets if t not in ours]
        if others:
            moto_rule = copy.copy(rule)
            moto_rule.targets = others
            original(moto_rule, original_event, transform_input)

    return send_to_targets
