"""Principals and their policies: each function's role session, IAM users' keys, and every call they make evaluated.

**Credentials.** Each function's environments get the keys of a session of its execution role, as Lambda gives
them (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html): minted by moto's STS
`assume_role` in the function's own account, the session named after the function (as Lambda names it), cached
per role and function and renewed an hour before it expires. moto maps the session's `ASIA...` key to its account.

**Evaluation** (`EMULATOR_IAM`: `warn`, the default, runs the call and reports it; `enforce` refuses it; `off`).
moto's own engine is used where it has one: moto calls `ActionAuthenticatorMixin._authenticate_and_authorize_action`
before every action of every service (only after `INITIAL_NO_AUTH_ACTION_COUNT` requests, infinite by default);
that gate is replaced, and inside it moto's `create_access_key` finds the principal (IAM user or assumed role) and
collects its identity policies (inline, attached managed, groups'), and moto's `IAMPolicy` matches each against
the action and resource (Action/NotAction and Resource wildcards, Deny over Allow). Not moto's: the gate itself
(moto evaluates every key, including the emulator's dummy keys, and stops at the first denial), the action and
resource ARN of the request as the service authorization reference names them (moto passes `*` for most services
and API names such as `Invoke` for Lambda's `InvokeFunction`), resource policies (
emulator/aws/resource_policy.py: bucket, queue, topic and function policies; moto has none), and AWS's messages
(https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
What it does not cover: conditions in identity policies (an Allow with a Condition counts as allowing, a Deny
with one as not denying: moto's condition support is for trust policies), `NotResource` (such statements are
left out), permissions boundaries, session policies, SCPs, cross-account access, signatures (a session key with
another token is refused in enforce mode, as AWS's InvalidClientTokenId). The emulator's
dummy keys, 12-digit account keys and keys it never issued are the account's administrator: never evaluated.

Each evaluated call of a function's role is recorded (action and resource, once each) for
`python -m emulator policy FUNCTION` (emulator/iam_policy.py).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AccessDeniedError, InvalidClientTokenIdError, JsonRESTError
from moto.core.responses import BaseResponse
from moto.iam.access_control import CreateAccessKeyFailure, IAMPolicy, PermissionResult, create_access_key
from moto.iam.models import Policy
from moto.logs.models import logs_backends
from moto.s3.exceptions import S3ClientError
from moto.s3.models import s3_backends
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from contract.lambda_logs import IAM_WARNING_PREFIX
from emulator.aws.accounts import account_of_key
from emulator.aws.policies import resource_policy
from emulator.aws.registry import Internal, Patch
from emulator.aws.resource_policy import principal_verdict, service_allowed
from emulator.config import DUMMY_CREDENTIALS
from emulator.errors import ConfigError
from emulator.iam_policy import CallLog

logger = logging.getLogger(__name__)

ENV_IAM = "EMULATOR_IAM"
MODES = ("warn", "enforce", "off")
SESSION_SECONDS = 12 * 3600  # AssumeRole's longest session (a role's MaxSessionDuration at most 12 hours)
RENEW_BEFORE = timedelta(hours=1)

AUTHORIZE = Internal(ActionAuthenticatorMixin, "_authenticate_and_authorize_action",
                     ("self", "iam_request_cls", "resource"), source="INITIAL_NO_AUTH_ACTION_COUNT")
ACTION_NAME = Internal(BaseResponse, "_get_action", ("self",), source="X-Amz-Target")
INTERNALS = (AUTHORIZE, ACTION_NAME)

# API operations whose IAM action has another name (https://docs.aws.amazon.com/service-authorization/latest/reference/)
_ACTION_NAMES = {
    "s3": {"ListObjects": "ListBucket", "ListObjectsV2": "ListBucket", "HeadBucket": "ListBucket",
           "ListObjectVersions": "ListBucketVersions", "ListBuckets": "ListAllMyBuckets", "HeadObject": "GetObject",
           "ListMultipartUploads": "ListBucketMultipartUploads", "DeleteObjects": "DeleteObject"},
    "lambda": {"Invoke": "InvokeFunction"},
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-batch-api.html
    "sqs": {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
            "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"},
}
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})  # "No permissions are required" (STS API reference)
_JSON_SERVICES = frozenset({"lambda", "dynamodb", "logs"})
_SIGNING_NAMES = {"monitoring": "cloudwatch", "email": "ses"}  # SigV4 service name -> IAM prefix
_LAMBDA_PATH = re.compile(r"/functions/([^/]+)")


def iam_mode(environ: dict[str, str] | None = None) -> str:
    """EMULATOR_IAM: warn (default), enforce or off; ConfigError for anything else."""
    mode = (os.environ if environ is None else environ).get(ENV_IAM, "warn").strip().lower() or "warn"
    if mode not in MODES:
        raise ConfigError(f"{ENV_IAM} must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


@dataclass(frozen=True)
class RoleSession:
    """The credentials of one function's session of its execution role."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expires: datetime
    function_name: str
    account: str
    region: str

    def environment(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_SESSION_TOKEN": self.session_token}


class RoleSessions:
    """Sessions of execution roles, one per role and function, renewed before they expire."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str], RoleSession] = {}
        self._by_key: dict[str, RoleSession] = {}

    def credentials(self, role_arn: str, function_name: str, account: str, region: str) -> dict[str, str]:
        """AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN of the function's role session."""
        with self._lock:
            session = self._sessions.get((role_arn, function_name))
            if session is None or session.expires - self._now() < RENEW_BEFORE:
                session = self._assume(role_arn, function_name, account, region)
                self._sessions[(role_arn, function_name)] = session
                self._by_key[session.access_key_id] = session
            return session.environment()

    def session_of(self, access_key_id: str) -> RoleSession | None:
        return self._by_key.get(access_key_id)

    def _assume(self, role_arn: str, function_name: str, account: str, region: str) -> RoleSession:
        sts = sts_backends[account][get_partition(region)]
        assumed = sts.assume_role(region_name=region, role_session_name=function_name[:64], role_arn=role_arn,
                                  policy="", duration=SESSION_SECONDS, external_id="")
        return RoleSession(assumed.access_key_id, assumed.secret_access_key, assumed.session_token,
                           self._now() + timedelta(seconds=SESSION_SECONDS), function_name, assumed.account_id,
                           region)


@dataclass(frozen=True)
class Principal:
    """Who signed a request: the ARN AWS names in its messages, the ARNs a resource policy may name it by, its
    identity policies (JSON documents), and the function whose role session it is (None for an IAM user)."""

    arn: str
    names: tuple[str, ...]
    policies: tuple[str, ...]
    account: str
    session: RoleSession | None


@dataclass(frozen=True)
class Denial:
    """A call AWS would refuse, and AWS's message for it."""

    principal: Principal
    action: str
    resource: str
    reason: str

    @property
    def message(self) -> str:
        return (f"User: {self.principal.arn} is not authorized to perform: {self.action} on resource: "
                f"{self.resource} {self.reason}")


class Authorizer:
    """The gate moto calls before each action: finds the principal, evaluates, then warns, refuses or records."""

    def __init__(self, sessions: RoleSessions, calls: CallLog, mode: str | None = None) -> None:
        self.sessions = sessions
        self.calls = calls
        self.mode = mode or iam_mode()
        self._log_lock = threading.Lock()

    def patches(self) -> list[Patch]:
        def authorize(response: BaseResponse, iam_request_cls: type, resource: str = "*") -> None:
            self._gate(response, resource)

        return [Patch(AUTHORIZE, lambda _: authorize)]

    def _gate(self, response: BaseResponse, resource: str) -> None:
        if self.mode == "off" or response.get_access_key() == DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]:
            return  # the emulator's own dummy keys: its operator, never evaluated
        action, resources = request_of(response, resource)
        self._refuse_other_accounts(response, action, resources)
        principal = self._principal(response)
        if principal is None:
            return
        if action in ALWAYS_ALLOWED:
            return
        denial = None
        for arn in resources:
            if principal.session is not None:
                self.calls.record(principal.session.account, principal.session.function_name, action, arn)
            denial = denial or evaluate(principal, action, arn)
        if denial is None:
            return
        if self.mode == "enforce":
            logger.warning("%s%s (refused: %s=enforce)", IAM_WARNING_PREFIX, denial.message, ENV_IAM)
            raise access_denied(response, denial)
        self._warn(denial)

    def _refuse_other_accounts(self, response: BaseResponse, action: str, resources: list[str]) -> None:
        """A request for a resource another account owns (a bucket: S3's names are global; a queue, topic or function
        by its URL or ARN) is refused unless that resource's policy grants the caller's account, whatever the mode
        but `off`: it is no missing permission a caller could add to its own role, and it is what keeps accounts
        (a class's submissions) apart. Cross-account access needs the resource's policy on AWS too:
        https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies-cross-account-resource-access.html
        The emulator's own dummy keys (its operator) are not held to it (see _gate)."""
        caller = response.current_account
        if action == "s3:CreateBucket":  # a name another account holds: S3's own BucketAlreadyExists, from moto
            return
        for arn in resources:
            owner = owner_account(arn)
            if owner is None or owner == caller:
                continue
            names = (f"arn:aws:iam::{caller}:root", caller)
            if principal_verdict(resource_policy(_policy_holder(arn, owner)), names, action, arn) != "Allow":
                denial = Denial(Principal(f"arn:aws:iam::{caller}:root", names, (), caller, None), action, arn,
                                f"because no resource-based policy allows the {action} action")
                logger.warning("%s%s (another account's bucket)", IAM_WARNING_PREFIX, denial.message)
                raise access_denied(response, denial)

    def _principal(self, response: BaseResponse) -> Principal | None:
        key = response.get_access_key()
        if account_of_key(key):  # a 12-digit account key: the account's administrator (dummy keys: see _gate)
            return None
        try:
            access_key = create_access_key(account_id=response.current_account,
                                           partition=get_partition(response.region), access_key_id=key,
                                           headers=response.headers)
        except CreateAccessKeyFailure as failure:
            if failure.reason == "InvalidToken" and self.mode == "enforce":
                raise invalid_token(response) from failure  # a key it issued, with another session's token
            return None  # a key the emulator never issued: the account's administrator
        session = self.sessions.session_of(key)
        names = (access_key.arn,)
        assumed = sts_backends[response.current_account][get_partition(response.region)] \
            .get_assumed_role_from_access_key(key)
        if assumed is not None:
            names = (access_key.arn, assumed.role_arn)
        policies = tuple(_document(policy) for policy in access_key.collect_policies())
        return Principal(access_key.arn, names, policies, response.current_account, session)

    def _warn(self, denial: Denial) -> None:
        line = IAM_WARNING_PREFIX + denial.message
        logger.warning("%s", line)
        session = denial.principal.session
        if session is not None:
            with self._log_lock:
                append_log_line(session.account, session.region, session.function_name, line)


