"""CloudFormation resource types moto 5.2.5 lacks, as moto models (defining one registers it with moto's parser).

- `AWS::Lambda::EventInvokeConfig` (what SAM's `EventInvokeConfig` on a function becomes): the function's
  retries, event age and destinations, through the Lambda backend's PutFunctionEventInvokeConfig.
"""

from __future__ import annotations

from typing import Any

from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.utils import get_backend
from moto.core.common_models import CloudFormationModel

EVENT_INVOKE_CONFIG_SETTINGS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


class EventInvokeConfigResource(CloudFormationModel):
    """One function's asynchronous invocation settings, created, updated and deleted with its stack."""

    def __init__(self, function_name: str, account_id: str, region_name: str) -> None:
        self.function_name = function_name
        self.account_id = account_id
        self.region_name = region_name

    @property
    def physical_resource_id(self) -> str:
        return self.function_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
            **kwargs: Any) -> EventInvokeConfigResource:
        """Applies the settings to the function named by FunctionName (a name or an ARN)."""
        properties = cloudformation_json["Properties"]
        function_name = properties["FunctionName"]
        settings = {key: properties[key] for key in EVENT_INVOKE_CONFIG_SETTINGS if key in properties}
        get_backend(account_id, region_name).put_function_event_invoke_config(function_name, settings)
        return cls(function_name, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
            cls, original_resource: EventInvokeConfigResource, new_resource_name: str,
            cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> EventInvokeConfigResource:
        """A stack update replaces the settings, as a Put does."""
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> None:
        """Removes the settings; a function deleted with the same stack takes them along."""
        try:
            backend = get_backend(account_id, region_name)
            function = backend.get_function(cloudformation_json["Properties"]["FunctionName"])
        except UnknownFunctionException:
            return
        function.event_invoke_config = []
