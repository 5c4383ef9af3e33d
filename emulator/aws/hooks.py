"""The emulator's changes to moto, installed and removed as two groups through one PatchRegistry each.

- `MotoHooks`: AWS's behaviour (Lambda runs on our service, S3 events as AWS sends them, SQS's deduplication
  window and locking, AWS's managed policies, our CloudFormation types, accounts from access keys, each function's
  role session and every principal's calls evaluated);
- `StateHooks`: moto's state on disk and its memory flat (object bodies and log events in files, untracked models).

`verify_internals` checks every internal the emulator touches, patched or only read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from emulator.aws import (
    accounts,
    apigatewayv2,
    awslambda,
    awslambdaric,
    botocore_data,
    cheroot,
    cloudwatch,
    core,
    dynamodb,
    events,
    fast_path,
    function_urls,
    iam,
    json_protocol,
    logs,
    s3,
    sns,
    sqs,
    stack_failures,
    stepfunctions,
    streams,
)
from emulator.aws.awslambda import LambdaFunctions
from emulator.aws.lambda_platform import platform_mode
from emulator.aws.registry import Internal, PatchRegistry, verify
from emulator.clock import EmulatorClock
from emulator.dockerfile import ImageSource
from emulator.iam_policy import CALLS_FOLDER, CallLog
from emulator.lambda_runtime import LambdaService
from emulator.state import StateStore


def all_internals() -> list[Internal]:
    """Every internal registered, patched or only read."""
    return [*accounts.INTERNALS, *iam.INTERNALS, *awslambda.INTERNALS, *s3.INTERNALS, *sqs.INTERNALS,
            *logs.INTERNALS, *cloudwatch.INTERNALS, *core.INTERNALS, *cheroot.INTERNALS, *awslambdaric.INTERNALS,
            *sns.INTERNALS, *events.INTERNALS, *function_urls.INTERNALS, *fast_path.INTERNALS,
            *stepfunctions.INTERNALS, *apigatewayv2.INTERNALS, *streams.INTERNALS, *stack_failures.INTERNALS,
            *dynamodb.INTERNALS, *json_protocol.INTERNALS, *botocore_data.INTERNALS]


def verify_internals() -> None:
    """Raises EmulatorError naming the first internal that moved or changed."""
    verify(all_internals())


class MotoHooks:
    """AWS's behaviour in moto, and moto's functions resolved into what our Lambda service runs."""

    def __init__(self, code_cache: Path, default_account: str, default_region: str, cache_dir: Path | None = None,
                 images: dict[str, ImageSource] | None = None, status_file: Path | None = None) -> None:
        self.iam = iam.Authorizer(iam.RoleSessions(), CallLog(code_cache.parent / CALLS_FOLDER))
        self.functions = LambdaFunctions(code_cache, default_account, default_region, cache_dir, images, status_file,
                                         self.iam.sessions)
        self._registry = PatchRegistry()
        self.resolve = self.functions.resolve
        self.async_config = self.functions.async_config
        self.streams = streams.BackendStreams()

    def install(self, service: LambdaService) -> None:
        verify(all_internals())
        platform_mode()  # a bad EMULATOR_PLATFORM_CHECK stops the start, not a CreateFunction
        patches = [*self.functions.patches(service), *s3.notification_patches(service.invoke_async),
                   *s3.naming_patches(), *sqs.patches(), *streams.patches(), *accounts.patches(),
                   *self.iam.patches(), *stack_failures.patches(), *dynamodb.patches()]
        self._registry.install(patches, core.settings())
        sqs.detach_lambda_mappings()
        streams.detach_lambda_mappings()
        core.register_cloudformation_types()
        self.functions.write_status()

    def uninstall(self) -> None:
        self._registry.uninstall()


class IntegrationHooks:
    """Services that call Lambda, calling it as AWS does: SNS subscriptions, EventBridge targets, function URLs,
    HTTP APIs, Step Functions executions, CloudWatch alarms."""

    def __init__(self) -> None:
        self._registry = PatchRegistry()

    def install(self, invoke_async: Callable[[str, bytes], object], deliveries: events.TargetDelivery,
                port: int, endpoint_url: str, clock: EmulatorClock, alarms: cloudwatch.AlarmEvaluator) -> None:
        self._registry.install([*sns.patches(invoke_async), *events.patches(deliveries), *function_urls.patches(port),
                                *apigatewayv2.patches(port), *stepfunctions.patches(endpoint_url, clock),
                                *alarms.patches()],
                               stepfunctions.settings())

    def uninstall(self) -> None:
        self._registry.uninstall()


class StateHooks:
    """moto's state on disk for one state store."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._registry = PatchRegistry()

    def install(self) -> None:
        patches = [*core.state_patches(), *s3.state_patches(self._store.blobs), *logs.state_patches(self._store.logs)]
        self._registry.install(patches)

    def uninstall(self) -> None:
        self._registry.uninstall()
