"""AWS Lambda's quotas and create/update/invoke validations: one table, each row with the AWS page that states it.

The checks take a request's parameters as boto3 sends them (CreateFunction, UpdateFunctionConfiguration,
UpdateFunctionCode, PublishLayerVersion, Invoke) plus what only the caller knows (unzipped sizes, the role's
trust policy, today's date), and raise LambdaLimitError: AWS's error code, HTTP status and message as boto3
receives them. Evidence for each message is listed in docs/fidelity.md ("Lambda limits").
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from urllib.parse import unquote

from moto.core.exceptions import JsonRESTError

QUOTAS_PAGE = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
CREATE_FUNCTION_PAGE = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html"
INVOKE_PAGE = "https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html"
RUNTIMES_PAGE = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html"
TROUBLESHOOTING_PAGE = "https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-deployment.html"
EXECUTION_ROLE_PAGE = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html"
ENVIRONMENT_PAGE = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html"
SQS_MAPPING_PAGE = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html"
MAPPING_API_PAGE = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html"
# "The keys for these environment variables are reserved and cannot be set in your function configuration"
# (ENVIRONMENT_PAGE, "Defined runtime environment variables").
RESERVED_ENVIRONMENT_KEYS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR"})

INVALID_PARAMETER = "InvalidParameterValueException"
VALIDATION = "ValidationException"
ENTITY_TOO_LARGE = "RequestEntityTooLargeException"  # what boto3 receives, not the modelled RequestTooLargeException
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"


@dataclass(frozen=True)
class Limit:
    """One quota or validation: the bound, AWS's error for crossing it, and the AWS page that states the bound.

    `message` is a str.format template: {limit} is this row's value, other fields come from the request.
    `bound` says how `value` limits a number ("max"/"min"; "rule" rows are not numeric). `inclusive`: the
    bound itself is allowed (False where AWS's message says "must be smaller than").
    """

    name: str
    value: int | str
    unit: str
    error_code: str
    message: str
    source: str
    status: int = 400
    bound: Literal["max", "min", "rule"] = "max"
    inclusive: bool = True

    def violated_by(self, amount: int) -> bool:
        """True when `amount` is outside this numeric bound."""
        assert isinstance(self.value, int), f"{self.name} is not a numeric bound"
        if self.bound == "min":
            return amount < self.value
        return amount > self.value if self.inclusive else amount >= self.value

    def error(self, **fields: Any) -> LambdaLimitError:
        """AWS's refusal for this row, its message filled with `fields`."""
        return LambdaLimitError(self, self.message.format(limit=self.value, **fields))


class LambdaLimitError(JsonRESTError):
    """An AWS Lambda refusal: AWS's error code, HTTP status and message, in the JSON body boto3 parses."""

    def __init__(self, limit: Limit, message: str) -> None:
        super().__init__(limit.error_code, message)
        self.code = limit.status
        self.limit = limit
        self.description = json.dumps({"__type": limit.error_code, "message": message, "Type": "User"})


def _constraint(member: str, clause: str) -> str:
    return f"1 validation error detected: Value '{{value}}' at '{member}' failed to satisfy constraint: {clause}"


TIMEOUT_MIN = Limit("timeout.min", 1, "s", VALIDATION,
                    _constraint("timeout", "Member must have value greater than or equal to {limit}"),
                    CREATE_FUNCTION_PAGE, bound="min")
TIMEOUT_MAX = Limit("timeout.max", 900, "s", INVALID_PARAMETER,
                    "'timeout' failed to satisfy constraint: Member must have value less than or equal to {limit}",
                    QUOTAS_PAGE)
MEMORY_MIN = Limit("memory.min", 128, "MB", VALIDATION,
                   _constraint("memorySize", "Member must have value greater than or equal to {limit}"),
                   CREATE_FUNCTION_PAGE, bound="min")
MEMORY_MAX = Limit("memory.max", 10240, "MB", INVALID_PARAMETER,
                   "'memorySize' failed to satisfy constraint: Member must have value less than or equal to {limit}",
                   QUOTAS_PAGE)
_STORAGE_MESSAGE = ("Value {value} at 'ephemeralStorage.size' failed to satisfy constraint: Member must satisfy "
                    "constraint: [Member must have value less than or equal to 10240, Member must have value "
                    "greater than or equal to 512]")
EPHEMERAL_STORAGE_MIN = Limit("ephemeral_storage.min", 512, "MB", INVALID_PARAMETER, _STORAGE_MESSAGE, QUOTAS_PAGE,
                              bound="min")
EPHEMERAL_STORAGE_MAX = Limit("ephemeral_storage.max", 10240, "MB", INVALID_PARAMETER, _STORAGE_MESSAGE, QUOTAS_PAGE)
ENVIRONMENT_SIZE = Limit(
    "environment.size", 4096, "bytes (UTF-8 of the variables as compact JSON)", INVALID_PARAMETER,
    "Lambda was unable to configure your environment variables because the environment variables you have "
    "provided exceeded the 4KB limit. String measured: {measured}", TROUBLESHOOTING_PAGE)
RESERVED_ENVIRONMENT = Limit(
    "environment.reserved_keys", "RESERVED_ENVIRONMENT_KEYS", "variable names", INVALID_PARAMETER,
    "Lambda was unable to configure your environment variables because the environment variables you have provided "
    "contains reserved keys that are currently not supported for modification. Reserved keys used in this request: "
    "{keys}", ENVIRONMENT_PAGE, bound="rule")
LAYER_COUNT = Limit("layers.count", 5, "layers", INVALID_PARAMETER, "Cannot reference more than {limit} layers.",
                    QUOTAS_PAGE)
IMAGE_EXCLUSIONS = Limit(
    "image.no_handler_runtime_layers", "Handler, Runtime, Layers", "parameters", INVALID_PARAMETER,
    "Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image.",
    CREATE_FUNCTION_PAGE, bound="rule")
HANDLER_LENGTH = Limit("handler.length", 128, "characters", VALIDATION,
                       _constraint("handler", "Member must have length less than or equal to {limit}"),
                       CREATE_FUNCTION_PAGE)
HANDLER_PATTERN = Limit("handler.pattern", r"[^\s]+", "regular expression", VALIDATION,
                        _constraint("handler", "Member must satisfy regular expression pattern: {limit}"),
                        CREATE_FUNCTION_PAGE, bound="rule")
_NAME_GROUP = 7  # FUNCTION_NAME_PATTERN's group holding the function's name
FUNCTION_NAME_PATTERN = Limit(
    "function-name.pattern",
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)"
    r"(:(\$LATEST|[a-zA-Z0-9-_]+))?", "regular expression", VALIDATION,
    _constraint("functionName", "Member must satisfy regular expression pattern: {limit}"), CREATE_FUNCTION_PAGE,
    bound="rule")
