"""Our Lambda service: awslambdaric worker processes behind a Runtime API, with AWS's semantics.

It imports nothing of the emulator above it: settings, telemetry, the function lookup and the local code come in
as arguments (emulator/cloud.py wires them). The modules, bottom up: errors, packaging (environments built like
`sam build`), spec, runtime_api, workers and template (one environment), pool (a function's environments and
concurrency), async_events and destinations (the Event path), service (the front).
"""

from emulator.lambda_runtime.destinations import AWS_MAX_RETRY_ATTEMPTS, AsyncConfig, Destinations
from emulator.lambda_runtime.errors import EmulatorError, PayloadTooLargeError, ThrottledError
from emulator.lambda_runtime.event_sources import EventSourceMappings
from emulator.lambda_runtime.logs import LogShipper
from emulator.lambda_runtime.metrics import MetricsPublisher
from emulator.lambda_runtime.packaging import (
    DEFAULT_CACHE_DIR,
    DEFAULT_WHEELHOUSE,
    THIS_PYTHON,
    EnvironmentBuilder,
    EnvironmentBuildError,
    EnvironmentRecipe,
    RuntimeRefusedError,
    aws_runtime_requirements,
    check_runtime,
    extract_zip,
    interpreter,
    layer_folder,
    merged_opt,
    python_version,
    requirement_lines,
    user_package_index,
)
from emulator.lambda_runtime.pool import Telemetry
from emulator.lambda_runtime.procs import rss_kb, worker_processes
from emulator.lambda_runtime.service import LambdaService, LambdaSettings, LocalSource
from emulator.lambda_runtime.spec import COLD_START_MODES, FUNCTION_ENV_MODES, FunctionSpec, qualified_name_of

__all__ = [
    "AWS_MAX_RETRY_ATTEMPTS",
    "COLD_START_MODES",
    "DEFAULT_CACHE_DIR",
    "DEFAULT_WHEELHOUSE",
    "FUNCTION_ENV_MODES",
    "THIS_PYTHON",
    "AsyncConfig",
    "Destinations",
    "EmulatorError",
    "EnvironmentBuildError",
    "EnvironmentBuilder",
    "EnvironmentRecipe",
    "EventSourceMappings",
    "FunctionSpec",
    "LambdaService",
    "LambdaSettings",
    "LocalSource",
    "LogShipper",
    "MetricsPublisher",
    "PayloadTooLargeError",
    "RuntimeRefusedError",
    "Telemetry",
    "ThrottledError",
    "aws_runtime_requirements",
    "check_runtime",
    "extract_zip",
    "interpreter",
    "layer_folder",
    "merged_opt",
    "python_version",
    "qualified_name_of",
    "requirement_lines",
    "rss_kb",
    "user_package_index",
    "worker_processes",
]
