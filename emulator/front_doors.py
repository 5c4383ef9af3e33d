"""HTTP front doors on the emulator's port, in the URL forms LocalStack users know, in front of moto's app.

- API Gateway REST APIs, `AWS_PROXY` integrations to a Lambda:
  `/restapis/{api-id}/{stage}/_user_request_/{path}` on any host, or `/{stage}/{path}` on the host
  `{api-id}.execute-api.localhost.localstack.cloud:{port}`. The function is invoked synchronously with the proxy
  event (payload 1.0, https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html)
  and its statusCode/headers/multiValueHeaders/body (base64 when isBase64Encoded) is the answer. As on AWS: no
  resource or method for the path -> 403 `Missing Authentication Token`; a function error or a malformed answer
  -> 502 `Internal server error`.
- Lambda function URLs: the host `{url-id}.lambda-url.{region}.localhost.localstack.cloud:{port}` (what
  CreateFunctionUrlConfig returns here), payload 2.0
  (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html); an answer without statusCode is a 200
  JSON body, as on AWS.
- `/_emulator/clock`: GET the emulator's clock, POST `{"advance_seconds": N}` to move it (scheduled rules).
An execute-api or lambda-url host, or a `_user_request_` path, naming nothing that exists: 404 JSON. Every other
request (S3's path-style `/bucket/key` included) goes to moto untouched.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from emulator.aws.function_urls import LOCAL_DOMAIN, function_for_url
from emulator.clock import EmulatorClock
from emulator.lambda_runtime.event_sources import Invoke

CLOCK_PATH = "/_emulator/clock"
_USER_REQUEST = re.compile(r"^/restapis/([^/]+)/([^/]+)/_user_request_(/.*)?$")
_EXECUTE_API_HOST = re.compile(rf"^([a-z0-9]+)\.execute-api\.{re.escape(LOCAL_DOMAIN)}$")
_FUNCTION_URL_HOST = re.compile(rf"^([a-z0-9]+)\.lambda-url\.([a-z0-9-]+)\.{re.escape(LOCAL_DOMAIN)}$")
_INTEGRATION_FUNCTION = re.compile(r":lambda:path/[^/]+/functions/(.+)/invocations$")
MISSING_TOKEN = {"message": "Missing Authentication Token"}
INTERNAL_ERROR = {"message": "Internal server error"}
_V1_RESPONSE_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Route:
    """A REST API resource and method an HTTP request reached."""

    api_id: str
    stage: str
    path: str
    resource: dict[str, Any]
    path_parameters: dict[str, str] | None
    function_arn: str
    stage_variables: dict[str, str] | None


def front_doors(app: WSGIApp, apigateway: Any, invoke: Invoke, clock: EmulatorClock) -> WSGIApp:
    """`app` behind the front doors; `apigateway` is a boto3 client of the emulator's own endpoint."""
    doors = _FrontDoors(apigateway, invoke, clock)

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, host = environ.get("PATH_INFO", ""), environ.get("HTTP_HOST", "")
        if path != CLOCK_PATH and "/_user_request_" not in path and LOCAL_DOMAIN not in host:
            return app(environ, start_response)  # an AWS API call: no request parsing on moto's path
        response = doors.answer(Request(environ))
        if response is None:
            return app(environ, start_response)
        return response(environ, start_response)

    return dispatch


