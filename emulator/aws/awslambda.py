"""Lambda: moto 5.2.5 (pinned) stores functions but cannot run them without Docker; our service runs them.

- `LambdaFunction.invoke`: the Invoke API runs the function on our service; any failure inside it is AWS's
  `ServiceException` (JSON boto3 parses), never werkzeug's HTML 500 page;
- `LambdaFunction._set_function_code`: code Lambda could not run is refused at CreateFunction/UpdateFunctionCode
  with AWS's `InvalidParameterValueException` (a zip that is not a zip; an ImageUri mapped to no Dockerfile); a
  mapped image is "built" there (emulator/dockerfile.py: its task root staged, its environment recipe kept);
- `LambdaFunction.__init__`, `.update_configuration`: a `Runtime` the emulator cannot run (not Python, or no
  interpreter for it here) is refused with `InvalidParameterValueException`; moto drops `DeadLetterConfig`, we
  keep it on the function object for our async invoker;
- `LambdaFunction.create_from_cloudformation_json`: keeps the DeadLetterConfig, the `Layers` and SAM's
  `Metadata.Dockerfile` (moto dropped the layers: a template's function ran without them);
- `LayerVersion.create_from_cloudformation_json`: named by its `LayerName`, and `Ref` gives its version ARN as on
  AWS (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-lambda-layerversion.html);
  moto used the logical name and Ref gave its model object; `Permission`'s: a physical id (none in
  DescribeStackResources before);
- `LambdaBackend.put_function_event_invoke_config`: moto appends each put and reads the first; AWS replaces;
- `LambdaBackend.update_function_event_invoke_config`: moto replaces; AWS changes only the settings named.

`LambdaFunctions` resolves moto's stored functions into the FunctionSpecs our service runs, each with the
credentials of its role's session (emulator/aws/iam.py), which override the emulator's dummy keys.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import random
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import (
    LambdaBackend,
    LambdaFunction,
    LambdaStorage,
    LayerVersion,
    Permission,
    lambda_backends,
)
from moto.awslambda.responses import LambdaResponse
from moto.awslambda.utils import get_backend
from moto.core.exceptions import JsonRESTError
from moto.iam.exceptions import NotFoundException as IAMNotFoundException
from moto.iam.models import iam_backends
from moto.logs.models import LogsBackend, logs_backends
from moto.s3.exceptions import MissingBucket, MissingKey
from moto.s3.models import s3_backends

from emulator.aws import lambda_limits as limits
from emulator.aws import sqs, streams
from emulator.aws.iam import RoleSessions
from emulator.aws.lambda_platform import PlatformFinding, check_installed, check_zip, platform_mode
from emulator.aws.registry import Internal, Patch
from emulator.dockerfile import (
    ImageRecipe,
    ImageSource,
    find_image,
    metadata_image,
    read_image,
    run_in_place,
    stage_task_root,
)
from emulator.errors import EmulatorError
from emulator.lambda_runtime import (
    AWS_MAX_RETRY_ATTEMPTS,
    AsyncConfig,
    FunctionSpec,
    LambdaService,
    ThrottledError,
    check_runtime,
    extract_zip,
    layer_folder,
    merged_opt,
    qualified_name_of,
)
from emulator.lambda_runtime import interpreter as python_interpreter

logger = logging.getLogger(__name__)

_DLQ_ATTRIBUTE = "_emulator_dead_letter_config"
_IMAGE_ATTRIBUTE = "_emulator_image"
_DOCKERFILE_ATTRIBUTE = "_emulator_template_dockerfile"
_CODE_ATTRIBUTES = ("code", "code_bytes", "code_size", "code_sha_256", "code_digest", _IMAGE_ATTRIBUTE,
                    _DOCKERFILE_ATTRIBUTE)
CREATING, UPDATING = "creating", "updating"
_request = threading.local()  # per API thread: when the Invoke being served was taken
RECEIVED_AT = "emulator.received_at"  # WSGI environ key: when the API server read the request's headers
NOT_A_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
IMAGE_UNMAPPED = ("The local emulator runs container image functions from their Dockerfile, and ImageUri {uri} maps "
                  "to none. Map it when starting the emulator: EMULATOR_IMAGES='{uri}=path/to/Dockerfile[:context]' "
                  "(comma-separated entries) or `python -m emulator serve --image {uri}=path/to/Dockerfile[:context]`;"
                  " or deploy the function as a .zip archive (PackageType=Zip).")

INVOKE = Internal(LambdaFunction, "invoke", ("self", "body", "request_headers", "response_headers"))
FUNCTION_INIT = Internal(LambdaFunction, "__init__", ("self", "account_id", "spec", "region", "version"),
                         source="self.code_bytes")
UPDATE_CONFIGURATION = Internal(LambdaFunction, "update_configuration", ("self", "config_updates"))
BACKEND_INVOKE = Internal(LambdaBackend, "invoke", ("self", "function_name", "qualifier", "body", "headers",
                                                    "response_headers"))
SET_CODE = Internal(LambdaFunction, "_set_function_code", ("self", "updated_spec"), source="self.code_bytes")
FUNCTION_FROM_TEMPLATE = Internal(LambdaFunction, "create_from_cloudformation_json",
                                  ("cls", "resource_name", "cloudformation_json", "account_id"))
PUT_EVENT_INVOKE_CONFIG = Internal(LambdaBackend, "put_function_event_invoke_config",
                                   ("self", "function_name", "config"))
UPDATE_EVENT_INVOKE_CONFIG = Internal(LambdaBackend, "update_function_event_invoke_config",
                                      ("self", "function_name", "config"))
STORED_FUNCTIONS = Internal(LambdaStorage, "__init__", ("self",), source="self._functions")
STORED_MAPPINGS = Internal(LambdaBackend, "__init__", ("self", "region_name", "account_id"),
                           source="self._event_source_mappings")
CREATE_MAPPING = Internal(LambdaBackend, "create_event_source_mapping", ("self", "spec"),
                          source="queue.lambda_event_source_mappings[esm.function_arn] = esm")
INVOKE_REQUEST = Internal(LambdaResponse, "invoke", ("self",), source='qualifier = self._get_param("qualifier")')
CONFIGURATION = Internal(LambdaFunction, "get_configuration", ("self", "on_create"))
CREATE_FUNCTION = Internal(LambdaBackend, "create_function", ("self", "spec"))
UPDATE_CODE = Internal(LambdaBackend, "update_function_code", ("self", "function_name", "qualifier", "body"))
UPDATE_FUNCTION_CONFIGURATION = Internal(LambdaBackend, "update_function_configuration",
                                         ("self", "function_name", "qualifier", "body"))
PUBLISH_LAYER = Internal(LambdaBackend, "publish_layer_version", ("self", "spec"))
ADD_PERMISSION = Internal(LambdaBackend, "add_permission", ("self", "function_name", "qualifier", "raw"))
LAYER_FROM_TEMPLATE = Internal(LayerVersion, "create_from_cloudformation_json",
                               ("cls", "resource_name", "cloudformation_json", "account_id"))
PERMISSION_FROM_TEMPLATE = Internal(Permission, "create_from_cloudformation_json",
                                    ("cls", "resource_name", "cloudformation_json", "account_id"))
LAYERS_DATA = Internal(LambdaFunction, "_get_layers_data", ("self", "layers_versions_arns"))
VISIBILITY_TOO_SHORT = "Queue visibility timeout: {queue} seconds is less than Function timeout: {function} seconds"


CREATE_LOG_GROUP = Internal(LogsBackend, "create_log_group", ("self", "log_group_name", "tags"))
INTERNALS = (INVOKE, FUNCTION_INIT, UPDATE_CONFIGURATION, SET_CODE, FUNCTION_FROM_TEMPLATE, PUT_EVENT_INVOKE_CONFIG,
             UPDATE_EVENT_INVOKE_CONFIG, STORED_FUNCTIONS, STORED_MAPPINGS, CREATE_MAPPING, CREATE_FUNCTION,
             UPDATE_CODE, UPDATE_FUNCTION_CONFIGURATION, PUBLISH_LAYER, CONFIGURATION, BACKEND_INVOKE, INVOKE_REQUEST,
             CREATE_LOG_GROUP, LAYER_FROM_TEMPLATE, PERMISSION_FROM_TEMPLATE, LAYERS_DATA, ADD_PERMISSION)
_PLATFORM_LOCK = threading.Lock()
_PLATFORM_LINES: dict[tuple[str, str, str], list[str]] = {}  # findings for a function whose log group is not made


def function_count() -> int:
    """Functions stored in every account and region."""
    return sum(len(backend._lambdas._functions) for regions in list(lambda_backends.values())
               for backend in list(regions.values()))


def event_source_mappings() -> list[dict[str, Any]]:
    """Every account's and region's event source mappings, as ListEventSourceMappings describes them: what the
    Lambda service polls (reading moto's backends, not asking each account's API every second)."""
    return [mapping.get_configuration() for regions in list(lambda_backends.values())
            for backend in list(regions.values()) for mapping in list(backend._event_source_mappings.values())]


class TooManyRequestsException(JsonRESTError):
    """AWS's throttling error for a synchronous Invoke, with its Reason and Type fields."""

    code = 429

    def __init__(self, message: str, reason: str) -> None:
        super().__init__("TooManyRequestsException", message)
        self.description = json.dumps({"__type": self.error_type, "message": message, "Reason": reason,
                                       "Type": "User"})