def evaluate(principal: Principal, action: str, resource: str) -> Denial | None:
    """None when AWS allows the call (same account); else the Denial, explicit denies first
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""
    identity = _identity_verdict(principal.policies, action, resource)
    if identity == PermissionResult.DENIED:
        return Denial(principal, action, resource, "with an explicit deny in an identity-based policy")
    document = resource_policy(_policy_holder(resource, principal.account))
    verdict = principal_verdict(document, principal.names, action, resource)
    if verdict == "Deny":
        return Denial(principal, action, resource, "with an explicit deny in a resource-based policy")
    if identity == PermissionResult.PERMITTED or verdict == "Allow":
        return None
    return Denial(principal, action, resource, f"because no identity-based policy allows the {action} action")


def request_of(response: BaseResponse, moto_resource: str) -> tuple[str, list[str]]:
    """The IAM action of the request (`s3:PutObject`) and the ARNs of the resources it acts on."""
    service = _signing_service(response)
    operation = response._get_action()
    operation = operation[0] if isinstance(operation, list) else str(operation)
    action = f"{service}:{_ACTION_NAMES.get(service, {}).get(operation, operation)}"
    return action, _resources(service, response, moto_resource)


def access_denied(response: BaseResponse, denial: Denial) -> Exception:
    """AWS's refusal in the service's own protocol: S3's and query services' AccessDenied, JSON services'
    AccessDeniedException."""
    service = denial.action.split(":")[0]
    if service == "s3":
        return S3ClientError("AccessDenied", denial.message)
    if service in _JSON_SERVICES:
        return _json_error("AccessDeniedException", denial.message, 403 if service == "lambda" else 400)
    if _speaks_json(response):
        return _json_error("AccessDenied", denial.message, 403)
    user, _, rest = denial.message.partition(" is not authorized to perform: ")
    return AccessDeniedError(user_arn=user.removeprefix("User: "), action=rest)


def invalid_token(response: BaseResponse) -> Exception:
    """AWS's answer to a session key sent with a token that is not its own."""
    if response.service_name == "s3":
        return S3ClientError("InvalidToken", "The provided token is malformed or otherwise invalid.")
    if _speaks_json(response) or _signing_service(response) in _JSON_SERVICES:
        return _json_error("InvalidClientTokenId", "The security token included in the request is invalid.", 403)
    return InvalidClientTokenIdError()


