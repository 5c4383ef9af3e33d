"""The calls each function's role made, and the least-privilege policy built from them
(`python -m emulator policy FUNCTION`), ready for a template's `Policies:` or a setup script.

Calls are kept as JSON lines under the state folder (`iam/<account>/<function>.jsonl`), each action and resource
once. The policy grants exactly the actions called; resources are the ARNs called, except that an S3 object in a
folder becomes that folder's `*` and a log stream its group's (a function reads and writes a new key per event).
"""

from __future__ import annotations

import argparse
import json
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from emulator.config import DEFAULT_ACCOUNT, EmulatorConfig
from emulator.errors import EmulatorError

CALLS_FOLDER = "iam"


class CallLog:
    """Appends each (action, resource) a function's role used, once, to that function's file."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._seen: set[tuple[str, str, str, str]] = set()
        self._lock = threading.Lock()

    def record(self, account: str, function_name: str, action: str, resource: str) -> None:
        call = (account, function_name, action, resource)
        with self._lock:
            if call in self._seen:
                return
            self._seen.add(call)
            path = calls_file(self._folder, account, function_name)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as calls:
                calls.write(json.dumps({"action": action, "resource": resource}) + "\n")


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
        actions_by_resources[tuple(sorted(_narrowest_patterns(resources)))].append(action)
    statements = [{"Effect": "Allow", "Action": actions, "Resource": list(resources)}
                  for resources, actions in sorted(actions_by_resources.items(), key=lambda item: item[1])]
    return {"Version": "2012-10-17", "Statement": statements}


def _narrowest_patterns(resources: set[str]) -> set[str]:
    """An S3 object in a folder -> `bucket/folder/*` (each event writes or reads a new key there); a log stream ->
    its group's `:*`; anything else as called."""
    patterns = set()
    for resource in resources:
        bucket, _, key = resource.partition("/") if resource.startswith("arn:aws:s3:::") else (resource, "", "")
        if "/" in key:
            patterns.add(f"{bucket}/{key.split('/')[0]}/*")
        elif ":log-stream:" in resource:
            patterns.add(resource.split(":log-stream:")[0] + ":*")
        else:
            patterns.add(resource)
    return patterns


def register_policy_command(sub: Any) -> None:
    command = sub.add_parser("policy", help="print the least-privilege policy built from a function's calls")
    command.add_argument("function", help="function name")
    command.add_argument("--account", default=DEFAULT_ACCOUNT, help="the function's account (default %(default)s)")
    command.set_defaults(run=_print_policy)


def _print_policy(args: argparse.Namespace, config: EmulatorConfig) -> int:
    calls = read_calls(calls_file(config.state_dir / CALLS_FOLDER, args.account, args.function))
    print(json.dumps(least_privilege_policy(calls), indent=2))
    return 0