# CreateFunction's model allows 140 characters, for an ARN; the name in it is at most 64.
FUNCTION_NAME_LENGTH = Limit("function-name.length", 64, "characters (the name, without ARN or qualifier)",
                             INVALID_PARAMETER,
                             _constraint("functionName", "Member must have length less than or equal to {limit}"),
                             CREATE_FUNCTION_PAGE)
UPLOAD_REQUEST = Limit(
    "code.zipped_request", 69905067, "bytes of request body (50 MB zip, base64-encoded)", ENTITY_TOO_LARGE,
    "Request must be smaller than {limit} bytes for the {operation} operation", TROUBLESHOOTING_PAGE,
    status=413, inclusive=False)
CONFIGURATION_REQUEST = Limit(
    "configuration.request", 5120, "bytes of request body", ENTITY_TOO_LARGE,
    "Request must be smaller than {limit} bytes for the {operation} operation", TROUBLESHOOTING_PAGE,
    status=413, inclusive=False)
UNZIPPED_CODE = Limit("code.unzipped", 262144000, "bytes (function code and all its layers, unzipped)",
                      INVALID_PARAMETER, "Unzipped size must be smaller than {allowance} bytes", QUOTAS_PAGE,
                      inclusive=False)
UNZIPPED_LAYERS = Limit("layers.unzipped", 262144000, "bytes (a function's layers, unzipped)", INVALID_PARAMETER,
                        "Layers consume more than the available size of {limit} bytes", QUOTAS_PAGE)