def _speaks_json(response: BaseResponse) -> bool:
    return "json" in str(response.headers.get("Content-Type", ""))


def _json_error(code: str, message: str, status: int) -> JsonRESTError:
    error = JsonRESTError(code, message)
    error.code = status
    return error


def _identity_verdict(policies: tuple[str, ...], action: str, resource: str) -> PermissionResult:
    verdict = PermissionResult.NEUTRAL
    for document in policies:
        result = IAMPolicy(document).is_action_permitted(action.lower(), resource)
        if result == PermissionResult.DENIED:
            return result
        if result == PermissionResult.PERMITTED:
            verdict = result
    return verdict


def _document(policy: Any) -> str:
    """A policy as moto's collect_policies gives it (managed Policy, inline text or dict) -> the JSON document
    moto's IAMPolicy evaluates, with what moto would get wrong taken out (see the module's docstring)."""
    if isinstance(policy, Policy):
        text = next(version.document for version in policy.versions if version.is_default)
    elif isinstance(policy, dict) and "policy_document" in policy:  # a user's or group's inline policy
        text = policy["policy_document"]
    else:
        text = policy  # a role's inline policy: its text, or (from a CloudFormation template) the document itself
    document = json.loads(text) if isinstance(text, str) else dict(text)
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    kept = [_lower_actions(s) for s in statements if "NotResource" not in s
            and not (s.get("Effect") == "Deny" and s.get("Condition"))]
    return json.dumps({"Version": "2012-10-17", "Statement": kept})


