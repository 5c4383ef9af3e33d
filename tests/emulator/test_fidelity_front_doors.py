"""Fidelity, issue 26: HTTP front doors: an API Gateway REST API (`{proxy+}`, AWS_PROXY to a Lambda, stage prod)
and a Lambda function URL, called over HTTP: the proxy event in, the function's statusCode/headers/body out.
On the emulator they are reached as LocalStack serves them (/restapis/{id}/{stage}/_user_request_/..., the
execute-api and lambda-url hosts of localhost.localstack.cloud); on AWS at their real URLs. Plain boto3 and
urllib: reruns against AWS."""

import base64
import json
import os
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.emulator.fidelity import ENV_ENDPOINT, REGION, emulator_only, http_call, unique

pytestmark = pytest.mark.integration

HANDLER = """
import base64, json

def lambda_handler(event, context):
    path = event.get("path") or event.get("rawPath")
    if path.endswith("/broken"):
        return "not a proxy response"
    if path.endswith("/binary"):
        return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    if path.endswith("/plain"):
        return {"plain": True}
    return {"statusCode": 201, "headers": {"X-Echo": "yes", "Content-Type": "application/json"},
            "body": json.dumps(event)}
"""


@pytest.fixture(scope="module")
def rest_api(cloud):
    """A REST API whose {proxy+} resource proxies ANY method to the handler, deployed to stage prod: its id."""
    function_arn = cloud.function(HANDLER)
    api_id = cloud.proxy_rest_api(function_arn, "{proxy+}", "ANY")
    cloud.client("lambda").add_permission(FunctionName=function_arn, StatementId="apigateway",
                                          Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com")
    return api_id


def _api_url(cloud, api_id: str, path: str) -> str:
    if os.environ.get(ENV_ENDPOINT):
        return f"https://{api_id}.execute-api.{REGION}.amazonaws.com/prod{path}"
    return f"{cloud.endpoint_url}/restapis/{api_id}/prod/_user_request_{path}"


def test_the_proxy_event_reaches_the_function_and_its_response_is_the_answer(cloud, rest_api):
    status, headers, body = http_call(cloud, _api_url(cloud, rest_api, "/hello/world?x=1&x=2"), "POST", b"hi there")
    assert status == 201
    assert headers["X-Echo"] == "yes"
    event = json.loads(body)
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/{proxy+}", "/hello/world", "POST")
    assert event["pathParameters"] == {"proxy": "hello/world"}
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert (event["body"], event["isBase64Encoded"]) == ("hi there", False)
    context = event["requestContext"]
    assert (context["apiId"], context["stage"], context["resourcePath"]) == (rest_api, "prod", "/{proxy+}")
    assert context["path"] == "/prod/hello/world"
    assert context["httpMethod"] == "POST" and context["requestId"]


def test_a_base64_encoded_body_is_answered_as_its_bytes(cloud, rest_api):
    status, headers, body = http_call(cloud, _api_url(cloud, rest_api, "/files/binary"))
    assert status == 200
    assert body == bytes(range(256))
    assert headers["Content-Type"] == "application/octet-stream"


def test_a_response_that_is_not_a_proxy_response_is_a_502(cloud, rest_api):
    status, _, body = http_call(cloud, _api_url(cloud, rest_api, "/broken"))
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})


@emulator_only
def test_the_execute_api_host_form_reaches_the_same_api(cloud, rest_api):
    port = urlsplit(cloud.endpoint_url).port
    status, _, body = http_call(cloud, f"http://{rest_api}.execute-api.localhost.localstack.cloud:{port}/prod/a/b")
    assert status == 201
    assert json.loads(body)["pathParameters"] == {"proxy": "a/b"}


