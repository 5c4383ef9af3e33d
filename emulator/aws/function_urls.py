"""Lambda function URLs: moto names each one `https://{id}.lambda-url.{region}.on.aws`, which resolves nowhere, and
ignores the Qualifier of the URL calls (one URL per function, always $LATEST).

- `FunctionUrlConfig.__init__`: the URL is LocalStack's local form on the emulator's port,
  `http://{id}.lambda-url.{region}.localhost.localstack.cloud:{port}/` (`*.localhost.localstack.cloud` resolves to
  127.0.0.1), served by emulator/front_doors.py;
- Create/Get/Update/DeleteFunctionUrlConfig with `Qualifier`: "You can apply function URLs to any function alias,
  or to the $LATEST unpublished function version"
  (https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html). An alias's URL is its own (its
  FunctionArn names the alias; invoking it runs the alias's version); Qualifier `$LATEST` is the function's
  unqualified URL. A Qualifier that is no alias of the function is ResourceNotFoundException; a second URL for the
  same function or alias is ResourceConflictException, as AWS answers
  (https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunctionUrlConfig.html);
- `function_for_url`: which function (or alias) a URL id belongs to, and its AuthType.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from moto.awslambda.exceptions import GenericResourcNotFound, LambdaClientError
from moto.awslambda.models import FunctionUrlConfig, LambdaFunction, lambda_backends
from moto.awslambda.responses import LambdaResponse

from emulator.aws.registry import Internal, Patch

URL_CONFIG = Internal(FunctionUrlConfig, "__init__", ("self", "function", "config"),
                      source="self.url = f\"https://{random.uuid4().hex}.lambda-url.")
URL_DICT = Internal(FunctionUrlConfig, "to_dict", ("self",), source='"FunctionArn": self.function.function_arn')
CREATE = Internal(LambdaResponse, "create_function_url_config", ("self",),
                  source="self.backend.create_function_url_config(function_name, self.json_body)")
GET = Internal(LambdaResponse, "get_function_url_config", ("self",),
               source="self.backend.get_function_url_config(function_name)")
UPDATE = Internal(LambdaResponse, "update_function_url_config", ("self",),
                  source="self.backend.update_function_url_config(function_name, self.json_body)")
DELETE = Internal(LambdaResponse, "delete_function_url_config", ("self",),
                  source="self.backend.delete_function_url_config(function_name)")
INTERNALS = (URL_CONFIG, URL_DICT, CREATE, GET, UPDATE, DELETE)
LOCAL_DOMAIN = "localhost.localstack.cloud"
LATEST = "$LATEST"
_ALIAS_URLS = "_emulator_alias_url_configs"  # on a moto LambdaFunction: alias name -> FunctionUrlConfig
_ALIAS = "_emulator_alias"  # on a FunctionUrlConfig: the alias it serves


class ResourceConflictException(LambdaClientError):
    code = 409

    def __init__(self, message: str) -> None:
        super().__init__("ResourceConflictException", message)


def patches(port: int) -> list[Patch]:
    return [Patch(URL_CONFIG, lambda original: _local_url(original, port)),
            Patch(URL_DICT, _naming_the_alias),
            Patch(CREATE, _create), Patch(GET, _per_alias(_get)), Patch(UPDATE, _per_alias(_update)),
            Patch(DELETE, _per_alias(_delete))]


def url_id(url: str) -> str:
    """The id of a function URL: its first host label."""
    return url.split("://", 1)[-1].split(".", 1)[0]


def function_for_url(wanted: str) -> tuple[str, str] | None:
    """(function or alias ARN, AuthType) of the URL with this id; None when there is none."""
    for regions in list(lambda_backends.values()):
        for backend in list(regions.values()):
            for function in backend.list_functions():
                configs = [function.url_config, *function.__dict__.get(_ALIAS_URLS, {}).values()]
                for config in configs:
                    if config is not None and url_id(config.url) == wanted:
                        return _arn(config), str(config.config.get("AuthType") or "NONE")
    return None


def _local_url(original: Any, port: int) -> Any:
    def init(url_config: FunctionUrlConfig, function: Any, config: dict[str, Any]) -> None:
        original(url_config, function=function, config=config)
        url_config.url = f"http://{url_id(url_config.url)}.lambda-url.{function.region}.{LOCAL_DOMAIN}:{port}/"

    return init


def _naming_the_alias(original: Callable[[FunctionUrlConfig], dict[str, Any]]) -> Any:
    def to_dict(url_config: FunctionUrlConfig) -> dict[str, Any]:
        return {**original(url_config), "FunctionArn": _arn(url_config)}

    return to_dict


def _arn(url_config: FunctionUrlConfig) -> str:
    alias = url_config.__dict__.get(_ALIAS)
    return url_config.function.function_arn + (f":{alias}" if alias else "")


def _alias_urls(function: LambdaFunction) -> dict[str, FunctionUrlConfig]:
    """The function's alias URLs, kept on it (made on first use: for looking only, read `__dict__` instead)."""
    return function.__dict__.setdefault(_ALIAS_URLS, {})  # type: ignore[no-any-return]


def _qualifier(response: LambdaResponse) -> str | None:
    """The request's alias; None for the function itself (no Qualifier, or $LATEST)."""
    qualifier = response.querystring.get("Qualifier", [None])[0]
    return None if qualifier in (None, LATEST) else qualifier


def _target(response: LambdaResponse) -> tuple[LambdaFunction, str | None]:
    """The function the request names and its alias (None: the function itself); the alias must exist."""
    functions = response.backend._lambdas
    function = functions.get_function_by_name_or_arn_forbid_qualifier(unquote(response.path.split("/")[-2]))
    alias = _qualifier(response)
    if alias is not None:
        functions.get_alias(alias, function.function_name)  # UnknownAliasException: ResourceNotFoundException
    return function, alias


def _create(original: Callable[[LambdaResponse], Any]) -> Any:
    def create(response: LambdaResponse) -> Any:
        function, alias = _target(response)
        existing = function.url_config if alias is None else _alias_urls(function).get(alias)
        if existing is not None:
            raise ResourceConflictException(f"Failed to create function url config for [functionArn = "
                                            f"{_arn(existing)}]. Error message:  FunctionUrlConfig exists for this "
                                            f"Lambda function")
        if alias is None:
            return original(response)
        config = FunctionUrlConfig(function=function, config=response.json_body)
        config.__dict__[_ALIAS] = alias
        _alias_urls(function)[alias] = config
        return 201, {"status": 201}, json.dumps(config.to_dict())

    return create


def _per_alias(act: Callable[[LambdaResponse, LambdaFunction, str], Any]) -> Callable[[Any], Any]:
    """Get/Update/Delete: moto's own for the function's URL, `act` for an alias's."""

    def wrap(original: Callable[[LambdaResponse], Any]) -> Any:
        def call(response: LambdaResponse) -> Any:
            function, alias = _target(response)
            if alias is None:
                return original(response)
            if alias not in _alias_urls(function):
                raise GenericResourcNotFound()
            return act(response, function, alias)

        return call

    return wrap


def _get(response: LambdaResponse, function: LambdaFunction, alias: str) -> Any:
    return 200, {"status": 200}, json.dumps(_alias_urls(function)[alias].to_dict())


def _update(response: LambdaResponse, function: LambdaFunction, alias: str) -> Any:
    config = _alias_urls(function)[alias]
    config.update(response.json_body)
    return json.dumps(config.to_dict())


def _delete(response: LambdaResponse, function: LambdaFunction, alias: str) -> Any:
    del _alias_urls(function)[alias]
    return 204, {"status": 204}, "{}"
