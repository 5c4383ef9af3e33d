"""Does a resource policy let an AWS service act on the resource for a given source (S3 -> Lambda/SQS/SNS), or an
IAM principal act on it (`principal_verdict`)?

AWS's evaluation, reduced to what a service principal's request needs
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an explicit Deny that
matches wins; else some Allow must match. A statement matches when its Principal names the service (or `*`), its
Action (or NotAction) covers the action, and every Condition holds for the request's `aws:SourceArn` and
`aws:SourceAccount`. A condition operator or key the request cannot answer does not hold.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

_OPERATORS = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringLike": lambda actual, expected: fnmatchcase(actual, expected),
    "ArnEquals": lambda actual, expected: actual == expected,
    "ArnLike": lambda actual, expected: fnmatchcase(actual, expected),
}


def service_allowed(policy: str | Mapping[str, Any] | None, service: str, action: str, source_arn: str,
                    source_account: str, context_keys: Mapping[str, str] | None = None) -> bool:
    """True when the policy lets `service` (e.g. "s3.amazonaws.com"; "*": anyone) perform `action` for that source;
    `context_keys`: other condition keys of the request (e.g. lambda:FunctionUrlAuthType)."""
    document = json.loads(policy) if isinstance(policy, str) else (policy or {})
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, Mapping) else statements
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": source_account,
               **{key.lower(): value for key, value in (context_keys or {}).items()}}
    matching = [s for s in statements if _matches(s, service, action, context)]
    if any(s.get("Effect") == "Deny" for s in matching):
        return False
    return any(s.get("Effect") == "Allow" for s in matching)


def principal_verdict(policy: str | Mapping[str, Any] | None, principal_arns: tuple[str, ...], action: str,
                      resource: str) -> str | None:
    """"Deny" when a statement naming one of the principal's ARNs (or `*`) denies the action on the resource,
    else "Allow" when one allows it, else None. Conditions hold only for keys this request can answer (none)."""
    document = json.loads(policy) if isinstance(policy, str) else (policy or {})
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, Mapping) else statements
    matching = [s for s in statements if _names_principal(s.get("Principal"), principal_arns)
                and _covers_action(s, action) and _covers_resource(s, resource)
                and _conditions_hold(s.get("Condition") or {}, {})]
    effects = {s.get("Effect") for s in matching}
    return "Deny" if "Deny" in effects else "Allow" if "Allow" in effects else None


def _names_principal(principal: Any, arns: tuple[str, ...]) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    named = principal.get("AWS", [])
    named = [named] if isinstance(named, str) else named
    return "*" in named or any(arn in named for arn in arns)


def _covers_resource(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not _any_pattern(statement["NotResource"], resource, case_sensitive=True)
    return _any_pattern(statement.get("Resource", "*"), resource, case_sensitive=True)


def _matches(statement: Mapping[str, Any], service: str, action: str, context: dict[str, str]) -> bool:
    return (_names_service(statement.get("Principal"), service) and _covers_action(statement, action)
            and _conditions_hold(statement.get("Condition") or {}, context))


def _names_service(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    services = principal.get("Service", [])
    return service in ([services] if isinstance(services, str) else services)


def _covers_action(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not _any_pattern(statement["NotAction"], action)
    return _any_pattern(statement.get("Action", []), action)


def _any_pattern(patterns: str | list[str], value: str, case_sensitive: bool = False) -> bool:
    """Actions match case-insensitively, resource ARNs case-sensitively."""
    patterns = [patterns] if isinstance(patterns, str) else patterns
    if case_sensitive:
        return any(fnmatchcase(value, pattern) for pattern in patterns)
    return any(fnmatchcase(value.lower(), pattern.lower()) for pattern in patterns)


def _conditions_hold(conditions: Mapping[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in conditions.items():
        compare = _OPERATORS.get(operator)
        if compare is None:
            return False
        for key, expected in tests.items():
            actual = context.get(key.lower())
            values = [expected] if isinstance(expected, str) else expected
            if actual is None or not any(compare(actual, value) for value in values):
                return False
    return True
