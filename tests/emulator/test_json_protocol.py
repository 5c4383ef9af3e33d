"""emulator/aws/json_protocol.py reads and writes what moto's own JSON parser and serializer do: for every operation
of the JSON-protocol services in use, random request bodies give the same parameters (values, types and order) and
random answers the same status, headers and bytes, through moto's functions and through ours."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest
from botocore import xform_name
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.core.responses import ActionResult, BaseResponse
from moto.core.utils import get_service_model
from moto.moto_server.werkzeug_app import BackendRequest
from werkzeug.test import EnvironBuilder

from emulator.aws import json_protocol
from emulator.aws.json_protocol import PARSE, SERIALIZE

SERVICES = ("sqs", "dynamodb", "logs", "events", "stepfunctions", "cloudwatch")
JSON_1_0 = "application/x-amz-json-1.0"
OPERATIONS = [(service, name) for service in SERVICES for name in get_service_model(service).operation_names]


class Colour(enum.Enum):
    RED = "red"


def _members(service: str, operation: str, side: str) -> list[str]:
    shape = getattr(get_service_model(service).operation_model(operation), side)
    return list(shape.members) if shape is not None and shape.type_name == "structure" else []


def _response(service: str, operation: str) -> BaseResponse:
    response = BaseResponse(service_name=service)
    target = get_service_model(service).metadata.get("targetPrefix", service)
    response.querystring, response.uri_match = {}, {}
    response.headers = {"Content-Type": JSON_1_0, "X-Amz-Target": f"{target}.{operation}"}
    response.response_headers = {"server": "amazon.com"}
    return response


def _request(body: bytes, content_type: str) -> Any:
    return BackendRequest(EnvironBuilder(method="POST", path="/", data=body, content_type=content_type).get_environ())


VALUES = st.one_of(st.text(max_size=8), st.none(), st.integers(), st.booleans(), st.just({"a": "b"}), st.just([1]))


@st.composite
def request_bodies(draw: st.DrawFn) -> tuple[str, str, bytes, str]:
    service, operation = draw(st.sampled_from(OPERATIONS))
    names = [*_members(service, operation, "input_shape"), "Unknown", "message"]
    body: Any = draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=6))
    raw = draw(st.one_of(st.just(json.dumps(body).encode()), st.sampled_from([b"", b"null", b"[1]", b"{bad",
                                                                                b"\xff\xfe{}", b'"text"'])))
    return service, operation, raw, draw(st.sampled_from([JSON_1_0, "application/x-amz-json-1.1"]))


@settings(max_examples=400, deadline=None)
@given(request=request_bodies())
def test_a_request_s_parameters_are_moto_s(request: tuple[str, str, bytes, str]) -> None:
    service, operation, body, content_type = request

    def parsed(parse: Any) -> Any:
        response = _response(service, operation)
        try:
            parse(response, _request(body, content_type))
        except Exception as error:  # noqa: BLE001  (moto's own failures must be ours too)
            return type(error), str(error)
        params = response.params
        return type(params), list(params.items()) if isinstance(params, dict) else params

    assert parsed(json_protocol._flat_strings_parsed(PARSE.current())) == parsed(PARSE.current())


@st.composite
def answers(draw: st.DrawFn) -> tuple[str, str, Any]:
    service, operation = draw(st.sampled_from(OPERATIONS))
    members = _members(service, operation, "output_shape")
    names = members + [xform_name(name) for name in members] + ["Other"]  # moto's picker also tries snake_case
    values = st.one_of(st.text(max_size=8), st.none(), st.integers(), st.just(Colour.RED), st.just(["x"]))
    result: Any = draw(st.dictionaries(st.sampled_from(names), values, max_size=6))
    return service, operation, draw(st.one_of(st.just(result), st.just(None), st.just([result])))


@settings(max_examples=400, deadline=None)
@given(answer=answers())
def test_an_answer_is_moto_s_bytes(answer: tuple[str, str, Any]) -> None:
    service, operation, result = answer

    def written(serialize: Any) -> Any:
        try:
            return serialize(_response(service, operation), ActionResult(result))
        except Exception as error:  # noqa: BLE001
            return type(error), str(error)

    assert written(json_protocol._flat_strings_serialized(SERIALIZE.current())) == written(SERIALIZE.current())


@pytest.mark.parametrize("operation", ["SendMessage", "DeleteMessage"])
def test_the_hot_sqs_calls_take_the_short_way(operation: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shortcut is taken where it matters (else the tests above would pass with it never used)."""
    def moto_s_own(*args: Any) -> Any:
        raise AssertionError("moto's own path was taken")

    body = {"QueueUrl": "http://localhost/123456789012/q", "MessageBody": "hi", "ReceiptHandle": "r"}
    response = _response("sqs", operation)
    json_protocol._flat_strings_parsed(moto_s_own)(response, _request(json.dumps(body).encode(), JSON_1_0))
    assert response.params == {name: body[name] for name in _members("sqs", operation, "input_shape") if name in body}
    if operation == "SendMessage":
        answer = json_protocol._flat_strings_serialized(moto_s_own)(response, ActionResult({"MessageId": "m"}))
        assert answer == (200, {"Content-Type": JSON_1_0, "server": "amazon.com"}, '{"MessageId": "m"}')
