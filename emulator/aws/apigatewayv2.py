"""API Gateway for the front doors (emulator/front_doors.py).

- `Api.__init__`: moto names each HTTP API's endpoint `https://{id}.execute-api.{region}.amazonaws.com`, which is
  AWS's, not the emulator's; it is LocalStack's local form on the emulator's port,
  `http://{id}.execute-api.localhost.localstack.cloud:{port}` (`*.localhost.localstack.cloud` resolves to 127.0.0.1).
- `api_owner`: which account and region hold an API id (REST or HTTP), so a request to its front door is answered
  from that account's API Gateway.
"""

from __future__ import annotations

from typing import Any

from moto.apigateway.models import APIGatewayBackend, apigateway_backends
from moto.apigatewayv2.models import Api, ApiGatewayV2Backend, apigatewayv2_backends

from emulator.aws.function_urls import LOCAL_DOMAIN
from emulator.aws.registry import Internal, Patch

API_INIT = Internal(Api, "__init__", ("self", "region", "name"),
                   source='self.api_endpoint = f"https://{self.api_id}.execute-api.{region}.amazonaws.com"')
REST_APIS = Internal(APIGatewayBackend, "__init__", ("self", "region_name", "account_id"), source="self.apis")
HTTP_APIS = Internal(ApiGatewayV2Backend, "__init__", ("self", "region_name", "account_id"), source="self.apis")
INTERNALS = (API_INIT, REST_APIS, HTTP_APIS)


def patches(port: int) -> list[Patch]:
    return [Patch(API_INIT, lambda original: _local_endpoint(original, port))]


def _local_endpoint(original: Any, port: int) -> Any:
    def init(api: Api, *args: Any, **kwargs: Any) -> None:
        original(api, *args, **kwargs)
        api.api_endpoint = f"http://{api.api_id}.execute-api.{LOCAL_DOMAIN}:{port}"

    return init


def api_owner(api_id: str) -> tuple[str, str] | None:
    """(account, region) of the REST or HTTP API with this id, None when no account has it."""
    for backend_dict in (apigateway_backends, apigatewayv2_backends):
        for account, regions in list(backend_dict.items()):
            for region, backend in list(regions.items()):
                if api_id in backend.apis:
                    return account, region
    return None
