"""CloudFormation stacks whose resource a service refuses fail as on AWS, instead of the CreateStack call.

moto (5.2.5, pinned) creates a stack's resources inside CreateStack; a resource its service refuses (a log group
that already exists, say) raised out of the API call, and the service's JSON error reached CloudFormation's XML
client as a response it cannot parse. On AWS, CreateStack answers the stack id and creation goes on without the
caller: the resource is CREATE_FAILED with the service's message, the stack rolls back (ROLLBACK_IN_PROGRESS, "The
following resource(s) failed to create: [...]. Rollback requested by user."), what it had created is deleted, and
it ends ROLLBACK_COMPLETE, to be deleted before the name is used again
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html, "Stack creation failures";
stack states: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html).

The same for the other two ways a stack's resources are made, `sam deploy`'s among them: ExecuteChangeSet of a
CREATE change set rolls back as CreateStack does; UpdateStack, and ExecuteChangeSet of an UPDATE change set, go
UPDATE_ROLLBACK_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE: the stack's
resources are brought back to its previous template (made again if the update had removed them, deleted if it had
added them) and the stack keeps that template; the change set's ExecutionStatus is EXECUTE_FAILED
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-execute.html).

- `parsing.parse_and_create_resource`, `parse_and_update_resource`: while a stack is deployed, a refused resource
  raises ResourceRefused, which names it;
- `Stack.create_resources`, `Stack.update`, `CloudFormationBackend.execute_change_set`: ResourceRefused rolls the
  stack back as above. A rolled-back new stack has no outputs: moto resolved them on each DescribeStacks, making the
  refused resource again, and its error answered DescribeStacks.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import moto.cloudformation.parsing as cfn_parsing
from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Event, Stack
from moto.core.exceptions import ServiceException
from werkzeug.exceptions import HTTPException

from emulator.aws.registry import Internal, Patch

logger = logging.getLogger(__name__)

CREATE_RESOURCE = Internal(cfn_parsing, "parse_and_create_resource",
                           ("logical_id", "resource_json", "resources_map", "account_id", "region_name"))
UPDATE_RESOURCE = Internal(cfn_parsing, "parse_and_update_resource",
                           ("logical_id", "resource_json", "resources_map", "account_id", "region_name"))
CREATE_RESOURCES = Internal(Stack, "create_resources", ("self",),
                            source="all_resources_ready = self.resource_map.create(self.template_dict)")
UPDATE = Internal(Stack, "update", ("self", "template", "role_arn", "parameters", "tags"),
                  source="self.resource_map.update(self.template_dict, parameters)")
EXECUTE_CHANGE_SET = Internal(CloudFormationBackend, "execute_change_set", ("self", "change_set_name", "stack_name"),
                              source="change_set.apply()")
INTERNALS = (CREATE_RESOURCE, UPDATE_RESOURCE, CREATE_RESOURCES, UPDATE, EXECUTE_CHANGE_SET)


REFUSALS = (HTTPException, ServiceException)  # moto's service errors: JsonRESTError & co., and the newer kind


class ResourceRefused(Exception):
    """A stack's resource that its service refused to create or update."""

    def __init__(self, logical_id: str, resource_type: str, error: Exception, updating: bool = False) -> None:
        super().__init__(f"{logical_id} ({resource_type}): {error}")
        self.logical_id, self.resource_type, self.error = logical_id, resource_type, error
        self.updating = updating  # an existing resource's update was refused, not a creation


class _Deploying(threading.local):
    stack = False


_deploying = _Deploying()


def patches() -> list[Patch]:
    return [Patch(CREATE_RESOURCE, _naming_the_refused(updating=False)),
            Patch(UPDATE_RESOURCE, _naming_the_refused(updating=True)), Patch(CREATE_RESOURCES, _rolling_back),
            Patch(UPDATE, _rolling_the_update_back), Patch(EXECUTE_CHANGE_SET, _rolling_the_change_set_back)]


@contextlib.contextmanager
def _deploying_stack() -> Iterator[None]:
    """Within: a resource its service refuses raises ResourceRefused (elsewhere, the service's own error)."""
    _deploying.stack = True
    try:
        yield
    finally:
        _deploying.stack = False