class InvalidParameterValueException(JsonRESTError):
    """AWS's error for a request Lambda cannot accept as given (e.g. code it cannot unzip)."""

    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterValueException", message)


class ServiceException(JsonRESTError):
    """AWS's error for a failure inside the Lambda service itself."""

    code = 500

    def __init__(self, message: str) -> None:
        super().__init__("ServiceException", message)


class LambdaFunctions:
    """moto's stored functions resolved into FunctionSpecs (code unpacked, layers merged, images built), and the
    patches that route moto's Lambda API to our service."""

    def __init__(self, code_cache: Path, default_account: str, default_region: str, cache_dir: Path | None = None,
                 images: dict[str, ImageSource] | None = None, status_file: Path | None = None,
                 sessions: RoleSessions | None = None) -> None:
        self._code_cache = code_cache
        self._sessions = sessions or RoleSessions()
        self._cache_dir = cache_dir or code_cache.parent / "cache"
        self._images = images or {}
        self._status_file = status_file
        self._built: dict[str, BuiltImage] = {}
        self._account = default_account
        self._region = default_region
        self._service: LambdaService | None = None
        self._pending: dict[str, str] = {}  # function ARN -> CREATING or UPDATING while its environment is made
        self._pending_lock = threading.Lock()
        self._later: list[str] | None = None  # while preparing_later(): the functions created or updated, not prepared

    def patches(self, service: LambdaService) -> list[Patch]:
        self._service = service
        return [
            Patch(INVOKE, lambda _: self._make_invoke()),
            Patch(FUNCTION_INIT, lambda original: _checking_runtime(_keeping_dlq(original, spec_arg=True),
                                                                    spec_arg=True)),
            Patch(UPDATE_CONFIGURATION, lambda original: _checking_runtime(_keeping_dlq(original))),
            Patch(FUNCTION_FROM_TEMPLATE,
                  lambda original: _function_from_template(original, lambda fn: self._prepare_soon(fn, CREATING))),
            Patch(SET_CODE, lambda original: _validating_code(original, self._build_image)),
            Patch(PUT_EVENT_INVOKE_CONFIG, _replacing_event_invoke_config),
            Patch(UPDATE_EVENT_INVOKE_CONFIG, lambda _: _merging_event_invoke_config),
            Patch(CREATE_MAPPING, _polled_event_source_mapping),
            Patch(CREATE_FUNCTION, lambda original: self._preparing(_limited_create(original), CREATING)),
            Patch(UPDATE_CODE, lambda original: self._preparing(_limited_code_update(original), UPDATING)),
            Patch(UPDATE_FUNCTION_CONFIGURATION, _limited_configuration_update),
            Patch(PUBLISH_LAYER, _limited_layer),
            Patch(CONFIGURATION, lambda original: self._with_state(_configuration_with_dead_letter_config(original))),
            Patch(BACKEND_INVOKE, _routing_by_alias_weights),
            Patch(INVOKE_REQUEST, _reading_the_qualifier),
            Patch(CREATE_LOG_GROUP, _platform_lines_on_creation),
            Patch(LAYER_FROM_TEMPLATE, _layer_from_template),
            Patch(PERMISSION_FROM_TEMPLATE, _permission_from_template),
            Patch(ADD_PERMISSION, _unique_statement_ids),
        ]

    @contextmanager
    def preparing_later(self) -> Iterator[list[str]]:
        """The functions created or updated inside are not prepared (INIT) at once: their names are given to the
        caller, which prepares them (the stack deploy: its functions then run from their local folders, so INIT of
        the deployed zip would be thrown away, and fails where the zip lacks the local environment's packages)."""
        self._later = later = []
        try:
            yield later
        finally:
            self._later = None

    def _preparing(self, change: Callable[..., Any], kind: str) -> Callable[..., Any]:
        """CreateFunction / UpdateFunctionCode as on AWS: the call returns while the function's environment is made
        (INIT of its snapshot) in the background; until then its State is Pending (LastUpdateStatus InProgress), so
        the first event does not pay for it (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html)."""

        def changed(backend: LambdaBackend, *args: Any, **kwargs: Any) -> Any:
            result = change(backend, *args, **kwargs)
            named = kwargs.get("function_name") or (args[0] if args and isinstance(args[0], str) else None)
            fn = backend.get_function(named or (kwargs.get("spec") or args[0])["FunctionName"])
            if not _from_template.creating:  # a template's function: prepared once its Dockerfile is known
                self._prepare_soon(fn, kind)
            return result

        return changed

    def _prepare_soon(self, fn: LambdaFunction, kind: str) -> None:
        """INIT of the function's environment in the background, its State Pending meanwhile (or, inside
        preparing_later, left to the caller)."""
        if self._later is not None:
            self._later.append(fn.function_name)
            return
        with self._pending_lock:
            self._pending[fn.function_arn] = kind
        threading.Thread(target=self._prepare, args=(fn.function_arn,), name=f"prepare-{fn.function_name}",
                         daemon=True).start()

    def _prepare(self, function_arn: str) -> None:
        assert self._service is not None
        try:
            self._service.prepare([function_arn])
            self._check_installed_packages(function_arn)
        except (EmulatorError, OSError):  # its first event reports what went wrong, as Init errors are on AWS
            logger.exception("%s could not be prepared ahead of its first event", function_arn)
        finally:
            with self._pending_lock:
                self._pending.pop(function_arn, None)

    def _check_installed_packages(self, function_arn: str) -> None:
        """What an image's `RUN pip install` put in its environment, checked against the OS of its AWS base image:
        pip there would not install a wheel that needs a newer glibc (only AWS's `public.ecr.aws/lambda/python`
        bases are known; another base brings its own OS). Reported as the zip's findings are, never refused:
        the function exists by now, as it would once its image was pushed."""
        assert self._service is not None
        fn = self._function(function_arn)
        image: BuiltImage | None = getattr(fn, _IMAGE_ATTRIBUTE, None)
        if image is None or not image.recipe.lambda_base or platform_mode() == "off":
            return
        folder = self._service.environment_folder(self._spec(fn))
        if folder is None:
            return
        runtime = f"python{image.recipe.python}"
        site_packages = folder / "lib" / runtime / "site-packages"
        findings = check_installed(site_packages, runtime, (fn.architectures or ["x86_64"])[0],
                                   origin="installed by the image's pip: ")
        _report_platform(get_backend(fn.account_id, fn.region), fn.function_name, findings)

    def _with_state(self, configuration: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        def get_configuration(fn: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
            config = configuration(fn, on_create)
            with self._pending_lock:
                kind = self._pending.get(fn.function_arn)
            if kind == CREATING:
                config.update(State="Pending", StateReason="The function is being created.",
                              StateReasonCode="Creating")
            elif kind == UPDATING:
                config.update(LastUpdateStatus="InProgress", LastUpdateStatusReason="The function is being updated.",
                              LastUpdateStatusReasonCode="Updating")
            return config

        return get_configuration

    def resolve(self, function: str) -> FunctionSpec:
        """A function name or ARN -> its current spec, with its code unpacked to a local folder."""
        return self._spec(self._function(function))

    def async_config(self, function: str) -> AsyncConfig:
        """A function name or ARN -> its PutFunctionEventInvokeConfig settings and DLQ (AWS's defaults if unset)."""
        fn = self._function(function)
        settings = fn.event_invoke_config[0].config if fn.event_invoke_config else {}
        destinations = settings.get("DestinationConfig") or {}
        max_age = settings.get("MaximumEventAgeInSeconds")
        return AsyncConfig(
            function_arn=fn.function_arn,
            max_retries=int(settings.get("MaximumRetryAttempts", AWS_MAX_RETRY_ATTEMPTS)),
            max_event_age_seconds=None if max_age is None else float(max_age),
            on_success=destinations.get("OnSuccess", {}).get("Destination") or None,
            on_failure=destinations.get("OnFailure", {}).get("Destination") or None,
            dead_letter_arn=_dead_letter_arn(fn),
        )

    def _function(self, function: str) -> LambdaFunction:
        account, region, name = self._split(function)
        try:
            return get_backend(account, region).get_function(name)  # `name:qualifier` resolves the qualifier
        except JsonRESTError as exc:
            raise EmulatorError(f"function {function} does not exist") from exc

    def _make_invoke(self) -> Any:
        hooks = self

        def invoke(fn: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
            return hooks._invoke(fn, body, request_headers, response_headers)

        return invoke

    def _invoke(self, fn: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        assert self._service is not None
        headers = {str(k).lower(): v for k, v in dict(request_headers or {}).items()}
        payload = body.encode() if isinstance(body, str) else (body or b"")
        invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
        limits.check_invoke_payload(invocation_type, len(payload))
        limits.check_invoke_json(payload)
        if invocation_type == "DryRun":
            return b""
        try:
            if invocation_type == "Event":
                self._service.invoke_async(fn.function_arn, payload or b"{}")
                return b""
            result = self._service.invoke(fn.function_arn, payload or b"{}", getattr(_request, "accepted_at", None))
        except ThrottledError as exc:
            raise TooManyRequestsException(str(exc), exc.reason) from exc
        except Exception as exc:  # anything else is the service's own failure, answered as AWS answers one
            logger.exception("invoking %s failed inside the emulator", fn.function_name)
            raise ServiceException(f"The emulator could not run {fn.function_name}: {exc}") from exc
        response_headers["x-amz-executed-version"] = str(fn.version)
        response_headers["x-amz-log-result"] = base64.b64encode("\n".join(result.log_lines)[-4096:].encode()).decode()
        error = result.error or limits.oversized_response(len(result.payload or b""))
        if error is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(error).encode()
        return result.payload or b"null"

    def _split(self, function: str) -> tuple[str, str, str]:
        """(account, region, `name[:qualifier]`) of a function name or ARN."""
        if function.startswith("arn:"):
            parts = function.split(":")
            return parts[4], parts[3], ":".join(parts[6:8])
        return self._account, self._region, function

    def _spec(self, fn: LambdaFunction) -> FunctionSpec:
        image: BuiltImage | None = getattr(fn, _IMAGE_ATTRIBUTE, None)
        environment = {k: str(v) for k, v in (fn.environment_vars or {}).items()}
        if image is None:
            handler, runtime, code_dir, recipe = fn.handler or "", fn.run_time or "python3.11", self._unpack(fn), None
        else:
            handler, runtime = image.recipe.handler(fn.image_config.cmd), f"python{image.recipe.python}"
            code_dir, recipe = image.task_root, image.recipe.environment()
            environment = {**dict(image.recipe.env), **environment}
        environment.update(self._sessions.credentials(fn.role, fn.function_name, fn.account_id, fn.region))
        spec = FunctionSpec(
            name=fn.function_name,
            arn=fn.function_arn,
            handler=handler,
            code_dir=code_dir,
            timeout_seconds=float(fn.timeout),
            memory_mb=int(fn.memory_size),
            environment=environment,
            reserved_concurrency=None if fn.reserved_concurrency is None else int(fn.reserved_concurrency),
            dead_letter_arn=_dead_letter_arn(fn),
            code_sha256=fn.code_sha_256,
            runtime=runtime,
            recipe=recipe,
            opt_dir=self._layers(fn),
            version=str(fn.version),
            ephemeral_storage_mb=int(fn.ephemeral_storage),
        )
        dockerfile: ImageSource | None = getattr(fn, _DOCKERFILE_ATTRIBUTE, None)
        return spec if dockerfile is None or image is not None else run_in_place(spec, dockerfile)

    def _layers(self, fn: LambdaFunction) -> Path | None:
        """The function's layers extracted (once per content) and merged in order: what AWS puts in /opt."""
        if not fn.layers:
            return None
        backend = get_backend(fn.account_id, fn.region)
        folders = []
        for layer in fn.layers:
            version = backend.layers_versions_by_arn(layer["Arn"])
            if version is None or not version.code_bytes:
                raise EmulatorError(f"layer {layer['Arn']} of {fn.function_name} has no content")
            folders.append(layer_folder(self._cache_dir, version.code_sha_256, version.code_bytes))
        return merged_opt(self._cache_dir, tuple(folders))

    def _build_image(self, uri: str) -> BuiltImage:
        """An ImageUri's Dockerfile read and its task root staged, as `docker build` would before a deploy."""
        source = find_image(self._images, uri)
        if source is None:
            raise InvalidParameterValueException(IMAGE_UNMAPPED.format(uri=uri))
        try:
            recipe = read_image(source)
            python_interpreter(recipe.python)
            task_root = stage_task_root(recipe, self._cache_dir)
        except EmulatorError as exc:
            raise InvalidParameterValueException(f"ImageUri {uri} ({source.dockerfile}): {exc}") from exc
        for warning in recipe.warnings:
            logger.warning("image %s: %s", uri, warning)
        for step in recipe.skipped:
            logger.info("image %s: %s: skipped (no effect on the function here)", uri, step)
        self._built[uri] = BuiltImage(uri, source, recipe, task_root)
        self.write_status()
        return self._built[uri]

    def write_status(self) -> None:
        """What `python -m emulator status` shows: how environments are isolated, and what images asked that the
        emulator did not do."""
        if self._status_file is None or self._service is None:
            return
        images = [{"image_uri": b.uri, "dockerfile": str(b.source.dockerfile), "not_honoured": list(b.recipe.warnings),
                   "skipped": list(b.recipe.skipped)} for b in self._built.values()]
        status = {**self._service.isolation(), "images": images}
        self._status_file.parent.mkdir(parents=True, exist_ok=True)
        staging = self._status_file.with_suffix(".tmp")
        staging.write_text(json.dumps(status, indent=2))
        staging.replace(self._status_file)

    def _unpack(self, fn: LambdaFunction) -> Path:
        if not fn.code_bytes:
            raise EmulatorError(f"function {fn.function_name} has no code")
        target = self._code_cache / fn.code_sha_256.replace("/", "_").replace("+", "-")
        if target.is_dir():
            return target
        self._code_cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self._code_cache, prefix=".unpack-"))
        try:
            extract_zip(fn.code_bytes, staging)
            staging.rename(target)
        except (OSError, EmulatorError):
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():
                raise
        return target


@dataclass(frozen=True)
class BuiltImage:
    """An image function's Dockerfile, as read at CreateFunction / UpdateFunctionCode, and its staged task root."""

    uri: str
    source: ImageSource
    recipe: ImageRecipe
    task_root: Path


def _dead_letter_arn(fn: LambdaFunction) -> str | None:
    return (getattr(fn, _DLQ_ATTRIBUTE, None) or {}).get("TargetArn")


def _keeping_dlq(original: Any, spec_arg: bool = False) -> Any:
    """Wraps a LambdaFunction method so the DeadLetterConfig it is given is kept."""
    name, position = ("spec", 1) if spec_arg else ("config_updates", 0)

    def wrapper(fn: LambdaFunction, *args: Any, **kwargs: Any) -> Any:
        result = original(fn, *args, **kwargs)
        config = kwargs[name] if name in kwargs else args[position]
        if isinstance(config, dict) and "DeadLetterConfig" in config:
            setattr(fn, _DLQ_ATTRIBUTE, config["DeadLetterConfig"] or None)
        return result

    return wrapper


def _checking_runtime(original: Any, spec_arg: bool = False) -> Any:
    """Wraps a LambdaFunction method so a Runtime the emulator cannot run is refused before it is stored."""
    name, position = ("spec", 1) if spec_arg else ("config_updates", 0)

    def wrapper(fn: LambdaFunction, *args: Any, **kwargs: Any) -> Any:
        config = kwargs[name] if name in kwargs else args[position]
        runtime = config.get("Runtime") if isinstance(config, dict) else None
        if runtime:
            try:
                check_runtime(runtime)
            except EmulatorError as exc:
                raise InvalidParameterValueException(str(exc)) from exc
        return original(fn, *args, **kwargs)

    return wrapper


def _validating_code(original: Any, build_image: Callable[[str], BuiltImage]) -> Any:
    """Wraps LambdaFunction._set_function_code: code Lambda cannot run is refused, the function left as it was."""

    def set_function_code(fn: LambdaFunction, updated_spec: dict[str, Any]) -> None:
        image = build_image(updated_spec["ImageUri"]) if "ImageUri" in updated_spec else None
        before = {name: copy.copy(fn.__dict__[name]) for name in _CODE_ATTRIBUTES if name in fn.__dict__}
        original(fn, updated_spec)
        if image is not None or "ZipFile" in updated_spec or "S3Key" in updated_spec:
            fn.__dict__[_IMAGE_ATTRIBUTE] = image
            fn.__dict__.pop(_DOCKERFILE_ATTRIBUTE, None)  # new code: no longer the template's image folder
        code = fn.__dict__.get("code_bytes")
        if code and not zipfile.is_zipfile(BytesIO(code)):
            fn.__dict__.update(before)
            raise InvalidParameterValueException(NOT_A_ZIP)

    return set_function_code


def _replacing_event_invoke_config(original: Any) -> Any:
    """Wraps LambdaBackend.put_function_event_invoke_config: a put replaces the function's settings, as on AWS."""

    def put(backend: LambdaBackend, function_name: str, config: dict[str, Any]) -> dict[str, Any]:
        response = original(backend, function_name, config)
        fn = backend.get_function(function_name)
        fn.event_invoke_config = fn.event_invoke_config[-1:]
        return response

    return put


def _merging_event_invoke_config(backend: LambdaBackend, function_name: str, config: dict[str, Any]
                                 ) -> dict[str, Any]:
    """Replaces LambdaBackend.update_function_event_invoke_config: the settings it names change, the rest stay."""
    fn = backend.get_function(function_name)
    current = fn.event_invoke_config[-1].config if fn.event_invoke_config else {}
    return backend.put_function_event_invoke_config(function_name, {**current, **config})


class _FromTemplate(threading.local):
    creating = False  # this thread is in CloudFormation's create of a function


_from_template = _FromTemplate()


def _function_from_template(original: Any, prepare: Callable[[LambdaFunction], None]) -> Any:
    """Keeps a template function's DeadLetterConfig, and its SAM `Metadata.Dockerfile` (paths relative to the
    emulator's working directory): an image function deployed as a zip of its folder gets its image's environment.
    Its INIT starts once that is known (`prepare`): started by CreateFunction, it ran without the image's packages,
    failed, and the first event paid for INIT again."""
    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        _from_template.creating = True
        try:
            fn = original(cls, resource_name, cloudformation_json, *args, **kwargs)
        finally:
            _from_template.creating = False
        properties = cloudformation_json.get("Properties", {})
        if properties.get("DeadLetterConfig"):
            setattr(fn, _DLQ_ATTRIBUTE, properties["DeadLetterConfig"])
        if properties.get("Layers"):
            fn.layers = fn._get_layers_data(properties["Layers"])  # an unknown ARN: the resource is refused
        image = metadata_image(cloudformation_json.get("Metadata") or {}, Path.cwd())
        if image is not None and not image.dockerfile.is_file():
            logger.warning("%s: its Metadata.Dockerfile %s is not there (paths are relative to the emulator's working "
                           "directory): it runs with AWS's runtime packages only", resource_name, image.dockerfile)
            image = None
        setattr(fn, _DOCKERFILE_ATTRIBUTE, image)
        prepare(fn)
        return fn

    return create


def _layer_from_template(original: Any) -> Any:
    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        name = cloudformation_json.get("Properties", {}).get("LayerName") or resource_name
        layer_version = original(cls, name, cloudformation_json, *args, **kwargs)
        layer_version.physical_resource_id = layer_version.arn  # what Ref gives
        return layer_version

    return create


def _unique_statement_ids(original: Any) -> Any:
    """AddPermission with a StatementId the function's policy already has is refused, as Lambda refuses it; moto
    added a second statement of that id (a setup script run twice worked here, not on AWS)."""
    def add_permission(backend: LambdaBackend, function_name: str, qualifier: str, raw: str) -> Any:
        sid = json.loads(raw).get("StatementId")
        policy = backend.get_function(function_name, qualifier).policy
        if sid and any(statement.get("Sid") == sid for statement in policy.statements):
            raise LambdaClientError("ResourceConflictException", f"The statement id ({sid}) provided already exists. "
                                    "Please provide a new statement id, or remove the existing statement.")
        return original(backend, function_name, qualifier, raw)

    return add_permission


def _permission_from_template(original: Any) -> Any:
    def create(cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        permission = original(cls, resource_name, cloudformation_json, *args, **kwargs)
        permission.physical_resource_id = resource_name
        return permission

    return create


def _polled_event_source_mapping(original: Any) -> Any:
    """CreateEventSourceMapping as Lambda validates it, with SQS, DynamoDB Streams and Kinesis mappings left to our
    service's pollers (stream mappings: emulator/aws/streams.py).

    Lambda refuses an SQS mapping whose queue's visibility timeout is shorter than the function's timeout
    (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-queueconfig), and one whose
    batching its queue type does not allow (lambda_limits.check_sqs_mapping; moto raised a bare ValueError: a 500)."""

    def create(backend: LambdaBackend, spec: dict[str, Any]) -> Any:
        queue_timeout = sqs.visibility_timeout(spec.get("EventSourceArn") or "")
        if queue_timeout is not None:
            limits.check_sqs_mapping(spec["EventSourceArn"], spec.get("BatchSize"),
                                     spec.get("MaximumBatchingWindowInSeconds"))
            function = backend.get_function(spec["FunctionName"]) if spec.get("FunctionName") else None
            if function is not None and queue_timeout < int(function.timeout):
                raise InvalidParameterValueException(
                    VISIBILITY_TOO_SHORT.format(queue=queue_timeout, function=int(function.timeout)))
        streams.check_mapping(backend, spec)
        mapping = original(backend, spec)
        sqs.detach_lambda_mappings()
        streams.begin(mapping)
        return mapping

    return create


def _reading_the_qualifier(original: Any) -> Any:
    """Invoke's `?Qualifier=` (what boto3 sends for Qualifier=) is read; moto asks for a lower-case `qualifier` and
    so ran $LATEST for every qualified invoke. The qualifier is put where moto also looks: `FunctionName:qualifier`."""

    def invoke(response: LambdaResponse) -> Any:
        # the function's deadline counts from the request's arrival, not its handler start
        _request.accepted_at = getattr(response.normalized_request, "environ", {}).get(RECEIVED_AT) or time.time()
        qualifier = (response.querystring.get("Qualifier") or [None])[0]
        head, name, tail = response.path.rsplit("/", 2)
        if qualifier and ":" not in unquote(name).removeprefix("arn:").split("function:")[-1]:
            response.path = f"{head}/{name}:{qualifier}/{tail}"
        return original(response)

    return invoke


def _routing_by_alias_weights(original: Any) -> Any:
    """Invoke of an alias with `RoutingConfig.AdditionalVersionWeights` runs each extra version with its weight and
    the alias's own version otherwise (https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html).
    moto resolves an alias to its own version only."""

    def invoke(backend: LambdaBackend, function_name: str, qualifier: str | None, body: Any, headers: Any,
               response_headers: Any) -> Any:
        name, _, named_qualifier = qualified_name_of(function_name).partition(":")
        alias_name = qualifier or named_qualifier
        if alias_name and not alias_name.isdigit() and alias_name != "$LATEST":
            version = _weighted_version(backend, name, alias_name)
            if version is not None:
                return original(backend, name, version, body, headers, response_headers)
        return original(backend, function_name, qualifier, body, headers, response_headers)

    return invoke


def _weighted_version(backend: LambdaBackend, function_name: str, alias_name: str) -> str | None:
    """A version drawn by the alias's routing weights, None when the alias has none (or does not exist)."""
    try:
        alias = backend.get_alias(alias_name, function_name)
    except JsonRESTError:
        return None
    weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
    draw = random.random()
    for version, weight in weights.items():
        draw -= float(weight)
        if draw < 0:
            return str(version)
    return str(alias.function_version) if weights else None


def _configuration_with_dead_letter_config(original: Any) -> Any:
    """GetFunctionConfiguration (and every answer that carries it) names the function's DeadLetterConfig, as AWS's
    does; moto leaves it out."""

    def get_configuration(fn: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
        config: dict[str, Any] = original(fn, on_create)
        target = _dead_letter_arn(fn)
        if target:
            config["DeadLetterConfig"] = {"TargetArn": target}
        return config

    return get_configuration


def _limited_create(original: Any) -> Any:
    """CreateFunction refused as Lambda refuses it (emulator/aws/lambda_limits.py), before anything is stored."""

    def create_function(backend: LambdaBackend, spec: dict[str, Any]) -> LambdaFunction:
        code = _request_code(spec.get("Code") or {}, backend)
        limits.check_create_function(
            spec, today=date.today(), trust_policy=_trust_policy(backend, spec.get("Role")),
            code_unzipped_bytes=None if code is None else _unzipped_bytes(code),
            layers_unzipped_bytes=_layers_bytes(backend, spec.get("Layers") or []))
        findings = _platform_findings(backend, code, spec.get("Layers") or [], spec.get("Runtime"),
                                      (spec.get("Architectures") or ["x86_64"])[0])
        fn = original(backend, spec)
        _report_platform(backend, fn.function_name, findings)
        return fn

    return create_function


def _limited_code_update(original: Any) -> Any:
    def update_function_code(backend: LambdaBackend, function_name: str, qualifier: str, body: dict[str, Any]
                             ) -> Any:
        fn = backend.get_function(function_name, qualifier)
        code = _request_code(body, backend)
        limits.check_update_code(
            body, today=date.today(), package_type=fn.package_type or "Zip", runtime=fn.run_time,
            code_unzipped_bytes=None if code is None else _unzipped_bytes(code),
            layers_unzipped_bytes=_layers_bytes(backend, fn.layers))
        architecture = (body.get("Architectures") or fn.architectures or ["x86_64"])[0]
        findings = _platform_findings(backend, code, [], fn.run_time, architecture)
        result = original(backend, function_name, qualifier, body)
        _report_platform(backend, fn.function_name, findings)
        return result

    return update_function_code


def _limited_configuration_update(original: Any) -> Any:
    def update_function_configuration(backend: LambdaBackend, function_name: str, qualifier: str,
                                      body: dict[str, Any]) -> Any:
        fn = backend.get_function(function_name, qualifier)
        limits.check_update_configuration(
            body, today=date.today(), package_type=fn.package_type or "Zip", current_runtime=fn.run_time,
            trust_policy=_trust_policy(backend, body.get("Role")),
            code_unzipped_bytes=_unzipped_bytes(fn.code_bytes) if fn.code_bytes else None,
            layers_unzipped_bytes=_layers_bytes(backend, body.get("Layers") or []))
        return original(backend, function_name, qualifier, body)

    return update_function_configuration


def _limited_layer(original: Any) -> Any:
    def publish_layer_version(backend: LambdaBackend, spec: dict[str, Any]) -> Any:
        code = _request_code(spec.get("Content") or {}, backend)
        limits.check_publish_layer_version(spec, unzipped_bytes=0 if code is None else _unzipped_bytes(code))
        return original(backend, spec)

    return publish_layer_version


def _request_code(code: dict[str, Any], backend: LambdaBackend) -> bytes | None:
    """The zip a request carries (base64 ZipFile, or an S3 object), None when it names none or S3 has none."""
    if code.get("ZipFile"):
        zipped = code["ZipFile"]
        return zipped if isinstance(zipped, bytes) else base64.b64decode(zipped)
    if code.get("S3Bucket") and code.get("S3Key"):
        try:
            return bytes(s3_backends[backend.account_id][backend.partition].get_object(
                code["S3Bucket"], code["S3Key"]).value)
        except (MissingBucket, MissingKey):
            return None  # moto answers AWS's own NoSuchBucket/NoSuchKey error for it
    return None


def _unzipped_bytes(code: bytes) -> int:
    try:
        with zipfile.ZipFile(BytesIO(code)) as archive:
            return sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile:
        return 0  # refused with AWS's "Could not unzip" when the code is set (_validating_code)


def _layers_bytes(backend: LambdaBackend, layers: list[Any]) -> int:
    total = 0
    for layer in layers:
        arn = layer["Arn"] if isinstance(layer, dict) else str(layer)
        version = backend.layers_versions_by_arn(arn)
        if version is not None and version.code_bytes:
            total += _unzipped_bytes(version.code_bytes)
    return total


def _trust_policy(backend: LambdaBackend, role_arn: str | None) -> str | None:
    """The role's AssumeRolePolicyDocument, None when no such role exists (AWS refuses both alike)."""
    if not role_arn:
        return None
    try:
        return str(iam_backends[backend.account_id][backend.partition].get_role_by_arn(role_arn)
                   .assume_role_policy_document)
    except IAMNotFoundException:
        return None


def _platform_findings(backend: LambdaBackend, code: bytes | None, layers: list[Any], runtime: str | None,
                       architecture: str) -> list[PlatformFinding]:
    """Files of the code and layers that would not load on AWS; refused here when EMULATOR_PLATFORM_CHECK=refuse."""
    if platform_mode() == "off":
        return []
    findings = check_zip(code, runtime, architecture) if code else []
    for layer in layers:
        arn = layer["Arn"] if isinstance(layer, dict) else str(layer)
        version = backend.layers_versions_by_arn(arn)
        if version is not None and version.code_bytes:
            findings += check_zip(version.code_bytes, runtime, architecture, origin=f"layer {arn}: /opt/")
    if findings and platform_mode() == "refuse":
        raise InvalidParameterValueException(
            "Shared libraries of this function would not load on AWS (EMULATOR_PLATFORM_CHECK=refuse): "
            + "; ".join(str(f) for f in findings[:5]))
    return findings


def _report_platform(backend: LambdaBackend, function_name: str, findings: list[PlatformFinding]) -> None:
    """The findings in the emulator's log and in the function's own log group, where its developer looks. Lambda
    makes that group at the function's first log line, not at CreateFunction (a template's own AWS::Logs::LogGroup
    for it is created after the function): a group not there yet gets the lines once it is created."""
    if not findings:
        return
    lines = [f"PLATFORM: {finding} (would fail to import on AWS)" for finding in findings]
    for line in lines:
        logger.warning("%s: %s", function_name, line)
    logs = logs_backends[backend.account_id][backend.region_name]
    group = f"/aws/lambda/{function_name}"
    with _PLATFORM_LOCK:
        if group not in logs.groups:
            _PLATFORM_LINES.setdefault((backend.account_id, backend.region_name, group), []).extend(lines)
            return
    _write_platform_lines(logs, group, lines)


def _platform_lines_on_creation(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_log_group(logs: LogsBackend, log_group_name: str, *args: Any, **kwargs: Any) -> Any:
        created = original(logs, log_group_name, *args, **kwargs)
        with _PLATFORM_LOCK:
            lines = _PLATFORM_LINES.pop((logs.account_id, logs.region_name, log_group_name), None)
        if lines:
            _write_platform_lines(logs, log_group_name, lines)
        return created

    return create_log_group


def _write_platform_lines(logs: LogsBackend, group: str, lines: list[str]) -> None:
    stream = "emulator-platform-check"
    if stream not in logs.groups[group].streams:
        logs.create_log_stream(group, stream)
    now = int(time.time() * 1000)
    logs.put_log_events(group, stream, [{"timestamp": now, "message": line} for line in lines])