def _lower_actions(statement: dict[str, Any]) -> dict[str, Any]:
    """IAM action names are case-insensitive; moto matches them case-sensitively."""
    statement = {k: v for k, v in statement.items() if k != "Condition"}
    for key in ("Action", "NotAction"):
        if key in statement:
            value = statement[key]
            statement[key] = value.lower() if isinstance(value, str) else [v.lower() for v in value]
    return statement


def _signing_service(response: BaseResponse) -> str:
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", str(response.headers.get("Authorization") or ""))
    service = scope.group(1) if scope else (response.service_name or "")
    return _SIGNING_NAMES.get(service, service)


def _resources(service: str, response: BaseResponse, moto_resource: str) -> list[str]:
    region, account = response.region, response.current_account
    if service == "dynamodb":
        body = _json_body(response)
        tables = [body["TableName"]] if "TableName" in body else sorted(body.get("RequestItems") or {})
        return [f"arn:aws:dynamodb:{region}:{account}:table/{table}" for table in tables] or ["*"]
    if service == "lambda":
        match = _LAMBDA_PATH.search(unquote(response.path))
        if match:
            name = match.group(1)
            return [name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"]
    if service == "logs":
        body = _json_body(response)
        if "logGroupName" in body:
            group = f"arn:aws:logs:{region}:{account}:log-group:{body['logGroupName']}"
            stream = body.get("logStreamName")
            return [f"{group}:log-stream:{stream}" if stream else group]
    if service == "states":  # a state machine's or an execution's ARN, as the authorization reference names them
        body = _json_body(response)
        arn = body.get("stateMachineArn") or body.get("executionArn")
        if arn:
            return [str(arn)]
    if service == "sns":
        topic = response.querystring.get("TopicArn")
        if topic:
            return [topic[0] if isinstance(topic, list) else str(topic)]
    return [moto_resource]


def _json_body(response: BaseResponse) -> dict[str, Any]:
    if isinstance(response.body, dict):  # DynamoDB's responses hold the parsed request there
        return response.body
    try:
        body = json.loads(response.body or "{}")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _policy_holder(resource: str, account: str) -> str:
    """The ARN whose resource policy governs `resource` (an S3 object's bucket), with the account S3 ARNs omit."""
    if resource.startswith("arn:aws:s3:::"):
        bucket = resource.removeprefix("arn:aws:s3:::").split("/")[0]
        return f"arn:aws:s3::{account}:{bucket}"
    return resource


def service_may_invoke(function_arn: str, principal: str, source_arn: str, action: str = "lambda:InvokeFunction",
                       context_keys: dict[str, str] | None = None) -> bool:
    """Whether a service (`sns.amazonaws.com`; `*`: anyone, as for a function URL) may invoke the function for
    `source_arn` (a topic, a rule, an API's method), as the function's resource policy decides on AWS, where the
    call fails without it (https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html). When
    it may not, an `IAM:` line goes to the function's log group and the emulator's log, and the call happens anyway
    unless EMULATOR_IAM=enforce; off: no check."""
    mode = iam_mode()
    if mode == "off":
        return True
    parts = function_arn.split(":")
    region, account, name = parts[3], parts[4], parts[6]
    source_account = source_arn.split(":")[4] if source_arn.count(":") >= 5 else account
    if service_allowed(resource_policy(function_arn), principal, action, source_arn, source_account, context_keys):
        return True
    who = "anonymous" if principal == "*" else principal
    line = (f"{IAM_WARNING_PREFIX}{who} is not authorized to perform: {action} on resource: {function_arn} because "
            f"no resource-based policy allows the {action} action (from {source_arn}; on AWS this call fails: add "
            f"a permission for principal {principal} {_permission_hint(source_arn, context_keys)})")
    logger.warning("%s%s", line, " (not delivered: EMULATOR_IAM=enforce)" if mode == "enforce" else "")
    append_log_line(account, region, name, line)
    return mode != "enforce"


def _permission_hint(source_arn: str, context_keys: dict[str, str] | None) -> str:
    conditions = [f"SourceArn {source_arn}"] if source_arn.startswith("arn:") else []
    conditions += [f"{key.split(':')[-1]} {value}" for key, value in (context_keys or {}).items()]
    return "with " + " and ".join(conditions)


def append_log_line(account: str, region: str, function_name: str, line: str) -> None:
    """The line in the function's own log group, as the function's own error would be."""
    backend = logs_backends[account][region]
    group = f"/aws/lambda/{function_name}"
    stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]iam"
    if group not in backend.groups:
        backend.create_log_group(group, tags={})
    if stream not in backend.groups[group].streams:
        backend.create_log_stream(group, stream)
    backend.put_log_events(group, stream, [{"timestamp": int(datetime.now(UTC).timestamp() * 1000),
                                           "message": line}])


def owner_account(arn: str) -> str | None:
    """The account that owns the resource an ARN names: a bucket's owner (S3's names are global), else the ARN's
    account; None when it names none (`*`, a bucket that does not exist)."""
    if arn.startswith("arn:aws:s3:::"):
        owner = s3_backends.bucket_accounts.get(arn.removeprefix("arn:aws:s3:::").split("/", 1)[0])
        return None if owner is None else owner[1]
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None