INVOKE_REQUEST = Limit("invoke.request", 6291456, "bytes (synchronous request, and the ceiling of every Invoke)",
                       ENTITY_TOO_LARGE, "Request must be smaller than {limit} bytes for the InvokeFunction operation",
                       INVOKE_PAGE, status=413, inclusive=False)
INVOKE_ASYNC = Limit("invoke.async_request", 1048576, "bytes (InvocationType Event, raised from 256 KB in 2025)",
                     ENTITY_TOO_LARGE,
                     "{value} byte payload is too large for the Event invocation type (limit {limit} bytes)",
                     INVOKE_PAGE, status=413)
INVOKE_RESPONSE = Limit("invoke.response", 6291556, "bytes (synchronous response)", "Function.ResponseSizeTooLarge",
                        "Response payload size exceeded maximum allowed payload size ({limit} bytes).", QUOTAS_PAGE,
                        status=200)
RUNTIME_SCHEDULE_ROW = Limit(
    "runtime.deprecation", "RUNTIME_SCHEDULE", "dates", INVALID_PARAMETER,
    "Value {value} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{allowed}] "
    "or be a valid ARN", RUNTIMES_PAGE, bound="rule")
ROLE_TRUST = Limit("role.trust", LAMBDA_PRINCIPAL, "service principal", INVALID_PARAMETER,
                   "The role defined for the function cannot be assumed by Lambda.", EXECUTION_ROLE_PAGE,
                   bound="rule")
SQS_BATCH_MIN = Limit("sqs-mapping.batch.min", 1, "messages", VALIDATION,
                      _constraint("batchSize", "Member must have value greater than or equal to {limit}"),
                      MAPPING_API_PAGE, bound="min")
SQS_BATCH_MAX = Limit("sqs-mapping.batch.max", 10000, "messages (standard queue)", VALIDATION,
                      _constraint("batchSize", "Member must have value less than or equal to {limit}"),
                      SQS_MAPPING_PAGE)
FIFO_BATCH_MAX = Limit("sqs-mapping.fifo-batch.max", 10, "messages (FIFO queue)", INVALID_PARAMETER,
                       "BatchSize {value} exceeds the maximum of {limit} for FIFO queues", SQS_MAPPING_PAGE)
FIFO_BATCH_WINDOW = Limit("sqs-mapping.fifo-window", 0, "s (FIFO queue)", INVALID_PARAMETER,
                          "Batching window is not supported for FIFO queues", SQS_MAPPING_PAGE)
LARGE_BATCH_WINDOW = Limit("sqs-mapping.large-batch-window", 10, "messages without a batching window",
                           INVALID_PARAMETER, "Maximum batch window in seconds must be greater than 0 if maximum "
                           "batch size is greater than {limit}", MAPPING_API_PAGE)
INVOKE_JSON = Limit("invoke.json", "JSON", "payload", "InvalidRequestContentException",
                    "Could not parse request body into json: Could not parse payload into json: {reason}",
                    INVOKE_PAGE, bound="rule")

LIMITS: tuple[Limit, ...] = (
    TIMEOUT_MIN, TIMEOUT_MAX, MEMORY_MIN, MEMORY_MAX, EPHEMERAL_STORAGE_MIN, EPHEMERAL_STORAGE_MAX, ENVIRONMENT_SIZE,
    RESERVED_ENVIRONMENT, LAYER_COUNT, IMAGE_EXCLUSIONS, HANDLER_LENGTH, HANDLER_PATTERN, UPLOAD_REQUEST,
    CONFIGURATION_REQUEST, UNZIPPED_CODE, UNZIPPED_LAYERS, INVOKE_REQUEST, INVOKE_ASYNC, INVOKE_RESPONSE,
    RUNTIME_SCHEDULE_ROW, ROLE_TRUST, FUNCTION_NAME_PATTERN, FUNCTION_NAME_LENGTH, SQS_BATCH_MIN, SQS_BATCH_MAX,
    FIFO_BATCH_MAX, FIFO_BATCH_WINDOW, LARGE_BATCH_WINDOW, INVOKE_JSON,
)


