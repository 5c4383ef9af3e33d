"""Lambda function URLs: moto names each one `https://{id}.lambda-url.{region}.on.aws`, which resolves nowhere.

- `FunctionUrlConfig.__init__`: the URL is LocalStack's local form on the emulator's port,
  `http://{id}.lambda-url.{region}.localhost.localstack.cloud:{port}/` (`*.localhost.localstack.cloud` resolves to
  127.0.0.1), served by emulator/front_doors.py;
- `function_for_url`: which function a URL id belongs to, and its AuthType.
"""

from __future__ import annotations

from typing import Any

from moto.awslambda.models import FunctionUrlConfig, lambda_backends

from emulator.aws.registry import Internal, Patch

URL_CONFIG = Internal(FunctionUrlConfig, "__init__", ("self", "function", "config"),
                      source="self.url = f\"https://{random.uuid4().hex}.lambda-url.")
INTERNALS = (URL_CONFIG,)
LOCAL_DOMAIN = "localhost.localstack.cloud"


def patches(port: int) -> list[Patch]:
    return [Patch(URL_CONFIG, lambda original: _local_url(original, port))]


def url_id(url: str) -> str:
    """The id of a function URL: its first host label."""
    return url.split("://", 1)[-1].split(".", 1)[0]


def function_for_url(wanted: str) -> tuple[str, str] | None:
    """(function ARN, AuthType) of the function whose URL has this id; None when none has."""
    for regions in list(lambda_backends.values()):
        for backend in list(regions.values()):
            for function in backend.list_functions():
                config = function.url_config
                if config is not None and url_id(config.url) == wanted:
                    return function.function_arn, str(config.config.get("AuthType") or "NONE")
    return None


def _local_url(original: Any, port: int) -> Any:
    def init(url_config: FunctionUrlConfig, function: Any, config: dict[str, Any]) -> None:
        original(url_config, function=function, config=config)
        url_config.url = f"http://{url_id(url_config.url)}.lambda-url.{function.region}.{LOCAL_DOMAIN}:{port}/"

    return init
