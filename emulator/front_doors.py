"""HTTP front doors on the emulator's port, in the URL forms LocalStack users know, in front of moto's app.

- API Gateway REST APIs, `AWS_PROXY` integrations to a Lambda:
  `/restapis/{api-id}/{stage}/_user_request_/{path}` on any host, or `/{stage}/{path}` on the host
  `{api-id}.execute-api.localhost.localstack.cloud:{port}`. The function is invoked synchronously with the proxy
  event (payload 1.0, https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html)
  and its statusCode/headers/multiValueHeaders/body (base64 when isBase64Encoded) is the answer. As on AWS: no
  resource or method for the path -> 403 `Missing Authentication Token`; a function error or a malformed answer
  -> 502 `Internal server error`.
- API Gateway HTTP APIs (v2), `AWS_PROXY` integrations to a Lambda: the same two URL forms, the stage left out for
  the `$default` stage (`{api-id}.execute-api.localhost.localstack.cloud:{port}/{path}`). Routes (`GET /items/{id}`,
  `ANY /{proxy+}`, `$default`) are chosen as AWS chooses them: the full match, then the greedy one, then `$default`
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html); the stage serves the
  API's current routes (its deployments are not tracked). The function is invoked synchronously with the payload
  format its integration names (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html):
  2.0 (an answer without statusCode is a 200 JSON body) or 1.0 (REST's event and answer). As on AWS: no route ->
  404 `Not Found`; a function error or a malformed answer -> 500 `Internal Server Error`.
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

from contract.aws import DEFAULT_REGION
from emulator.aws.apigatewayv2 import api_owner
from emulator.aws.function_urls import LOCAL_DOMAIN, function_for_url
from emulator.aws.iam import service_may_invoke
from emulator.clock import EmulatorClock
from emulator.config import DEFAULT_ACCOUNT
from emulator.lambda_runtime.event_sources import Clients, Invoke

CLOCK_PATH = "/_emulator/clock"
_USER_REQUEST = re.compile(r"^/restapis/([^/]+)/([^/]+)/_user_request_(/.*)?$")
_EXECUTE_API_HOST = re.compile(rf"^([a-z0-9]+)\.execute-api\.{re.escape(LOCAL_DOMAIN)}$")
_FUNCTION_URL_HOST = re.compile(rf"^([a-z0-9]+)\.lambda-url\.([a-z0-9-]+)\.{re.escape(LOCAL_DOMAIN)}$")
_INTEGRATION_FUNCTION = re.compile(r":lambda:path/[^/]+/functions/(.+)/invocations$")
MISSING_TOKEN = {"message": "Missing Authentication Token"}
INTERNAL_ERROR = {"message": "Internal server error"}
HTTP_API_NOT_FOUND = {"message": "Not Found"}
HTTP_API_INTERNAL_ERROR = {"message": "Internal Server Error"}
FUNCTION_URL_FORBIDDEN = {"Message": "Forbidden"}
API_GATEWAY = "apigateway.amazonaws.com"
DEFAULT_STAGE = "$default"
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


@dataclass(frozen=True)
class HttpRoute:
    """An HTTP API route an HTTP request reached, with its integration's function and payload format."""

    api_id: str
    stage: str
    path: str
    route_key: str
    path_parameters: dict[str, str] | None
    function_arn: str
    payload_format: str
    stage_variables: dict[str, str] | None

    @property
    def raw_path(self) -> str:
        return self.path if self.stage == DEFAULT_STAGE else f"/{self.stage}{self.path}"


@dataclass(frozen=True)
class _Api:
    """An API id and boto3 clients as the account that holds it (the default account when none does: its
    NotFoundException then answers), resolved once a request."""

    id: str
    client: Callable[[str], Any]