@dataclass(frozen=True)
class RuntimeSchedule:
    """A managed runtime's deprecation dates; from `block_create` on CreateFunction refuses it, from
    `block_update` so do updates of functions that use it."""

    identifier: str
    deprecated: date
    block_create: date
    block_update: date


def _schedule(identifier: str, deprecated: str, block_create: str, block_update: str) -> RuntimeSchedule:
    return RuntimeSchedule(identifier, date.fromisoformat(deprecated), date.fromisoformat(block_create),
                           date.fromisoformat(block_update))


# AWS's supported and deprecated runtime tables (RUNTIMES_PAGE) as published in October 2026; dates move, re-check.
RUNTIME_SCHEDULE: tuple[RuntimeSchedule, ...] = (
    _schedule("nodejs24.x", "2028-04-30", "2028-06-01", "2028-07-01"),
    _schedule("nodejs22.x", "2027-04-30", "2027-06-01", "2027-07-01"),
    _schedule("nodejs20.x", "2026-04-30", "2027-07-29", "2027-08-31"),
    _schedule("nodejs18.x", "2025-09-01", "2027-07-29", "2027-08-31"),
    _schedule("nodejs16.x", "2024-06-12", "2027-07-29", "2027-08-31"),
    _schedule("nodejs14.x", "2023-12-04", "2024-01-09", "2027-08-31"),
    _schedule("python3.14", "2029-06-30", "2029-07-31", "2029-08-31"),
    _schedule("python3.13", "2029-06-30", "2029-07-31", "2029-08-31"),
    _schedule("python3.12", "2028-10-31", "2028-11-30", "2029-01-10"),
    _schedule("python3.11", "2027-06-30", "2027-07-29", "2027-08-31"),
    _schedule("python3.10", "2026-10-31", "2027-07-29", "2027-08-31"),
    _schedule("python3.9", "2025-12-15", "2027-07-29", "2027-08-31"),
    _schedule("python3.8", "2024-10-14", "2027-07-29", "2027-08-31"),
    _schedule("python3.7", "2023-12-04", "2024-01-09", "2027-08-31"),
    _schedule("java21", "2029-06-30", "2029-07-31", "2029-08-31"),
    _schedule("java17", "2027-06-30", "2027-07-29", "2027-08-31"),
    _schedule("java11", "2027-06-30", "2027-07-29", "2027-08-31"),
    _schedule("java8.al2", "2027-06-30", "2027-07-29", "2027-08-31"),
    _schedule("java8", "2024-01-08", "2024-02-08", "2027-08-31"),
    _schedule("dotnet10", "2028-11-14", "2028-12-14", "2029-01-15"),
    _schedule("dotnet8", "2026-11-10", "2027-07-29", "2027-08-31"),
    _schedule("dotnet6", "2024-12-20", "2027-07-29", "2027-08-31"),
    _schedule("ruby3.4", "2028-03-31", "2028-04-30", "2028-05-31"),
    _schedule("ruby3.3", "2027-03-31", "2027-07-29", "2027-08-31"),
    _schedule("ruby3.2", "2026-03-31", "2027-07-29", "2027-08-31"),
    _schedule("provided.al2023", "2029-06-30", "2029-07-31", "2029-08-31"),
    _schedule("provided.al2", "2026-07-31", "2027-07-29", "2027-08-31"),
    _schedule("go1.x", "2024-01-08", "2024-02-08", "2027-08-31"),
    _schedule("provided", "2024-01-08", "2024-02-08", "2027-08-31"),
)
_SCHEDULE_BY_RUNTIME = {row.identifier: row for row in RUNTIME_SCHEDULE}

