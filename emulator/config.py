"""Emulator settings: defaults, bounds and the environment variables that override them."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from deploy.config import DEFAULT_REGION, DEFAULT_STACK_NAME, ENV_STACK_NAME, PROJECT_ROOT
from emulator.dockerfile import ImageSource, parse_image_map
from emulator.errors import ConfigError
from emulator.lambda_runtime import COLD_START_MODES, DEFAULT_CACHE_DIR, DEFAULT_WHEELHOUSE, FUNCTION_ENV_MODES

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
_TRUE, _FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off"})

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


def _flag(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value not in _TRUE | _FALSE:
        raise ConfigError(f"{name} must be 1 or 0, got {text!r}")
    return value in _TRUE


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigError(f"{ENV_RETRY_DELAYS} must be comma-separated seconds, got {text!r}") from exc


_FROM_ENV: tuple[tuple[str, str, Callable[[str], object]], ...] = (  # variable, field, conversion
    (ENV_HOST, "host", str),
    (ENV_PORT, "port", int),
    (ENV_TEMPLATE, "template", Path),
    (ENV_STACK_NAME, "stack_name", str),
    (ENV_ACCOUNT_CONCURRENCY, "account_concurrency", int),
    (ENV_RETRY_DELAYS, "async_retry_delays", _floats),
    (ENV_IDLE_SECONDS, "worker_idle_seconds", float),
    (ENV_MAX_EVENT_AGE, "max_event_age_seconds", float),
    (ENV_COLD_START, "cold_start", str),
    (ENV_PERSISTENCE, "persist", lambda text: _flag(ENV_PERSISTENCE, text)),
    (ENV_SNAPSHOT_SECONDS, "snapshot_seconds", float),
    (ENV_RETENTION_SWEEP_SECONDS, "retention_sweep_seconds", float),
    (ENV_METRICS_RETENTION_DAYS, "metrics_retention_days", float),
    (ENV_FUNCTION_ENV_DAYS, "function_env_days", float),
    (ENV_STATE_DIR, "state_dir", Path),
    (ENV_FUNCTION_ENVS, "function_envs", str),
    (ENV_CACHE_DIR, "cache_dir", Path),
    (ENV_WHEELHOUSE, "wheelhouse", Path),
    (ENV_IMAGES, "images", lambda text: parse_image_map(text, Path.cwd())),
)


@dataclass(frozen=True)
class EmulatorConfig:
    """How the local cloud runs; every field can be set from the environment (`from_env`)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    region: str = DEFAULT_REGION
    template: Path | None = PROJECT_ROOT / "template.yaml"
    stack_name: str = DEFAULT_STACK_NAME
    seed_dir: Path | None = PROJECT_ROOT / "fixtures"
    lambdas_dir: Path | None = None
    account_concurrency: int = 10
    async_retry_delays: tuple[float, ...] = (0.5, 1.0)
    max_event_age_seconds: float = 600.0
    worker_idle_seconds: float = 300.0
    init_timeout_seconds: float = 10.0
    state_dir: Path = field(default_factory=lambda: PROJECT_ROOT / ".emulator")
    cold_start: str = "fork"
    function_envs: str = "isolated"
    cache_dir: Path = DEFAULT_CACHE_DIR
    wheelhouse: Path = DEFAULT_WHEELHOUSE
    images: dict[str, ImageSource] = field(default_factory=dict)
    persist: bool = True  # state under state_dir/state/ survives restarts (EMULATOR_PERSISTENCE=0: start empty)
    snapshot_seconds: float = 10.0
    retention_sweep_seconds: float = 60.0
    metrics_retention_days: float = 3.0
    function_env_days: float = 14.0  # cached function environments unused this long are removed at start

    def __post_init__(self) -> None:
        if self.host not in LOOPBACK_HOSTS:
            raise ConfigError(f"the emulator binds loopback only; {self.host!r} is not a loopback address")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is out of range")
        if not 1 <= self.account_concurrency <= 1000:
            raise ConfigError("account concurrency must be between 1 and 1000")
        if len(self.async_retry_delays) != 2 or min(self.async_retry_delays) < 0:
            raise ConfigError("async retries: exactly two non-negative delays (AWS retries twice)")
        if self.cold_start not in COLD_START_MODES:
            raise ConfigError(f"{ENV_COLD_START} must be one of {', '.join(COLD_START_MODES)}, got {self.cold_start!r}")
        if self.function_envs not in FUNCTION_ENV_MODES:
            raise ConfigError(f"{ENV_FUNCTION_ENVS} must be one of {', '.join(FUNCTION_ENV_MODES)}, "
                              f"got {self.function_envs!r}")
        if min(self.snapshot_seconds, self.retention_sweep_seconds, self.metrics_retention_days,
               self.function_env_days) <= 0:
            raise ConfigError("snapshot period, retention sweep period, metrics retention and function environment "
                              "retention must be positive")

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None, **overrides: object) -> EmulatorConfig:
        """Defaults, then environment variables, then explicit keyword overrides."""
        env = os.environ if environ is None else environ
        values = {name: _converted(key, env[key], convert) for key, name, convert in _FROM_ENV if key in env}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _converted(variable: str, text: str, convert: Callable[[str], Any]) -> Any:
    try:
        return convert(text)
    except ValueError as exc:
        raise ConfigError(f"{variable}={text!r} is not valid: {exc}") from None