def front_doors(app: WSGIApp, clients: Clients, invoke: Invoke, clock: EmulatorClock) -> WSGIApp:
    """`app` behind the front doors; `clients` gives boto3 clients of the emulator's endpoint per account, an API's
    own account's answering for it."""
    doors = _FrontDoors(clients, invoke, clock)

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
    def __init__(self, clients: Clients, invoke: Invoke, clock: EmulatorClock) -> None:
        self._clients = clients
        self._invoke = invoke
        self._clock = clock

    def _api(self, api_id: str) -> _Api:
        account, region = api_owner(api_id) or (DEFAULT_ACCOUNT, DEFAULT_REGION)
        return _Api(api_id, lambda service: self._clients(service, account, region))

    def answer(self, request: Request) -> Response | None:
        """The front door's response, None for a request moto answers."""
        host = request.host.rsplit(":", 1)[0].lower()
        if request.path == CLOCK_PATH:
            return self._clock_route(request)
        if match := _USER_REQUEST.match(request.path):
            api, stage, path = self._api(match.group(1)), match.group(2), match.group(3) or "/"
            if self._is_http_api(api):
                return self._http_api(request, api, stage, path)
            return self._rest_api(request, api, stage, path)
        if match := _EXECUTE_API_HOST.match(host):
            api = self._api(match.group(1))
            if self._is_http_api(api):
                return self._http_api_by_host(request, api)
            stage, _, rest = request.path.lstrip("/").partition("/")
            return self._rest_api(request, api, stage, "/" + rest)
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

    def _rest_api(self, request: Request, api: _Api, stage: str, path: str) -> Response:
        client = api.client("apigateway")
        try:
            client.get_rest_api(restApiId=api.id)
        except client.exceptions.NotFoundException:
            return _json(404, {"message": f"no REST API with id {api.id} on this emulator"})
        route = self._route(api, stage, path, request.method)
        if route is None:
            return _json(403, MISSING_TOKEN)
        if not service_may_invoke(route.function_arn, API_GATEWAY, _execute_api_arn(
                route.function_arn, api.id, stage, request.method, route.resource["path"])):
            return _json(500, INTERNAL_ERROR)
        result = self._invoke(route.function_arn, json.dumps(proxy_event_v1(request, route)).encode())
        if result.error is not None:
            return _json(502, INTERNAL_ERROR)
        return proxy_response_v1(result.payload)

    def _route(self, api: _Api, stage: str, path: str, method: str) -> Route | None:
        client = api.client("apigateway")
        try:
            variables = client.get_stage(restApiId=api.id, stageName=stage).get("variables")
        except client.exceptions.NotFoundException:
            return None
        resources = [r for page in client.get_paginator("get_resources").paginate(restApiId=api.id)
                     for r in page["items"]]
        for resource, parameters in _matching_resources(resources, path):
            methods = resource.get("resourceMethods") or {}
            http_method = method if method in methods else "ANY" if "ANY" in methods else None
            if http_method is None:
                continue
            integration = client.get_integration(restApiId=api.id, resourceId=resource["id"], httpMethod=http_method)
            function = _INTEGRATION_FUNCTION.search(integration.get("uri") or "")
            if integration.get("type") != "AWS_PROXY" or function is None:
                return None
            return Route(api.id, stage, path, resource, parameters, function.group(1), variables)
        return None

    def _is_http_api(self, api: _Api) -> bool:
        client = api.client("apigatewayv2")
        try:
            return client.get_api(ApiId=api.id).get("ProtocolType") == "HTTP"
        except client.exceptions.NotFoundException:
            return False

    def _http_api_by_host(self, request: Request, api: _Api) -> Response:
        """The stage is the path's first segment when the API has a stage of that name, else `$default`."""
        stages = {s["StageName"]: s for s in api.client("apigatewayv2").get_stages(ApiId=api.id)["Items"]}
        first, _, rest = request.path.lstrip("/").partition("/")
        if first in stages and first != DEFAULT_STAGE:
            return self._http_api(request, api, first, "/" + rest)
        return self._http_api(request, api, DEFAULT_STAGE, request.path or "/")

    def _http_api(self, request: Request, api: _Api, stage: str, path: str) -> Response:
        route = self._http_route(api, stage, path, request.method)
        if route is None:
            return _json(404, HTTP_API_NOT_FOUND)
        version_1 = route.payload_format == "1.0"
        event = ({"version": "1.0", **proxy_event_v1(request, _as_rest_route(route))} if version_1
                 else http_api_event(request, route))
        path_template = route.route_key.partition(" ")[2] or route.path
        if not service_may_invoke(route.function_arn, API_GATEWAY, _execute_api_arn(
                route.function_arn, api.id, stage, request.method, path_template)):
            return _http_api_failure()
        result = self._invoke(route.function_arn, json.dumps(event).encode())
        if result.error is not None:
            return _http_api_failure()
        if version_1:
            return proxy_response_v1(result.payload, failure=_http_api_failure)
        return response_v2(result.payload, failure=_http_api_failure)

    def _http_route(self, api: _Api, stage: str, path: str, method: str) -> HttpRoute | None:
        client = api.client("apigatewayv2")
        try:
            variables = client.get_stage(ApiId=api.id, StageName=stage).get("StageVariables")
        except client.exceptions.NotFoundException:
            return None
        routes = [r for page in client.get_paginator("get_routes").paginate(ApiId=api.id) for r in page["Items"]]
        found = _matching_route(routes, method, path)
        if found is None or not str(found[0].get("Target") or "").startswith("integrations/"):
            return None
        route, parameters = found
        integration = client.get_integration(ApiId=api.id, IntegrationId=route["Target"].split("/", 1)[1])
        uri = integration.get("IntegrationUri") or ""
        function = _INTEGRATION_FUNCTION.search(uri)
        function_arn = function.group(1) if function else uri if uri.startswith("arn:aws:lambda:") else None
        if integration.get("IntegrationType") != "AWS_PROXY" or function_arn is None:
            return None
        return HttpRoute(api.id, stage, path, route["RouteKey"], parameters or None, function_arn,
                         integration.get("PayloadFormatVersion") or "2.0", variables or None)

    def _function_url(self, request: Request, url_id: str) -> Response:
        found = function_for_url(url_id)
        if found is None:
            return _json(404, {"message": f"no function URL with id {url_id} on this emulator"})
        function_arn, auth_type = found
        if auth_type == "NONE" and not service_may_invoke(function_arn, "*", request.url, "lambda:InvokeFunctionUrl",
                                                          {"lambda:FunctionUrlAuthType": "NONE"}):
            return _json(403, FUNCTION_URL_FORBIDDEN)
        result = self._invoke(function_arn, json.dumps(function_url_event(request, url_id)).encode())
        if result.error is not None:
            return _json(502, INTERNAL_ERROR)
        return response_v2(result.payload)