# Members each operation carries in its URI, not in the JSON body whose size AWS limits.
_URI_MEMBERS = {"UpdateFunctionConfiguration": "FunctionName", "UpdateFunctionCode": "FunctionName",
                "PublishLayerVersion": "LayerName", "CreateFunction": None}
_REQUEST_LIMITS = {"CreateFunction": UPLOAD_REQUEST, "UpdateFunctionCode": UPLOAD_REQUEST,
                   "PublishLayerVersion": UPLOAD_REQUEST, "UpdateFunctionConfiguration": CONFIGURATION_REQUEST}


def check_create_function(request: Mapping[str, Any], *, today: date, trust_policy: str | Mapping[str, Any] | None,
                          code_unzipped_bytes: int | None = None, layers_unzipped_bytes: int = 0) -> None:
    """Raises LambdaLimitError for the first CreateFunction parameter AWS refuses.

    `trust_policy`: the role's AssumeRolePolicyDocument (JSON text, URL-encoded or not, or parsed), None when the
    role does not exist. `code_unzipped_bytes`: the zip's extracted size, None for an image function.
    """
    check_request_size("CreateFunction", encoded_request_size("CreateFunction", request))
    _check_function_name(str(request.get("FunctionName") or ""))
    package_type = request.get("PackageType") or "Zip"
    _check_settings(request, package_type)
    if package_type == "Zip":
        _check_runtime(request.get("Runtime"), today, _creatable)
    check_role_trust(trust_policy)
    if code_unzipped_bytes is not None:
        check_unzipped_size(code_unzipped_bytes, layers_unzipped_bytes)


def check_update_configuration(request: Mapping[str, Any], *, today: date, package_type: str,
                               current_runtime: str | None, trust_policy: str | Mapping[str, Any] | None = None,
                               code_unzipped_bytes: int | None = None, layers_unzipped_bytes: int = 0) -> None:
    """Raises LambdaLimitError for the first UpdateFunctionConfiguration parameter AWS refuses.

    `package_type`/`current_runtime` are the function's now; `trust_policy` is read only when the request names
    a Role; `code_unzipped_bytes` (the function's code) is needed only when the request changes Layers.
    """
    check_request_size("UpdateFunctionConfiguration", encoded_request_size("UpdateFunctionConfiguration", request))
    _check_settings(request, package_type)
    if package_type == "Zip":
        _check_runtime(request.get("Runtime") or current_runtime, today, _updatable)
    if "Role" in request:
        check_role_trust(trust_policy)
    if "Layers" in request and code_unzipped_bytes is not None:
        check_unzipped_size(code_unzipped_bytes, layers_unzipped_bytes)


def check_update_code(request: Mapping[str, Any], *, today: date, package_type: str, runtime: str | None,
                      code_unzipped_bytes: int | None = None, layers_unzipped_bytes: int = 0) -> None:
    """Raises LambdaLimitError when AWS refuses an UpdateFunctionCode: size, or a runtime past its update block."""
    check_request_size("UpdateFunctionCode", encoded_request_size("UpdateFunctionCode", request))
    if package_type == "Zip":
        _check_runtime(runtime, today, _updatable)
    if code_unzipped_bytes is not None:
        check_unzipped_size(code_unzipped_bytes, layers_unzipped_bytes)


def check_publish_layer_version(request: Mapping[str, Any], *, unzipped_bytes: int) -> None:
    """Raises LambdaLimitError when AWS refuses a PublishLayerVersion for its size."""
    check_request_size("PublishLayerVersion", encoded_request_size("PublishLayerVersion", request))
    if UNZIPPED_CODE.violated_by(unzipped_bytes):
        raise UNZIPPED_CODE.error(allowance=UNZIPPED_CODE.value)


