"""Emulator settings: defaults, bounds (contract.settings) and the environment variables that override them."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

import boto3
from pydantic import BeforeValidator, Field, NonNegativeFloat, field_validator

from contract.aws import DEFAULT_REGION, DEFAULT_STACK_NAME, ENV_STACK_NAME
from contract.settings import Settings
from emulator.dockerfile import ImageSource, parse_image_map
from emulator.errors import ConfigError
from emulator.lambda_runtime import COLD_START_MODES, DEFAULT_CACHE_DIR, DEFAULT_WHEELHOUSE, FUNCTION_ENV_MODES
from emulator.lambda_runtime.event_sources import Clients

ENV_HOST = "EMULATOR_HOST"
ENV_PORT = "EMULATOR_PORT"
ENV_TEMPLATE = "EMULATOR_TEMPLATE"
ENV_ACCOUNT_CONCURRENCY = "EMULATOR_LAMBDA_CONCURRENCY"
ENV_RETRY_DELAYS = "EMULATOR_ASYNC_RETRY_DELAYS"
ENV_IDLE_SECONDS = "EMULATOR_WORKER_IDLE_SECONDS"
ENV_STATE_DIR = "EMULATOR_STATE_DIR"
ENV_MAX_EVENT_AGE = "EMULATOR_MAX_EVENT_AGE_SECONDS"
ENV_COLD_START = "EMULATOR_COLD_START"
ENV_FUNCTION_ENVS = "EMULATOR_FUNCTION_ENVS"
ENV_CACHE_DIR = "EMULATOR_CACHE_DIR"
ENV_WHEELHOUSE = "EMULATOR_WHEELHOUSE"
ENV_IMAGES = "EMULATOR_IMAGES"
ENV_PERSISTENCE = "EMULATOR_PERSISTENCE"
ENV_SNAPSHOT_SECONDS = "EMULATOR_SNAPSHOT_SECONDS"
ENV_RETENTION_SWEEP_SECONDS = "EMULATOR_RETENTION_SWEEP_SECONDS"
ENV_METRICS_RETENTION_DAYS = "EMULATOR_METRICS_RETENTION_DAYS"
ENV_FUNCTION_ENV_DAYS = "EMULATOR_FUNCTION_ENV_DAYS"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 4566
DEFAULT_ACCOUNT = "123456789012"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local-emulator-dummy-key",
    "AWS_SECRET_ACCESS_KEY": "local-emulator-dummy-secret",
}


def dummy_session(region: str = DEFAULT_REGION) -> boto3.Session:
    """A boto3 session with the emulator's dummy credentials, whatever the environment or profile says."""
    return boto3.Session(aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], region_name=region)


def clients_by_account(endpoint_url: str) -> Clients:
    """A boto3 client per (service, account, region) ("" or DEFAULT_ACCOUNT: the emulator's dummy keys; another
    account's 12-digit id as its access key, the emulator's convention), made once each."""
    clients: dict[tuple[str, str, str], Any] = {}
    lock = threading.Lock()

    def client(service: str, account: str, region: str) -> Any:
        with lock:
            if (service, account, region) not in clients:
                key = DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"] if account in ("", DEFAULT_ACCOUNT) else account
                clients[service, account, region] = boto3.Session(
                    aws_access_key_id=key, aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    region_name=region).client(service, endpoint_url=endpoint_url)
            return clients[service, account, region]

    return client


def _comma_separated(value: object) -> object:
    """`0.5,1.0` (EMULATOR_ASYNC_RETRY_DELAYS) -> ('0.5', '1.0'); anything else as it is."""
    return tuple(part.strip() for part in value.split(",") if part.strip()) if isinstance(value, str) else value


def _image_map(value: object) -> object:
    """`URI=DOCKERFILE[:CONTEXT],...` (EMULATOR_IMAGES) -> {uri: source}, paths relative to here."""
    return parse_image_map(value, Path.cwd()) if isinstance(value, str) else value


