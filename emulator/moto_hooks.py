"""The only place that touches moto's private internals: routes Lambda execution to our service.

moto 5.2.5 (pinned) stores functions but cannot run them without Docker. We replace:
- `moto.s3.notifications._invoke_awslambda`: S3 -> Lambda notifications become async invocations;
- `moto.awslambda.models.LambdaFunction.invoke`: the Invoke API runs the function on our workers;
- `LambdaFunction.__init__`, `.update_configuration`, `.create_from_cloudformation_json`: moto drops
  `DeadLetterConfig`; we keep it on the function object for our async invoker;
- `moto.sqs.models.Queue.add_message`: moto deduplicates FIFO messages only against messages still in
  the queue; SQS remembers a deduplication id for 5 minutes even after the message was deleted;
- `Queue.add_message`, `Queue.delete_message`, `SQSBackend.receive_message`: moto's SQS takes no lock, so
  concurrent receives hand one message to two consumers, and a delete racing a send drops the new message;
  we serialise them per queue (a long poll waits outside the lock);
- `moto.s3.models.FakeBucket.create_from_cloudformation_json`: moto's CloudFormation drops a bucket's
  NotificationConfiguration; we apply its Lambda notifications as the bucket is created, as AWS does, so an
  object PUT while the rest of the stack is still being created is not left without its event.
`verify_moto_internals` fails loudly when an upgrade moves any of these.
"""

from __future__ import annotations

import base64
import inspect
import json
import logging
import shutil
import tempfile
import threading
import time
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import moto
import moto.s3.notifications as s3_notifications
from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend
from moto.core.exceptions import JsonRESTError
from moto.s3.models import FakeBucket
from moto.sqs.models import DEDUPLICATION_TIME_IN_SECONDS, Queue, SQSBackend

from emulator.errors import EmulatorError
from emulator.lambda_runtime.invoker import LambdaService, PayloadTooLargeError, ThrottledError
from emulator.lambda_runtime.workers import FunctionSpec

logger = logging.getLogger(__name__)

MOTO_VERSION = "5.2.5"
_DLQ_ATTRIBUTE = "_emulator_dead_letter_config"
_DEDUP_ATTRIBUTE = "_emulator_deduplication_history"
_LOCK_ATTRIBUTE = "_emulator_lock"
_RECEIVE_POLL_SECONDS = 0.05
_EXPECTED_SIGNATURES = {
    "s3.notifications._invoke_awslambda": (s3_notifications, "_invoke_awslambda",
                                           ["account_id", "event_body", "fn_arn", "region_name"]),
    "LambdaFunction.invoke": (LambdaFunction, "invoke", ["self", "body", "request_headers", "response_headers"]),
    "LambdaFunction.__init__": (LambdaFunction, "__init__", ["self", "account_id", "spec", "region", "version"]),
    "LambdaFunction.update_configuration": (LambdaFunction, "update_configuration", ["self", "config_updates"]),
    "sqs.models.Queue.add_message": (Queue, "add_message", ["self", "message"]),
    "sqs.models.Queue.delete_message": (Queue, "delete_message", ["self", "receipt_handle"]),
    "sqs.models.SQSBackend.receive_message": (SQSBackend, "receive_message",
                                              ["self", "queue_name", "count", "wait_seconds_timeout",
                                               "visibility_timeout", "message_attribute_names"]),
    "FakeBucket.create_from_cloudformation_json": (FakeBucket, "create_from_cloudformation_json",
                                                   ["resource_name", "cloudformation_json", "account_id"]),
    "FakeBucket.set_notification_configuration": (FakeBucket, "set_notification_configuration",
                                                  ["self", "notification_config"]),
}


class TooManyRequestsException(JsonRESTError):
    """AWS's throttling error for a synchronous Invoke."""

    code = 429

    def __init__(self, message: str) -> None:
        super().__init__("TooManyRequestsException", message)


class RequestTooLargeException(JsonRESTError):
    """AWS's error for an Invoke payload over the limit of its invocation type."""

    code = 413

    def __init__(self, message: str) -> None:
        super().__init__(PayloadTooLargeError.error_type, message)


def verify_moto_internals() -> None:
    """Raises EmulatorError when the moto internals we patch are missing or changed shape."""
    if moto.__version__ != MOTO_VERSION:
        raise EmulatorError(f"moto {moto.__version__} installed; the emulator's hooks are written for {MOTO_VERSION}")
    for label, (owner, attribute, params) in _EXPECTED_SIGNATURES.items():
        target = getattr(owner, attribute, None)
        if target is None:
            raise EmulatorError(f"moto internal {label} is gone: the Lambda hooks need updating")
        actual = list(inspect.signature(target).parameters)[: len(params)]
        if actual != params:
            raise EmulatorError(f"moto internal {label} changed signature: expected {params}, found {actual}")
    if "self.code_bytes" not in inspect.getsource(LambdaFunction):
        raise EmulatorError("moto LambdaFunction no longer keeps code_bytes")


