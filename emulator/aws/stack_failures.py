"""CloudFormation stacks whose resource a service refuses fail as on AWS, instead of the CreateStack call.

moto (5.2.5, pinned) creates a stack's resources inside CreateStack; a resource its service refuses (a log group
that already exists, say) raised out of the API call, and the service's JSON error reached CloudFormation's XML
client as a response it cannot parse. On AWS, CreateStack answers the stack id and creation goes on without the
caller: the resource is CREATE_FAILED with the service's message, the stack rolls back (ROLLBACK_IN_PROGRESS, "The
following resource(s) failed to create: [...]. Rollback requested by user."), what it had created is deleted, and
it ends ROLLBACK_COMPLETE, to be deleted before the name is used again
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html, "Stack creation failures";
stack states: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html).

- `parsing.parse_and_create_resource`: while a stack is created, a refused resource raises ResourceRefused, which
  names it;
- `Stack.create_resources`: ResourceRefused rolls the stack back as above. Updates and change sets
  (ExecuteChangeSet) still raise the service's error out of the call: not done yet.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import moto.cloudformation.parsing as cfn_parsing
from moto.cloudformation.models import Event, Stack
from moto.core.exceptions import ServiceException
from werkzeug.exceptions import HTTPException

from emulator.aws.registry import Internal, Patch

logger = logging.getLogger(__name__)

CREATE_RESOURCE = Internal(cfn_parsing, "parse_and_create_resource",
                           ("logical_id", "resource_json", "resources_map", "account_id", "region_name"))
CREATE_RESOURCES = Internal(Stack, "create_resources", ("self",),
                            source="all_resources_ready = self.resource_map.create(self.template_dict)")
INTERNALS = (CREATE_RESOURCE, CREATE_RESOURCES)


REFUSALS = (HTTPException, ServiceException)  # moto's service errors: JsonRESTError & co., and the newer kind


class ResourceRefused(Exception):
    """A stack's resource that its service refused to create."""

    def __init__(self, logical_id: str, resource_type: str, error: Exception) -> None:
        super().__init__(f"{logical_id} ({resource_type}): {error}")
        self.logical_id, self.resource_type, self.error = logical_id, resource_type, error


class _Creating(threading.local):
    stack = False


_creating = _Creating()


def patches() -> list[Patch]:
    return [Patch(CREATE_RESOURCE, _naming_the_refused), Patch(CREATE_RESOURCES, _rolling_back)]


def _naming_the_refused(original: Callable[..., Any]) -> Callable[..., Any]:
    def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return original(logical_id, resource_json, *args, **kwargs)
        except REFUSALS as error:
            if not _creating.stack:
                raise
            raise ResourceRefused(logical_id, str(resource_json.get("Type")), error) from error

    return parse_and_create_resource


def _rolling_back(original: Callable[[Stack], None]) -> Callable[[Stack], None]:
    def create_resources(stack: Stack) -> None:
        _creating.stack = True
        try:
            original(stack)
        except ResourceRefused as refused:
            roll_back(stack, refused)
        finally:
            _creating.stack = False

    return create_resources


def roll_back(stack: Stack, refused: ResourceRefused) -> None:
    """The stack's events and state after `refused`, as CloudFormation's: its resources created so far deleted."""
    message = getattr(refused.error, "message", None) or str(refused.error)
    _resource_event(stack, refused.logical_id, refused.resource_type, "CREATE_FAILED",
                    f"Resource handler returned message: \"{message}\"")
    stack.status = "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=(
        f"The following resource(s) failed to create: [{refused.logical_id}]. Rollback requested by user."))
    resources = stack.template_dict.get("Resources", {})
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
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE")


def _resource_event(stack: Stack, logical_id: str, resource_type: str, status: str, reason: str | None) -> None:
    stack.events.append(Event(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
                              physical_resource_id="", resource_type=resource_type, resource_status=status,
                              resource_status_reason=reason, resource_properties=None))