_FROM_ENV = {  # variable -> field; pydantic converts the text as the field's type says
    ENV_HOST: "host",
    ENV_PORT: "port",
    ENV_TEMPLATE: "template",
    ENV_STACK_NAME: "stack_name",
    ENV_ACCOUNT_CONCURRENCY: "account_concurrency",
    ENV_RETRY_DELAYS: "async_retry_delays",
    ENV_IDLE_SECONDS: "worker_idle_seconds",
    ENV_MAX_EVENT_AGE: "max_event_age_seconds",
    ENV_COLD_START: "cold_start",
    ENV_PERSISTENCE: "persist",
    ENV_SNAPSHOT_SECONDS: "snapshot_seconds",
    ENV_RETENTION_SWEEP_SECONDS: "retention_sweep_seconds",
    ENV_METRICS_RETENTION_DAYS: "metrics_retention_days",
    ENV_FUNCTION_ENV_DAYS: "function_env_days",
    ENV_STATE_DIR: "state_dir",
    ENV_FUNCTION_ENVS: "function_envs",
    ENV_CACHE_DIR: "cache_dir",
    ENV_WHEELHOUSE: "wheelhouse",
    ENV_IMAGES: "images",
}
_RetryDelays = Annotated[tuple[NonNegativeFloat, NonNegativeFloat], BeforeValidator(_comma_separated)]


class EmulatorConfig(Settings):
    """How the local cloud runs; every field can be set from the environment (`from_env`)."""

    invalid: ClassVar[type[Exception]] = ConfigError

    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=0, le=65535)
    region: str = DEFAULT_REGION
    template: Path | None = PROJECT_ROOT / "template.yaml"
    stack_name: str = DEFAULT_STACK_NAME
    seed_dir: Path | None = PROJECT_ROOT / "fixtures"
    lambdas_dir: Path | None = None
    # what puts `template` on the emulator through its endpoint, as onto AWS (emulator/stack_command.py)
    stack_command: tuple[str, ...] = (sys.executable, "-m", "deploy", "aws")
    account_concurrency: int = Field(10, ge=1, le=1000)
    async_retry_delays: _RetryDelays = (0.5, 1.0)  # AWS retries an async event twice
    # AWS's MaximumEventAgeInSeconds range (Lambda API reference, PutFunctionEventInvokeConfig)
    max_event_age_seconds: float = Field(600.0, ge=60, le=21600)
    worker_idle_seconds: float = Field(300.0, gt=0)
    init_timeout_seconds: float = Field(10.0, gt=0)
    state_dir: Path = PROJECT_ROOT / ".emulator"
    cold_start: str = "fork"
    function_envs: str = "isolated"
    cache_dir: Path = DEFAULT_CACHE_DIR
    wheelhouse: Path = DEFAULT_WHEELHOUSE
    images: Annotated[dict[str, ImageSource], BeforeValidator(_image_map)] = Field(default_factory=dict)
    persist: bool = True  # state under state_dir/state/ survives restarts (EMULATOR_PERSISTENCE=0: start empty)
    snapshot_seconds: float = Field(10.0, gt=0)
    retention_sweep_seconds: float = Field(60.0, gt=0)
    metrics_retention_days: float = Field(3.0, gt=0)
    function_env_days: float = Field(14.0, gt=0)  # cached function environments unused this long are removed at start

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, host: str) -> str:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the emulator binds loopback only; {host!r} is not a loopback address")
        return host

    @field_validator("cold_start")
    @classmethod
    def _known_cold_start(cls, mode: str) -> str:
        return _one_of(ENV_COLD_START, mode, COLD_START_MODES)

    @field_validator("function_envs")
    @classmethod
    def _known_function_envs(cls, mode: str) -> str:
        return _one_of(ENV_FUNCTION_ENVS, mode, FUNCTION_ENV_MODES)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> EmulatorConfig:
        """Defaults, then environment variables, then explicit keyword overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {name: env[key] for key, name in _FROM_ENV.items() if key in env}
        values.update(overrides)
        return cls.from_strings(values)


def _one_of(variable: str, mode: str, modes: tuple[str, ...]) -> str:
    if mode not in modes:
        raise ValueError(f"{variable} must be one of {', '.join(modes)}, got {mode!r}")
    return mode
