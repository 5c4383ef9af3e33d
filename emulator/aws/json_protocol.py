"""moto's JSON protocol for a request or an answer made of string members only (SQS's SendMessage, DeleteMessage,
GetQueueUrl...): read and written without walking the shape member by member.

For a JSON-protocol request moto builds a parser and walks the operation's input shape (a handler looked up per
member), and for its answer builds a serializer, an attribute picker and a context per member; an SQS send spent
~70 us there of ~300 us in moto. When every member of the shape is a string, what those walks give is known from
the shape alone:

- parsed: the body's JSON object, each member under its serialized name (none here is null), in the shape's order;
  a request whose body holds only string members of a shape with others (SendMessage without attributes or delay)
  is read the same way;
- serialized: each member's value found under the names moto's attribute picker tries for it (the first present),
  a `str` written as it is, in the shape's order, as `json.dumps` writes the dict.

Anything else (another protocol or serializer, a body that is not a JSON object, a value that is not a `str`, a
paginated or error result, a service with response transformers) goes through moto as before.
tests/emulator/test_json_protocol.py compares both ways over every such operation of the services in use.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto import settings
from moto.core.parse import PROTOCOL_PARSERS, BaseJSONParser, JSONParser
from moto.core.request import determine_request_protocol
from moto.core.responses import ActionResult, BaseResponse
from moto.core.serialize import (
    AttributePickerContext,
    BaseJSONSerializer,
    JSONSerializer,
    XFormedAttributePicker,
    get_serializer_class,
)
from moto.core.utils import get_service_model

from emulator.aws.registry import Internal, Patch

PARSE = Internal(BaseResponse, "parse_parameters", ("self", "request"),
                 source="parser = parser_cls(operation_model, map_type=self.PROTOCOL_PARSER_MAP_TYPE)")
SERIALIZE = Internal(BaseResponse, "serialized", ("self", "action_result"),
                     source="protocol = self.determine_response_protocol(service_model)")
RESPONSE_PROTOCOL = Internal(BaseResponse, "determine_response_protocol", ("self", "service_model"),
                             source='content_type = self.headers.get("Content-Type", "")')
EXECUTE = Internal(ActionResult, "execute_result", ("self", "context"), source="value_picker = XFormedAttributePicker(")
MEMBERS_PARSED = Internal(BaseJSONParser, "_parse_structure", ("self", "shape", "value"),
                          source='json_name = member_shape.serialization.get("name", member_name)')
BODY_PARSED = Internal(BaseJSONParser, "_parse_body_as_json", ("self", "body_contents"), source="json.loads(body)")
STRING_WRITTEN = Internal(BaseJSONSerializer, "_serialize_type_string", ("self", "serialized", "value"),
                          source="string_value = str(value) if value not in [None, {}, []] else value")
BODY_WRITTEN = Internal(BaseJSONSerializer, "_serialize_body", ("self", "body"),
                        source="json.dumps(body, indent=4 if self.pretty_print else None)")
INTERNALS = (PARSE, SERIALIZE, RESPONSE_PROTOCOL, EXECUTE, MEMBERS_PARSED, BODY_PARSED, STRING_WRITTEN, BODY_WRITTEN)
OPERATIONS = 1024  # (service, action, content type) plans remembered


@dataclass(frozen=True)
class _Member:
    name: str  # the shape's member name (a parsed parameter's key)
    wire_name: str  # its serialized name (the JSON key)
    picked_from: tuple[str, ...]  # the keys moto's attribute picker tries on a dict, in order
    is_string: bool


def patches() -> list[Patch]:
    return [Patch(PARSE, _flat_strings_parsed), Patch(SERIALIZE, _flat_strings_serialized)]


def _flat_strings_parsed(original: Callable[[BaseResponse, Any], None]) -> Callable[[BaseResponse, Any], None]:
    def parse_parameters(response: BaseResponse, request: Any) -> None:
        members = _input_members(response.boto3_service_name, response._get_action(), request.content_type)
        body = _json_object(request.data) if members is not None else None
        if members is None or body is None:
            original(response, request)
            return
        params = (response.PROTOCOL_PARSER_MAP_TYPE or JSONParser.MAP_TYPE)()
        for member in members:
            if body.get(member.wire_name) is None:
                continue
            if not member.is_string:  # moto converts it (a number, a map...)
                original(response, request)
                return
            params[member.name] = body[member.wire_name]
        response.params = params

    return parse_parameters


def _flat_strings_serialized(original: Callable[[BaseResponse, ActionResult], Any]
                             ) -> Callable[[BaseResponse, ActionResult], Any]:
    def serialized(response: BaseResponse, action_result: ActionResult) -> Any:
        result = action_result.result
        if type(action_result) is not ActionResult or type(result) is not dict \
                or getattr(response, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None):
            return original(response, action_result)
        plan = _output_plan(response.boto3_service_name, response._get_action(),
                            response.headers.get("Content-Type", ""))
        written = _written(result, plan[0]) if plan is not None else None
        if plan is None or written is None:
            return original(response, action_result)
        status, content_type = plan[1], plan[2]
        headers = {"Content-Type": content_type, **response.response_headers}
        return status, headers, json.dumps(written, indent=4 if settings.PRETTIFY_RESPONSES else None)

    return serialized


def _json_object(body: bytes) -> dict[str, Any] | None:
    """The body as moto's JSON parser reads it, when that is a JSON object; else None."""
    if not body:
        return {}
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return parsed if type(parsed) is dict else None