class MotoHooks:
    """Installs and removes the patches; resolves moto's stored functions into FunctionSpecs."""

    def __init__(self, code_cache: Path, default_account: str, default_region: str) -> None:
        self._code_cache = code_cache
        self._account = default_account
        self._region = default_region
        self._service: LambdaService | None = None
        self._originals: dict[tuple[Any, str], Any] = {}

    def install(self, service: LambdaService) -> None:
        verify_moto_internals()
        self._service = service
        self._patch(s3_notifications, "_invoke_awslambda", self._s3_notification)
        self._patch(LambdaFunction, "invoke", self._make_invoke())
        self._patch(LambdaFunction, "__init__", _keeping_dlq(LambdaFunction.__init__, spec_arg=True))
        self._patch(LambdaFunction, "update_configuration", _keeping_dlq(LambdaFunction.update_configuration))
        self._patch(LambdaFunction, "create_from_cloudformation_json", _cloudformation_keeping_dlq())
        self._patch(Queue, "add_message", _deduplicating_for_five_minutes(Queue.add_message))
        self._patch(Queue, "delete_message", _under_queue_lock(Queue.delete_message))
        self._patch(SQSBackend, "receive_message", _receiving_under_queue_lock(SQSBackend.receive_message))
        self._patch(FakeBucket, "create_from_cloudformation_json", _cloudformation_bucket_notifying())

    def uninstall(self) -> None:
        for (owner, attribute), original in self._originals.items():
            setattr(owner, attribute, original)
        self._originals.clear()

    def resolve(self, function: str) -> FunctionSpec:
        """A function name or ARN -> its current spec, with its code unpacked to a local folder."""
        account, region, name = self._split(function)
        try:
            fn = get_backend(account, region).get_function(name)
        except JsonRESTError as exc:
            raise EmulatorError(f"function {function} does not exist") from exc
        return self._spec(fn)

    def _patch(self, owner: Any, attribute: str, replacement: Any) -> None:
        self._originals.setdefault((owner, attribute), owner.__dict__[attribute])
        setattr(owner, attribute, replacement)

    def _s3_notification(self, account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        assert self._service is not None
        try:
            self._service.invoke_async(fn_arn, json.dumps(event_body).encode())
        except EmulatorError:
            logger.exception("S3 notification for %s could not be delivered", fn_arn)

    def _make_invoke(self) -> Any:
        hooks = self

        def invoke(fn: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
            return hooks._invoke(fn, body, request_headers, response_headers)

        return invoke

    def _invoke(self, fn: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        assert self._service is not None
        headers = {str(k).lower(): v for k, v in dict(request_headers or {}).items()}
        payload = body.encode() if isinstance(body, str) else (body or b"")
        invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type == "DryRun":
            return b""
        try:
            if invocation_type == "Event":
                self._service.invoke_async(fn.function_arn, payload or b"{}")
                return b""
            result = self._service.invoke(fn.function_arn, payload or b"{}")
        except ThrottledError as exc:
            raise TooManyRequestsException(str(exc)) from exc
        except PayloadTooLargeError as exc:
            raise RequestTooLargeException(str(exc)) from exc
        response_headers["x-amz-executed-version"] = "$LATEST"
        response_headers["x-amz-log-result"] = base64.b64encode("\n".join(result.log_lines)[-4096:].encode()).decode()
        if result.error is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(result.error).encode()
        return result.payload or b"null"

    def _split(self, function: str) -> tuple[str, str, str]:
        if function.startswith("arn:"):
            parts = function.split(":")
            return parts[4], parts[3], parts[6]
        return self._account, self._region, function

    def _spec(self, fn: LambdaFunction) -> FunctionSpec:
        dlq = (getattr(fn, _DLQ_ATTRIBUTE, None) or {}).get("TargetArn")
        return FunctionSpec(
            name=fn.function_name,
            arn=fn.function_arn,
            handler=fn.handler or "",
            code_dir=self._unpack(fn),
            timeout_seconds=float(fn.timeout),
            memory_mb=int(fn.memory_size),
            environment={k: str(v) for k, v in (fn.environment_vars or {}).items()},
            reserved_concurrency=int(fn.reserved_concurrency) if fn.reserved_concurrency else None,
            dead_letter_arn=dlq,
            code_sha256=fn.code_sha_256,
        )

    def _unpack(self, fn: LambdaFunction) -> Path:
        if not fn.code_bytes:
            raise EmulatorError(f"function {fn.function_name} has no zip code (image functions are not run locally)")
        target = self._code_cache / fn.code_sha_256.replace("/", "_").replace("+", "-")
        if target.is_dir():
            return target
        self._code_cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self._code_cache, prefix=".unpack-"))
        try:
            _extract_zip(fn.code_bytes, staging)
            staging.rename(target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():
                raise
        return target


def _extract_zip(data: bytes, target: Path) -> None:
    """Extracts a function's zip, refusing members that would land outside `target`."""
    root = target.resolve()
    with zipfile.ZipFile(BytesIO(data)) as archive:
        for member in archive.namelist():
            if not (root / member).resolve().is_relative_to(root):
                raise EmulatorError(f"function zip member {member!r} escapes the code folder")
        archive.extractall(root)


def _keeping_dlq(original: Any, spec_arg: bool = False) -> Any:
    """Wraps a LambdaFunction method so the DeadLetterConfig it is given is kept."""
    name, position = ("spec", 1) if spec_arg else ("config_updates", 0)

    def wrapper(fn: LambdaFunction, *args: Any, **kwargs: Any) -> Any:
        result = original(fn, *args, **kwargs)
        config = kwargs[name] if name in kwargs else args[position]
        if isinstance(config, dict) and "DeadLetterConfig" in config:
            setattr(fn, _DLQ_ATTRIBUTE, config["DeadLetterConfig"] or None)
        return result

    return wrapper


def _cloudformation_keeping_dlq() -> Any:
    original = LambdaFunction.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        fn = original(cls, resource_name, cloudformation_json, *args, **kwargs)
        config = cloudformation_json.get("Properties", {}).get("DeadLetterConfig")
        if config:
            setattr(fn, _DLQ_ATTRIBUTE, config)
        return fn

    return classmethod(create)


def _cloudformation_bucket_notifying() -> Any:
    original = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        bucket = original(cls, resource_name, cloudformation_json, *args, **kwargs)
        config = cloudformation_json.get("Properties", {}).get("NotificationConfiguration") or {}
        functions = [_cloud_function(c) for c in config.get("LambdaConfigurations", [])]
        if functions:
            bucket.set_notification_configuration({"CloudFunctionConfiguration": functions})
        return bucket

    return classmethod(create)


def _cloud_function(config: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation LambdaConfiguration in the shape moto's S3 notification model reads."""
    entry: dict[str, Any] = {"CloudFunction": config["Function"], "Event": [config["Event"]]}
    rules = config.get("Filter", {}).get("S3Key", {}).get("Rules")
    if rules:
        entry["Filter"] = {"S3Key": {"FilterRule": rules}}
    return entry


def _deduplicating_for_five_minutes(original: Any) -> Any:
    """Wraps Queue.add_message: a FIFO deduplication id is remembered for the window, deleted or not."""

    def add_message(queue: Queue, message: Any) -> None:
        dedup_id = getattr(message, "deduplication_id", None)
        with _queue_lock(queue):
            if queue.fifo_queue and dedup_id:
                now = message.sent_timestamp
                history = queue.__dict__.setdefault(_DEDUP_ATTRIBUTE, {})
                for seen_id, sent in list(history.items()):
                    if (now - sent) / 1000 >= DEDUPLICATION_TIME_IN_SECONDS:
                        del history[seen_id]
                if dedup_id in history:
                    return
                history[dedup_id] = now
            original(queue, message)

    return add_message


def _queue_lock(queue: Queue) -> threading.RLock:
    """The queue's own lock (dict.setdefault is atomic, so two threads never get different locks)."""
    return queue.__dict__.setdefault(_LOCK_ATTRIBUTE, threading.RLock())


def _under_queue_lock(original: Any) -> Any:
    """Wraps a Queue method so it runs under the queue's lock."""

    def locked(queue: Queue, *args: Any, **kwargs: Any) -> Any:
        with _queue_lock(queue):
            return original(queue, *args, **kwargs)

    return locked


def _receiving_under_queue_lock(original: Any) -> Any:
    """Wraps SQSBackend.receive_message: each look at the queue holds its lock; a long poll waits between looks."""

    def receive_message(backend: SQSBackend, queue_name: str, count: int, wait_seconds_timeout: int,
                        visibility_timeout: int, message_attribute_names: list[str] | None = None) -> list[Any]:
        queue = backend.get_queue(queue_name)
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        while True:
            with _queue_lock(queue):
                received = original(backend, queue_name, count, 0, visibility_timeout, message_attribute_names)
            remaining = deadline - time.monotonic()
            if received or remaining <= 0:
                return received
            if queue.messages:  # visible, but its FIFO group is in flight: look again shortly
                time.sleep(min(remaining, _RECEIVE_POLL_SECONDS))
            else:
                queue.wait_for_messages(min(remaining, _RECEIVE_POLL_SECONDS))  # type: ignore[arg-type]

    return receive_message
