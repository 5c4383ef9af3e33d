"""Fidelity, issue 26 item 1: versions and aliases run their own code; ExecutedVersion and context say which.
Plain boto3: reruns against AWS."""

import json

import pytest

from tests.emulator.functions import zip_handler

pytestmark = pytest.mark.integration

VERSIONED = ("GENERATION = {generation}\n\ndef lambda_handler(event, context):\n"
             "    return {{'generation': GENERATION, 'version': context.function_version}}\n")


def _invoke(lam, function: str, qualifier: str | None = None) -> tuple[dict, str]:
    response = lam.invoke(FunctionName=function, Payload=b"{}", **({"Qualifier": qualifier} if qualifier else {}))
    return json.loads(response["Payload"].read()), response["ExecutedVersion"]


def _publish(lam, function: str, generation: int) -> str:
    lam.update_function_code(FunctionName=function, ZipFile=zip_handler(VERSIONED.format(generation=generation)))
    lam.get_waiter("function_updated_v2").wait(FunctionName=function)
    return lam.publish_version(FunctionName=function)["Version"]


def test_versions_and_an_alias_run_their_own_code(cloud):
    lam = cloud.client("lambda")
    function = cloud.function(VERSIONED.format(generation=0))
    first = _publish(lam, function, 1)
    second = _publish(lam, function, 2)
    lam.update_function_code(FunctionName=function, ZipFile=zip_handler(VERSIONED.format(generation=3)))
    lam.get_waiter("function_updated_v2").wait(FunctionName=function)
    lam.create_alias(FunctionName=function, Name="live", FunctionVersion=first)

    assert _invoke(lam, function) == ({"generation": 3, "version": "$LATEST"}, "$LATEST")
    assert _invoke(lam, function, first) == ({"generation": 1, "version": first}, first)
    assert _invoke(lam, f"{function}:{second}") == ({"generation": 2, "version": second}, second)
    assert _invoke(lam, function, "live") == ({"generation": 1, "version": first}, first)
    lam.update_alias(FunctionName=function, Name="live", FunctionVersion=second)
    assert _invoke(lam, function, "live") == ({"generation": 2, "version": second}, second)


def test_an_alias_routes_by_its_weights(cloud):
    lam = cloud.client("lambda")
    function = cloud.function(VERSIONED.format(generation=0))
    first, second = _publish(lam, function, 1), _publish(lam, function, 2)
    lam.create_alias(FunctionName=function, Name="canary", FunctionVersion=first,
                     RoutingConfig={"AdditionalVersionWeights": {second: 0.5}})
    executed = {_invoke(lam, function, "canary")[1] for _ in range(24)}
    assert executed == {first, second}  # each has a 2**-24 chance of never being drawn