@emulator_only
def test_an_unknown_api_is_a_404_and_s3_paths_stay_s3s(cloud):
    status, _, body = http_call(cloud, f"{cloud.endpoint_url}/restapis/nosuchapi/prod/_user_request_/x")
    assert status == 404 and "nosuchapi" in json.loads(body)["message"]
    port = urlsplit(cloud.endpoint_url).port
    status, _, body = http_call(cloud, f"http://nosuchurl.lambda-url.{REGION}.localhost.localstack.cloud:{port}/")
    assert status == 404 and "nosuchurl" in json.loads(body)["message"]
    status, _, body = http_call(cloud, f"{cloud.endpoint_url}/{unique('no-such-bucket')}/key")
    assert status == 404 and b"NoSuchBucket" in body


def test_a_function_url_serves_the_function_over_http(cloud):
    function_arn = cloud.function(HANDLER)
    lam = cloud.client("lambda")
    url = lam.create_function_url_config(FunctionName=function_arn, AuthType="NONE")["FunctionUrl"]
    lam.add_permission(FunctionName=function_arn, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    status, headers, body = http_call(cloud, url.rstrip("/") + "/echo/me?a=1&a=2", "PUT", b'{"k": 1}')
    assert status == 201 and headers["X-Echo"] == "yes"
    event = json.loads(body)
    assert (event["version"], event["routeKey"], event["rawPath"]) == ("2.0", "$default", "/echo/me")
    assert event["rawQueryString"] == "a=1&a=2"
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["requestContext"]["http"]["method"] == "PUT"
    assert event["requestContext"]["apiId"] == urlsplit(url).hostname.split(".")[0]
    assert (event["body"], event["isBase64Encoded"]) in (('{"k": 1}', False),
                                                           (base64.b64encode(b'{"k": 1}').decode(), True))
    status, headers, body = http_call(cloud, url.rstrip("/") + "/plain")
    assert (status, json.loads(body)) == (200, {"plain": True})
    assert headers["Content-Type"].startswith("application/json")


VERSIONED = """
import json, os

def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps([context.function_version, os.environ["RELEASE"]])}
"""


def test_a_function_url_on_an_alias_runs_the_alias_version(cloud):
    """A URL made with Qualifier=live serves the alias, the function's own URL $LATEST
    (https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html); a second URL for the same target is a
    ResourceConflictException, a Qualifier naming no alias a ResourceNotFoundException
    (https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunctionUrlConfig.html)."""
    lam = cloud.client("lambda")
    function_arn = cloud.function(VERSIONED, env={"RELEASE": "first"})
    name = function_arn.split(":")[-1]
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.get_waiter("published_version_active").wait(FunctionName=name, Qualifier=version)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"RELEASE": "second"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    urls = {}
    for qualifier in ("live", None):
        where = {"Qualifier": qualifier} if qualifier else {}
        made = lam.create_function_url_config(FunctionName=name, AuthType="NONE", **where)
        assert made["FunctionArn"] == function_arn + (f":{qualifier}" if qualifier else "")
        lam.add_permission(FunctionName=name, StatementId=f"url-{qualifier}", Action="lambda:InvokeFunctionUrl",
                           Principal="*", FunctionUrlAuthType="NONE", **where)
        urls[qualifier] = made["FunctionUrl"]
    assert urls["live"] != urls[None]
    assert lam.get_function_url_config(FunctionName=name, Qualifier="live")["FunctionUrl"] == urls["live"]
    for qualifier, expected in (("live", [version, "first"]), (None, ["$LATEST", "second"])):
        status, _, body = http_call(cloud, urls[qualifier])
        assert (status, json.loads(body)) == (200, expected)
    with pytest.raises(ClientError) as conflict:
        lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")
    assert conflict.value.response["Error"]["Code"] == "ResourceConflictException"
    with pytest.raises(ClientError) as missing:
        lam.create_function_url_config(FunctionName=name, Qualifier="nosuchalias", AuthType="NONE")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    lam.delete_function_url_config(FunctionName=name, Qualifier="live")
    with pytest.raises(ClientError) as deleted:
        lam.get_function_url_config(FunctionName=name, Qualifier="live")
    assert deleted.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert lam.get_function_url_config(FunctionName=name)["FunctionUrl"] == urls[None]
    lam.delete_function_url_config(FunctionName=name)
