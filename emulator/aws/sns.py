"""SNS: what the emulator changes in moto's SNS (5.2.5, pinned).

- `Subscription.publish` and `LambdaBackend.send_sns_message`: moto invokes a subscribed function inside the
  publisher's Publish call, with a canned record (`arn:aws:sns:EXAMPLE`, a fixed MessageId, 1970's timestamp,
  test attributes). SNS invokes the function asynchronously (InvocationType Event), so Publish returns at once,
  with the topic's and the subscription's ARNs, the message's own id, timestamp, attributes and subject, and
  SNS's signature fields (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html). moto still applies the
  subscription's filter policy and a JSON MessageStructure before its Lambda branch is reached; our
  `send_sns_message` then takes the message from there, knowing which subscription and message it belongs to.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.sns.models import Subscription

from emulator.aws.iam import service_may_invoke
from emulator.aws.registry import Internal, Patch

logger = logging.getLogger(__name__)

SUBSCRIPTION_PUBLISH = Internal(Subscription, "publish", ("self", "message", "message_id", "subject",
                                                          "message_attributes"),
                                source="get_backend(self.account_id, region).send_sns_message(")
SEND_SNS_MESSAGE = Internal(LambdaBackend, "send_sns_message", ("self", "function_name", "message", "subject",
                                                                "qualifier"))
POST_DATA = Internal(Subscription, "get_post_data", ("self", "message", "message_id", "subject",
                                                     "message_attributes"))
INTERNALS = (SUBSCRIPTION_PUBLISH, SEND_SNS_MESSAGE, POST_DATA)

Notify = Callable[[str, bytes], object]


@dataclass(frozen=True)
class _Delivery:
    subscription: Subscription
    message_id: str
    message_attributes: dict[str, Any]


_delivery: contextvars.ContextVar[_Delivery | None] = contextvars.ContextVar("sns_delivery", default=None)


def patches(notify: Notify) -> list[Patch]:
    """SNS -> Lambda as AWS delivers it: asynchronously through `notify` (our service's async invoke)."""
    return [Patch(SUBSCRIPTION_PUBLISH, _remembering_the_delivery),
            Patch(SEND_SNS_MESSAGE, lambda _: _invoking_asynchronously(notify))]


def lambda_record(subscription: Subscription, message: str, message_id: str, subject: str | None,
                  message_attributes: dict[str, Any]) -> dict[str, Any]:
    """The `Records` entry SNS gives a subscribed function (with-sns.html's example, field for field)."""
    signed = subscription.get_post_data(message, message_id, subject)
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription.arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": subscription.topic_arn,
            "Subject": subject,
            "Message": message,
            "Timestamp": signed["Timestamp"],
            "SignatureVersion": signed["SignatureVersion"],
            "Signature": signed["Signature"],
            "SigningCertUrl": signed["SigningCertURL"],
            "UnsubscribeUrl": _unsubscribe_url(subscription),
            "MessageAttributes": message_attributes,
        },
    }


def _unsubscribe_url(subscription: Subscription) -> str:
    region = subscription.topic_arn.split(":")[3]
    return f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription.arn}"


def _remembering_the_delivery(original: Any) -> Any:
    def publish(subscription: Subscription, message: str, message_id: str, subject: str | None = None,
                message_attributes: dict[str, Any] | None = None, **kwargs: Any) -> None:
        token = _delivery.set(_Delivery(subscription, message_id, dict(message_attributes or {})))
        try:
            original(subscription, message, message_id, subject=subject, message_attributes=message_attributes,
                     **kwargs)
        finally:
            _delivery.reset(token)

    return publish


def _invoking_asynchronously(notify: Notify) -> Callable[..., None]:
    def send_sns_message(backend: LambdaBackend, function_name: str, message: str, subject: str | None = None,
                         qualifier: str | None = None) -> None:
        delivery = _delivery.get()
        if delivery is None:
            raise RuntimeError("send_sns_message called outside a subscription's publish")
        if not service_may_invoke(delivery.subscription.endpoint, "sns.amazonaws.com", delivery.subscription.topic_arn):
            return
        record = lambda_record(delivery.subscription, message, delivery.message_id, subject,
                               delivery.message_attributes)
        try:
            notify(delivery.subscription.endpoint, json.dumps({"Records": [record]}).encode())
        except Exception:  # SNS delivers asynchronously: a failure here must not fail the Publish
            logger.exception("SNS message %s could not be delivered to %s", delivery.message_id,
                             delivery.subscription.endpoint)

    return send_sns_message