def _execute_api_arn(function_arn: str, api_id: str, stage: str, method: str, path: str) -> str:
    """The source ARN API Gateway invokes a function with: `arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH`
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html); the API is taken to
    be in the function's account and region."""
    _, _, _, region, account = function_arn.split(":")[:5]
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method}{path}"


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


def _matching_route(routes: list[dict[str, Any]], method: str, path: str
                    ) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The HTTP API route a request takes: the most specific path (as for REST resources), a route of the request's
    method before an ANY one; `$default` when none matches."""
    by_path = []
    for route in routes:
        route_method, _, template = route["RouteKey"].partition(" ")
        if route_method in (method, "ANY") and template:
            by_path.append({"path": template, "route": route, "any": route_method == "ANY"})
    for candidate, parameters in _matching_resources(sorted(by_path, key=lambda c: c["any"]), path):
        return candidate["route"], parameters
    default = next((r for r in routes if r["RouteKey"] == "$default"), None)
    return (default, {}) if default is not None else None


def _as_rest_route(route: HttpRoute) -> Route:
    """An HTTP API route in the REST proxy's terms, for payload format 1.0."""
    template = route.route_key.partition(" ")[2] or route.path
    return Route(route.api_id, route.stage, route.path, {"id": route.route_key, "path": template},
                 route.path_parameters, route.function_arn, route.stage_variables)


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
    return _event_v2(request, url_id, "anonymous", DEFAULT_STAGE, DEFAULT_STAGE, request.path)


def http_api_event(request: Request, route: HttpRoute) -> dict[str, Any]:
    """An HTTP API's event for a Lambda proxy integration (payload format 2.0)."""
    event = _event_v2(request, route.api_id, route.function_arn.split(":")[4], route.route_key, route.stage,
                      route.raw_path)
    if route.path_parameters:
        event["pathParameters"] = route.path_parameters
    if route.stage_variables:
        event["stageVariables"] = route.stage_variables
    return event


def _event_v2(request: Request, api_id: str, account: str, route_key: str, stage: str, raw_path: str
              ) -> dict[str, Any]:
    body, encoded = _event_body(request)
    now = time.time()
    headers = {name.lower(): ",".join(request.headers.getlist(name)) for name in _header_names(request)
               if name.lower() != "cookie"}
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": route_key, "rawPath": raw_path,
        "rawQueryString": request.query_string.decode(), "headers": headers,
        "requestContext": {
            "accountId": account, "apiId": api_id, "domainName": request.host,
            "domainPrefix": request.host.split(".")[0],
            "http": {"method": request.method, "path": raw_path,
                     "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                     "sourceIp": request.remote_addr, "userAgent": request.user_agent.string},
            "requestId": str(uuid.uuid4()), "routeKey": route_key, "stage": stage,
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


def _rest_failure() -> Response:
    return _json(502, INTERNAL_ERROR)


def _http_api_failure() -> Response:
    return _json(500, HTTP_API_INTERNAL_ERROR)


def proxy_response_v1(payload: bytes | None, failure: Callable[[], Response] = _rest_failure) -> Response:
    """The HTTP answer a payload 1.0 proxy integration's function returned; `failure()` when it is not one."""
    try:
        answer = json.loads(payload or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return failure()
    if not isinstance(answer, dict) or not set(answer) <= _V1_RESPONSE_KEYS or "statusCode" not in answer:
        return failure()
    return _structured_response(answer, "application/json", failure)


def response_v2(payload: bytes | None, failure: Callable[[], Response] = _rest_failure) -> Response:
    """A payload 2.0 answer (function URL, HTTP API): the function's structured response, or its JSON as a 200 body."""
    text = (payload or b"null").decode("utf-8", "replace")
    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        return failure()
    if isinstance(answer, dict) and "statusCode" in answer:
        response = _structured_response(answer, "application/json", failure)
        for cookie in answer.get("cookies") or []:
            response.headers.add("Set-Cookie", str(cookie))
        return response
    return Response(text, status=200, content_type="application/json")


def _structured_response(answer: dict[str, Any], default_type: str, failure: Callable[[], Response]) -> Response:
    try:
        status = int(answer["statusCode"])
        body = answer.get("body") or ""
        data = base64.b64decode(body) if answer.get("isBase64Encoded") else str(body).encode()
    except (TypeError, ValueError):
        return failure()
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
