"""Fidelity, issue 26: API Gateway HTTP APIs (v2): routes with AWS_PROXY integrations to a Lambda, payload format 2.0
(and 1.0), the `$default` stage with auto-deploy and a named stage, called over HTTP at the API's endpoint (on the
emulator, LocalStack's `{api-id}.execute-api.localhost.localstack.cloud` host). Plain boto3 and urllib: reruns
against AWS."""

import json

import pytest

from tests.emulator.fidelity import http_call, unique

pytestmark = pytest.mark.integration

HANDLER = """
import json

def lambda_handler(event, context):
    path = event.get("rawPath") or event.get("path")
    if path.endswith("/error"):
        raise RuntimeError("asked to fail")
    if path.endswith("/bare"):
        return {"bare": True}
    if path.endswith("/malformed"):
        return {"statusCode": "not a number"}
    answer = {"statusCode": 201, "headers": {"X-Echo": "yes", "Content-Type": "application/json"},
              "body": json.dumps(event)}
    if event["version"] == "2.0":
        answer["cookies"] = ["flavour=oat"]
    return answer
"""


@pytest.fixture(scope="module")
def function_arn(cloud):
    arn = cloud.function(HANDLER)
    cloud.client("lambda").add_permission(FunctionName=arn, StatementId="apigateway", Action="lambda:InvokeFunction",
                                          Principal="apigateway.amazonaws.com")
    return arn


def _http_api(cloud, function_arn: str, routes: dict[str, str], stage: str = "$default") -> str:
    """An HTTP API with one route per key, each to the function with the payload format given; its endpoint URL
    (with the stage's path when it is not `$default`)."""
    api = cloud.client("apigatewayv2")
    created = api.create_api(Name=unique("fidelity"), ProtocolType="HTTP")
    api_id = created["ApiId"]
    cloud._cleanups.append(lambda: api.delete_api(ApiId=api_id))
    integrations: dict[str, str] = {}
    for route_key, payload_format in routes.items():
        if payload_format not in integrations:
            integrations[payload_format] = api.create_integration(
                ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn,
                PayloadFormatVersion=payload_format)["IntegrationId"]
        api.create_route(ApiId=api_id, RouteKey=route_key, Target=f"integrations/{integrations[payload_format]}")
    api.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True)
    endpoint = created["ApiEndpoint"]
    return endpoint if stage == "$default" else f"{endpoint}/{stage}"


@pytest.fixture(scope="module")
def endpoint(cloud, function_arn):
    return _http_api(cloud, function_arn, {"GET /items/{id}": "2.0", "ANY /{proxy+}": "2.0", "GET /v1/{name}": "1.0"})


def test_a_route_with_a_path_parameter_gets_the_2_0_event(cloud, endpoint):
    status, headers, body = http_call(cloud, f"{endpoint}/items/42?x=1&x=2")
    assert (status, headers["X-Echo"]) == (201, "yes")
    assert "flavour=oat" in headers.get("Set-Cookie", "")
    event = json.loads(body)
    assert (event["version"], event["routeKey"], event["rawPath"]) == ("2.0", "GET /items/{id}", "/items/42")
    assert event["pathParameters"] == {"id": "42"}
    assert (event["rawQueryString"], event["queryStringParameters"]) == ("x=1&x=2", {"x": "1,2"})
    context = event["requestContext"]
    assert (context["stage"], context["routeKey"], context["http"]["method"]) == ("$default", "GET /items/{id}", "GET")
    assert context["apiId"] == endpoint.split("//")[1].split(".")[0]
    assert "body" not in event


def test_the_greedy_route_takes_what_no_exact_route_matches(cloud, endpoint):
    status, _, body = http_call(cloud, f"{endpoint}/items/42/parts", "POST", b'{"k": 1}')
    assert status == 201
    event = json.loads(body)
    assert (event["routeKey"], event["pathParameters"]) == ("ANY /{proxy+}", {"proxy": "items/42/parts"})
    assert (event["body"], event["isBase64Encoded"], event["requestContext"]["http"]["method"]) == (
        '{"k": 1}', False, "POST")


def test_a_bare_value_is_a_200_json_body_and_failures_are_500s(cloud, endpoint):
    status, headers, body = http_call(cloud, f"{endpoint}/bare")
    assert (status, json.loads(body)) == (200, {"bare": True})
    assert headers["Content-Type"].startswith("application/json")
    for path in ("/error", "/malformed"):
        status, _, body = http_call(cloud, f"{endpoint}{path}")
        assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"}), path


def test_a_1_0_integration_gets_the_rest_shaped_event(cloud, endpoint):
    status, _, body = http_call(cloud, f"{endpoint}/v1/alice?x=1")
    assert status == 201
    event = json.loads(body)
    assert (event["version"], event["httpMethod"], event["pathParameters"]) == ("1.0", "GET", {"name": "alice"})
    assert event["queryStringParameters"] == {"x": "1"}


def test_a_named_stage_is_in_the_path_and_no_route_is_a_404(cloud, function_arn):
    endpoint = _http_api(cloud, function_arn, {"GET /only": "2.0"}, stage="prod")
    status, _, body = http_call(cloud, f"{endpoint}/only")
    assert status == 201
    event = json.loads(body)
    assert (event["rawPath"], event["requestContext"]["stage"]) == ("/prod/only", "prod")
    status, _, body = http_call(cloud, f"{endpoint}/elsewhere")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