def check_invoke_payload(invocation_type: str, payload_bytes: int) -> None:
    """Raises LambdaLimitError (RequestEntityTooLargeException, HTTP 413) for an Invoke payload over its limit."""
    if INVOKE_REQUEST.violated_by(payload_bytes):
        raise INVOKE_REQUEST.error(value=payload_bytes)
    if invocation_type == "Event" and INVOKE_ASYNC.violated_by(payload_bytes):
        raise INVOKE_ASYNC.error(value=payload_bytes)


def check_invoke_json(payload: bytes) -> None:
    """Raises LambdaLimitError (InvalidRequestContentException) for a non-empty payload that is not JSON: Lambda
    refuses it at the API, before any function runs."""
    if not payload:
        return
    try:
        json.loads(payload)
    except ValueError as exc:
        raise INVOKE_JSON.error(reason=exc) from exc


def check_sqs_mapping(queue_arn: str, batch_size: int | None, window_seconds: int | None) -> None:
    """Raises LambdaLimitError when Lambda refuses an SQS event source mapping's batching (CreateEventSourceMapping,
    or UpdateEventSourceMapping with the mapping's settings after the update)."""
    fifo = queue_arn.endswith(".fifo")
    size = 10 if batch_size is None else int(batch_size)
    window = int(window_seconds or 0)
    for bound in (SQS_BATCH_MIN, SQS_BATCH_MAX, *((FIFO_BATCH_MAX,) if fifo else ())):
        if bound.violated_by(size):
            raise bound.error(value=size)
    if fifo and window > 0:
        raise FIFO_BATCH_WINDOW.error()
    if LARGE_BATCH_WINDOW.violated_by(size) and window == 0:
        raise LARGE_BATCH_WINDOW.error()


def oversized_response(response_bytes: int) -> dict[str, str] | None:
    """The function error a synchronous caller gets instead of a response over the limit, else None."""
    if not INVOKE_RESPONSE.violated_by(response_bytes):
        return None
    error = INVOKE_RESPONSE.error()
    return {"errorMessage": error.message, "errorType": error.error_type}


def check_request_size(operation: str, body_bytes: int) -> None:
    """Raises LambdaLimitError (HTTP 413) when an operation's request body is over AWS's limit for it."""
    limit = _REQUEST_LIMITS[operation]
    if limit.violated_by(body_bytes):
        raise limit.error(operation=operation)


def encoded_request_size(operation: str, request: Mapping[str, Any]) -> int:
    """Bytes of the JSON body boto3 sends for `request` (blobs in base64, the URI member left out)."""
    uri_member = _URI_MEMBERS[operation]
    body = {key: value for key, value in request.items() if key != uri_member}
    return len(json.dumps(_wire_form(body)).encode())


def check_unzipped_size(code_bytes: int, layers_bytes: int) -> None:
    """Raises LambdaLimitError when a function's code and layers, unzipped, are over 262,144,000 bytes."""
    if UNZIPPED_LAYERS.violated_by(layers_bytes):
        raise UNZIPPED_LAYERS.error()
    if UNZIPPED_CODE.violated_by(code_bytes + layers_bytes):
        raise UNZIPPED_CODE.error(allowance=int(UNZIPPED_CODE.value) - layers_bytes)


def environment_size(variables: Mapping[str, str]) -> tuple[int, str]:
    """AWS's measure of environment variables: the UTF-8 bytes of their JSON without white space, and that JSON."""
    measured = json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False)
    return len(measured.encode()), measured


def check_role_trust(trust_policy: str | Mapping[str, Any] | None) -> None:
    """Raises LambdaLimitError unless the trust policy lets lambda.amazonaws.com call sts:AssumeRole."""
    statements = _policy_document(trust_policy).get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    if not any(isinstance(statement, Mapping) and _allows_lambda(statement) for statement in statements):
        raise ROLE_TRUST.error()


def runtime_schedule(runtime: str) -> RuntimeSchedule | None:
    """AWS's deprecation dates for a managed runtime, None for one not in AWS's tables."""
    return _SCHEDULE_BY_RUNTIME.get(runtime)