def _written(result: dict[str, Any], members: tuple[_Member, ...]) -> dict[str, str] | None:
    """The answer's members as moto's JSON serializer writes them, or None for a value it would convert."""
    written: dict[str, str] = {}
    for member in members:
        value = first_picked(result, member.picked_from)
        if value is None:
            continue
        if type(value) is not str:
            return None
        written[member.wire_name] = value
    return written


def picked_names(picker: Any, context: AttributePickerContext) -> tuple[str, ...] | None:
    """The keys moto's attribute picker tries on a dict for this member, in order; None when one is a dotted path
    into the object (moto's own picker follows it)."""
    names = tuple(picker.get_possible_keys(context))
    return None if any("." in name for name in names) else names


def first_picked(obj: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The member moto's picker finds in a dict: the value of the first of its names the dict holds, else None."""
    return next((obj[name] for name in names if name in obj), None)


@functools.lru_cache(maxsize=OPERATIONS)
def _input_members(service: str, action: str | None, content_type: str | None) -> tuple[_Member, ...] | None:
    """The input shape's members when moto's JSON parser reads this request (its structure is not a document)."""
    operation = _operation(service, action)
    if operation is None or PROTOCOL_PARSERS.get(_protocol(service, content_type)) is not JSONParser:
        return None
    return _members(operation.input_shape)


@functools.lru_cache(maxsize=OPERATIONS)
def _output_plan(service: str, action: str | None, content_type: str
                 ) -> tuple[tuple[_Member, ...], int, str] | None:
    """(members, status, Content-Type) when moto's JSON serializer writes this operation's answer and its output
    members are all strings."""
    operation = _operation(service, action)
    protocol = _protocol(service, content_type)
    if operation is None or protocol != "json" or operation.has_event_stream_output \
            or get_serializer_class(str(operation.service_model.service_name), protocol) is not JSONSerializer:
        return None
    members = _members(operation.output_shape, operation)
    if members is None or not all(member.is_string for member in members):
        return None
    serializer = JSONSerializer(operation_model=operation)
    status = operation.http.get("responseCode", serializer.DEFAULT_RESPONSE_CODE)
    return members, status, serializer._get_protocol_specific_content_type()


def _operation(service: str, action: str | None) -> Any:
    try:
        return get_service_model(service).operation_model(action) if action else None
    except Exception:  # noqa: BLE001  (botocore's OperationNotFoundError and kin: moto's own path answers)
        return None


def _protocol(service: str, content_type: str | None) -> str | None:
    try:
        return determine_request_protocol(get_service_model(service), content_type)
    except NotImplementedError:  # moto's own path raises it again
        return None


def _members(shape: Any, operation: Any = None) -> tuple[_Member, ...] | None:
    """A structure's members (with the keys moto's picker tries, given the operation whose answer it is)."""
    if shape is None or shape.type_name != "structure" or shape.is_document_type:
        return None
    picker = XFormedAttributePicker()
    members = []
    for name, member in shape.members.items():
        context = AttributePickerContext(obj={}, key=name, shape=member, operation_model=operation,
                                         service_model=operation.service_model if operation else None)
        keys = picked_names(picker, context) if operation is not None else ()
        if keys is None:
            return None
        members.append(_Member(name, member.serialization.get("name", name), keys, member.type_name == "string"))
    return tuple(members)