class _FrontDoors:
    def __init__(self, apigateway: Any, invoke: Invoke, clock: EmulatorClock) -> None:
        self._apigateway = apigateway
        self._invoke = invoke
        self._clock = clock

    def answer(self, request: Request) -> Response | None:
        """The front door's response, None for a request moto answers."""
        host = request.host.rsplit(":", 1)[0].lower()
        if request.path == CLOCK_PATH:
            return self._clock_route(request)
        if match := _USER_REQUEST.match(request.path):
            return self._rest_api(request, match.group(1), match.group(2), match.group(3) or "/")
        if match := _EXECUTE_API_HOST.match(host):
            stage, _, rest = request.path.lstrip("/").partition("/")
            return self._rest_api(request, match.group(1), stage, "/" + rest)
        if match := _FUNCTION_URL_HOST.match(host):
            return self._function_url(request, match.group(1))
        return None

    def _clock_route(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                seconds = float(json.loads(request.get_data() or b"{}")["advance_seconds"])
                self._clock.advance(seconds)
            except (ValueError, KeyError, TypeError) as exc:
                return _json(400, {"message": f'POST {CLOCK_PATH} takes {{"advance_seconds": N >= 0}}: {exc}'})
        return _json(200, {"now": self._clock.now().isoformat()})

    def _rest_api(self, request: Request, api_id: str, stage: str, path: str) -> Response:
        try:
            api = self._apigateway.get_rest_api(restApiId=api_id)
        except self._apigateway.exceptions.NotFoundException:
            return _json(404, {"message": f"no REST API with id {api_id} on this emulator"})
        route = self._route(api["id"], stage, path, request.method)
        if route is None:
            return _json(403, MISSING_TOKEN)
        result = self._invoke(route.function_arn, json.dumps(proxy_event_v1(request, route)).encode())
        if result.error is not None:
            return _json(502, INTERNAL_ERROR)
        return proxy_response_v1(result.payload)

    def _route(self, api_id: str, stage: str, path: str, method: str) -> Route | None:
        client = self._apigateway
        try:
            variables = client.get_stage(restApiId=api_id, stageName=stage).get("variables")
        except client.exceptions.NotFoundException:
            return None
        resources = [r for page in client.get_paginator("get_resources").paginate(restApiId=api_id)
                     for r in page["items"]]
        for resource, parameters in _matching_resources(resources, path):
            methods = resource.get("resourceMethods") or {}
            http_method = method if method in methods else "ANY" if "ANY" in methods else None
            if http_method is None:
                continue
            integration = client.get_integration(restApiId=api_id, resourceId=resource["id"], httpMethod=http_method)
            function = _INTEGRATION_FUNCTION.search(integration.get("uri") or "")
            if integration.get("type") != "AWS_PROXY" or function is None:
                return None
            return Route(api_id, stage, path, resource, parameters, function.group(1), variables)
        return None

    def _function_url(self, request: Request, url_id: str) -> Response:
        found = function_for_url(url_id)
        if found is None:
            return _json(404, {"message": f"no function URL with id {url_id} on this emulator"})
        result = self._invoke(found[0], json.dumps(function_url_event(request, url_id)).encode())
        if result.error is not None:
            return _json(502, INTERNAL_ERROR)
        return function_url_response(result.payload)


def _matching_resources(resources: list[dict[str, Any]], path: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Resources whose path template matches, the most specific first (literal segments before parameters)."""
    matches = []
    for resource in resources:
        parameters = _match_template(resource["path"], path)
        if parameters is not None:
            template = resource["path"].split("/")
            literals = sum(1 for part in template if not part.startswith("{"))
            greedy = any(part.endswith("+}") for part in template)
            matches.append(((greedy, -literals), resource, parameters))
    return [(resource, parameters) for _, resource, parameters in sorted(matches, key=lambda m: m[0])]


def _match_template(template: str, path: str) -> dict[str, str] | None:
    wanted = [part for part in template.split("/") if part]
    actual = [part for part in path.split("/") if part]
    parameters: dict[str, str] = {}
    for index, part in enumerate(wanted):
        if part.startswith("{") and part.endswith("+}"):
            if index >= len(actual):
                return None
            parameters[part[1:-2]] = "/".join(actual[index:])
            return parameters
        if index >= len(actual):
            return None
        if part.startswith("{") and part.endswith("}"):
            parameters[part[1:-1]] = actual[index]
        elif part != actual[index]:
            return None
    return parameters if len(wanted) == len(actual) else None


def proxy_event_v1(request: Request, route: Route) -> dict[str, Any]:
    """API Gateway's REST proxy event (payload format 1.0)."""
    body, encoded = _event_body(request)
    now = time.time()
    return {
        "resource": route.resource["path"],
        "path": route.path,
        "httpMethod": request.method,
        "headers": {name: value for name, value in request.headers.items()} or None,
        "multiValueHeaders": {name: request.headers.getlist(name) for name in _header_names(request)} or None,
        "queryStringParameters": {k: request.args.getlist(k)[-1] for k in request.args} or None,
        "multiValueQueryStringParameters": {k: request.args.getlist(k) for k in request.args} or None,
        "pathParameters": route.path_parameters or None,
        "stageVariables": route.stage_variables or None,
        "requestContext": {
            "accountId": route.function_arn.split(":")[4], "apiId": route.api_id, "resourceId": route.resource["id"],
            "resourcePath": route.resource["path"], "stage": route.stage, "httpMethod": request.method,
            "path": f"/{route.stage}{route.path}", "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "requestId": str(uuid.uuid4()), "extendedRequestId": uuid.uuid4().hex[:16],
            "domainName": request.host, "domainPrefix": request.host.split(".")[0],
            "requestTime": _request_time(now), "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": request.remote_addr, "userAgent": request.user_agent.string or None},
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


def function_url_event(request: Request, url_id: str) -> dict[str, Any]:
    """A function URL's event (payload format 2.0)."""
    body, encoded = _event_body(request)
    now = time.time()
    headers = {name.lower(): ",".join(request.headers.getlist(name)) for name in _header_names(request)
               if name.lower() != "cookie"}
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default", "rawPath": request.path,
        "rawQueryString": request.query_string.decode(), "headers": headers,
        "requestContext": {
            "accountId": "anonymous", "apiId": url_id, "domainName": request.host, "domainPrefix": url_id,
            "http": {"method": request.method, "path": request.path,
                     "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                     "sourceIp": request.remote_addr, "userAgent": request.user_agent.string},
            "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
            "time": _request_time(now), "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": encoded,
    }
    if request.cookies:
        event["cookies"] = [f"{name}={value}" for name, value in request.cookies.items(multi=True)]
    if request.args:
        event["queryStringParameters"] = {k: ",".join(request.args.getlist(k)) for k in request.args}
    if body is not None:
        event["body"] = body
    return event


def proxy_response_v1(payload: bytes | None) -> Response:
    """The HTTP answer a REST proxy integration's function returned; 502 when it is not one."""
    try:
        answer = json.loads(payload or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _json(502, INTERNAL_ERROR)
    if not isinstance(answer, dict) or not set(answer) <= _V1_RESPONSE_KEYS or "statusCode" not in answer:
        return _json(502, INTERNAL_ERROR)
    return _structured_response(answer, default_type="application/json")


def function_url_response(payload: bytes | None) -> Response:
    """A function URL's answer: the function's structured response, or its JSON as a 200 body."""
    text = (payload or b"null").decode("utf-8", "replace")
    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        return _json(502, INTERNAL_ERROR)
    if isinstance(answer, dict) and "statusCode" in answer:
        response = _structured_response(answer, default_type="application/json")
        for cookie in answer.get("cookies") or []:
            response.headers.add("Set-Cookie", str(cookie))
        return response
    return Response(text, status=200, content_type="application/json")


def _structured_response(answer: dict[str, Any], default_type: str) -> Response:
    try:
        status = int(answer["statusCode"])
        body = answer.get("body") or ""
        data = base64.b64decode(body) if answer.get("isBase64Encoded") else str(body).encode()
    except (TypeError, ValueError):
        return _json(502, INTERNAL_ERROR)
    response = Response(data, status=status)
    response.headers.remove("Content-Type")
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, str(value))
    for name, value in (answer.get("headers") or {}).items():
        response.headers[name] = str(value)
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = default_type
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


def _event_body(request: Request) -> tuple[str | None, bool]:
    data = request.get_data()
    if not data:
        return None, False
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(data).decode(), True


def _header_names(request: Request) -> list[str]:
    return list(dict.fromkeys(name for name, _ in request.headers.items()))


def _request_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