def _naming_the_refused(updating: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def parse_and_deploy_resource(logical_id: str, resource_json: dict[str, Any], *args: Any,
                                      **kwargs: Any) -> Any:
            try:
                return original(logical_id, resource_json, *args, **kwargs)
            except REFUSALS as error:
                if not _deploying.stack:
                    raise
                raise ResourceRefused(logical_id, str(resource_json.get("Type")), error, updating) from error

        return parse_and_deploy_resource

    return wrap


def _rolling_back(original: Callable[[Stack], None]) -> Callable[[Stack], None]:
    def create_resources(stack: Stack) -> None:
        try:
            with _deploying_stack():
                original(stack)
        except ResourceRefused as refused:
            roll_back(stack, refused)

    return create_resources


def _rolling_the_update_back(original: Callable[..., None]) -> Callable[..., None]:
    def update(stack: Stack, *args: Any, **kwargs: Any) -> None:
        before = _Previous.of(stack)
        try:
            with _deploying_stack():
                original(stack, *args, **kwargs)
        except ResourceRefused as refused:
            roll_back_update(stack, refused, before)

    return update


def _rolling_the_change_set_back(original: Callable[..., None]) -> Callable[..., None]:
    def execute_change_set(backend: CloudFormationBackend, change_set_name: str, stack_name: str | None = None
                           ) -> None:
        change_set = _change_set(backend, change_set_name)
        stack = backend.stacks.get(change_set.stack_id) if change_set is not None else None
        before = _Previous.of(stack) if stack is not None else None
        try:
            with _deploying_stack():
                original(backend, change_set_name, stack_name)
        except ResourceRefused as refused:
            assert change_set is not None and stack is not None and before is not None  # it ran, so it found them
            if change_set.change_set_type == "CREATE":
                roll_back(stack, refused)
            else:
                roll_back_update(stack, refused, before)
            change_set.execution_status = "EXECUTE_FAILED"

    return execute_change_set


def _change_set(backend: CloudFormationBackend, name_or_arn: str) -> ChangeSet | None:
    """The change set ExecuteChangeSet names (by ARN or name), as moto finds it."""
    if name_or_arn in backend.change_sets:
        return backend.change_sets[name_or_arn]
    return next((c for c in backend.change_sets.values() if c.change_set_name == name_or_arn), None)


@dataclass(frozen=True)
class _Previous:
    """What a stack was deployed from before an update: its template text and parameters."""

    template: str
    parameters: dict[str, Any]

    @classmethod
    def of(cls, stack: Stack) -> _Previous:
        return cls(stack.template, dict(stack.resource_map.input_parameters or {}))


def roll_back_update(stack: Stack, refused: ResourceRefused, before: _Previous) -> None:
    """The stack's events and state after an update's `refused` resource: its resources as its previous template
    makes them (moto's own update, back to that template), the stack on that template."""
    _failed(stack, refused)
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=(
        f"The following resource(s) failed to {_verb(refused)}: [{refused.logical_id}]. "))
    stack.template = before.template
    stack._parse_template()
    resource_map, previous = stack.resource_map, stack.template_dict.get("Resources", {})
    for removed in previous.keys() - resource_map._resource_json_map.keys():  # moto keeps what it deleted listed
        resource_map._parsed_resources.pop(removed, None)
    try:
        resource_map.update(stack.template_dict, before.parameters)
    except (ResourceRefused, *REFUSALS) as exc:
        logger.warning("stack %s could not be rolled back to its previous template: %s", stack.name, exc)
        stack.status = "UPDATE_ROLLBACK_FAILED"
        stack._add_stack_event("UPDATE_ROLLBACK_FAILED", resource_status_reason=str(exc))
        return
    stack.output_map = stack._create_output_map()
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")


def _verb(refused: ResourceRefused) -> str:
    return "update" if refused.updating else "create"


def _failed(stack: Stack, refused: ResourceRefused) -> None:
    message = getattr(refused.error, "message", None) or str(refused.error)
    _resource_event(stack, refused.logical_id, refused.resource_type, f"{_verb(refused).upper()}_FAILED",
                    f"Resource handler returned message: \"{message}\"")


def roll_back(stack: Stack, refused: ResourceRefused) -> None:
    """The stack's events and state after `refused`, as CloudFormation's: its resources created so far deleted."""
    _failed(stack, refused)
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=(
        f"The following resource(s) failed to create: [{refused.logical_id}]. Rollback requested by user."))
    resources = stack.resource_map._resource_json_map
    created = [logical_id for logical_id, resource in stack.resource_map._parsed_resources.items()
               if logical_id in resources and resource is not None and not isinstance(resource, str)]
    try:
        stack.resource_map.delete()  # moto's own stack deletion: the resources made, in an order that works
    except Exception as exc:  # noqa: BLE001  moto re-raises whatever stopped its last pass; reported, not raised
        logger.warning("stack %s rollback left resources undeleted: %s", stack.name, exc)
    for logical_id in reversed(created):
        deleted = logical_id not in stack.resource_map._parsed_resources
        _resource_event(stack, logical_id, resources[logical_id].get("Type", ""),
                        "DELETE_COMPLETE" if deleted else "DELETE_FAILED", None)
    stack.output_map = cfn_parsing.OutputMap(stack.resource_map, {"Outputs": {}}, stack.stack_id)  # none, as on AWS
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE")


def _resource_event(stack: Stack, logical_id: str, resource_type: str, status: str, reason: str | None) -> None:
    stack.events.append(Event(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
                              physical_resource_id="", resource_type=resource_type, resource_status=status,
                              resource_status_reason=reason, resource_properties=None))
