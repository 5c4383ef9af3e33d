"""API Gateway HTTP APIs: moto names each API's endpoint `https://{id}.execute-api.{region}.amazonaws.com`, which is
AWS's, not the emulator's.

- `Api.__init__`: the endpoint is LocalStack's local form on the emulator's port,
  `http://{id}.execute-api.localhost.localstack.cloud:{port}` (`*.localhost.localstack.cloud` resolves to 127.0.0.1),
  served by emulator/front_doors.py.
"""

from __future__ import annotations

from typing import Any

from moto.apigatewayv2.models import Api

from emulator.aws.function_urls import LOCAL_DOMAIN
from emulator.aws.registry import Internal, Patch

API_INIT = Internal(Api, "__init__", ("self", "region", "name"),
                   source='self.api_endpoint = f"https://{self.api_id}.execute-api.{region}.amazonaws.com"')
INTERNALS = (API_INIT,)


def patches(port: int) -> list[Patch]:
    return [Patch(API_INIT, lambda original: _local_endpoint(original, port))]


def _local_endpoint(original: Any, port: int) -> Any:
    def init(api: Api, *args: Any, **kwargs: Any) -> None:
        original(api, *args, **kwargs)
        api.api_endpoint = f"http://{api.api_id}.execute-api.{LOCAL_DOMAIN}:{port}"

    return init