def _check_settings(request: Mapping[str, Any], package_type: str) -> None:
    _check_range(TIMEOUT_MIN, TIMEOUT_MAX, request.get("Timeout"))
    _check_range(MEMORY_MIN, MEMORY_MAX, request.get("MemorySize"))
    _check_range(EPHEMERAL_STORAGE_MIN, EPHEMERAL_STORAGE_MAX, (request.get("EphemeralStorage") or {}).get("Size"))
    _check_handler(request.get("Handler"))
    _check_environment((request.get("Environment") or {}).get("Variables"))
    _check_layers(request, package_type)


def _check_range(low: Limit, high: Limit, value: int | None) -> None:
    if value is None:
        return
    for limit in (low, high):
        if limit.violated_by(value):
            raise limit.error(value=value)


def _check_function_name(name: str) -> None:
    matched = re.fullmatch(str(FUNCTION_NAME_PATTERN.value), name)
    if not matched:
        raise FUNCTION_NAME_PATTERN.error(value=name)
    if FUNCTION_NAME_LENGTH.violated_by(len(matched.group(_NAME_GROUP))):
        raise FUNCTION_NAME_LENGTH.error(value=name)


def _check_handler(handler: str | None) -> None:
    if handler is None:
        return
    if HANDLER_LENGTH.violated_by(len(handler)):
        raise HANDLER_LENGTH.error(value=handler)
    if not re.fullmatch(str(HANDLER_PATTERN.value), handler):
        raise HANDLER_PATTERN.error(value=handler)


def _check_environment(variables: Mapping[str, str] | None) -> None:
    if not variables:
        return
    reserved = [key for key in variables if key in RESERVED_ENVIRONMENT_KEYS]  # in the request's order
    if reserved:
        raise RESERVED_ENVIRONMENT.error(keys=", ".join(reserved))
    size, measured = environment_size(variables)
    if ENVIRONMENT_SIZE.violated_by(size):
        raise ENVIRONMENT_SIZE.error(measured=measured)


def _check_layers(request: Mapping[str, Any], package_type: str) -> None:
    layers = request.get("Layers") or []
    image_extras = layers or request.get("Handler") or request.get("Runtime")
    if package_type == "Image" and image_extras:
        raise IMAGE_EXCLUSIONS.error()
    if LAYER_COUNT.violated_by(len(layers)):
        raise LAYER_COUNT.error()


def _creatable(schedule: RuntimeSchedule, today: date) -> bool:
    return today < schedule.block_create


def _updatable(schedule: RuntimeSchedule, today: date) -> bool:
    return today < schedule.block_update


def _check_runtime(runtime: str | None, today: date, allowed: Callable[[RuntimeSchedule, date], bool]) -> None:
    """Refuses a runtime past its block date (`allowed` says which date) or absent from AWS's tables."""
    if runtime is None:
        return
    schedule = runtime_schedule(runtime)
    if schedule is None or not allowed(schedule, today):
        names = ", ".join(row.identifier for row in RUNTIME_SCHEDULE if allowed(row, today))
        raise RUNTIME_SCHEDULE_ROW.error(value=runtime, allowed=names)


def _policy_document(trust_policy: str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    if trust_policy is None or isinstance(trust_policy, Mapping):
        return trust_policy or {}
    text = trust_policy if trust_policy.lstrip().startswith("{") else unquote(trust_policy)
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return {}  # a policy that does not parse grants nothing, so Lambda cannot assume the role
    return document if isinstance(document, Mapping) else {}


def _allows_lambda(statement: Mapping[str, Any]) -> bool:
    actions = {action.lower() for action in _as_list(statement.get("Action"))}
    return (statement.get("Effect") == "Allow" and bool(actions & {"sts:assumerole", "sts:*", "*"})
            and _names_lambda(statement.get("Principal")))


def _names_lambda(principal: Any) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    return LAMBDA_PRINCIPAL in _as_list(principal.get("Service")) or "*" in _as_list(principal.get("AWS"))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _wire_form(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {key: _wire_form(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_wire_form(item) for item in value]
    return value
