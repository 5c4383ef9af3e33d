"""Device settings: env var names (defined here only), bounded settings models (contract.settings), resource names.

Resource names resolve as docs/contracts.md says: explicit argument > environment variable >
the CloudFormation stack's Outputs (stack `$STACK_NAME`, default `facepipe`). Clients are created
the plain boto3 way, so `AWS_ENDPOINT_URL` alone decides local emulator or AWS.
"""

import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import boto3
from botocore.config import Config
from botocore.exceptions import NoRegionError
from pydantic import Field, model_validator

import contract
from contract.aws import (
    DEFAULT_STACK_NAME,
    ENV_RESULTS_QUEUE_URL,
    ENV_STACK_NAME,
    ENV_VIDEOS_BUCKET,
    OUTPUT_RESULTS_QUEUE_URL,
    OUTPUT_VIDEOS_BUCKET,
)
from contract.settings import Settings
from device.errors import ConfigError
from device.naming import check_device_id

ENV_DEVICE_ID = "DEVICE_ID"
ENV_SPOOL_DIR = "DEVICE_SPOOL_DIR"

DEFAULT_SPOOL_DIR = Path.home() / ".cache" / "facepipe" / "spool"


class _DeviceSettings(Settings):
    invalid: ClassVar[type[Exception]] = ConfigError


class ClientConfig(_DeviceSettings):
    """Retry and timeout settings shared by every boto3 client the device creates (seconds)."""

    max_attempts: int = Field(3, ge=1, le=10)
    connect_timeout: float = Field(3.0, ge=0.1, le=60)
    read_timeout: float = Field(30.0, ge=1, le=300)
    max_pool_connections: int = Field(10, ge=1, le=1000)

    def botocore(self) -> Config:
        """The botocore Config: standard retry mode with this many attempts and these timeouts."""
        return contract.client_config(
            self.max_attempts, self.connect_timeout, self.read_timeout, self.max_pool_connections
        )


class RecordConfig(_DeviceSettings):
    """How long each clip lasts (seconds) and how many to record (None: until stopped)."""

    clip_seconds: float = Field(0.5, ge=0.1, le=60)
    clips: int | None = Field(None, ge=1, le=10_000_000)


class UploadConfig(_DeviceSettings):
    """Retry backoff (doubles from initial to max), spool rescan interval and drain time on stop (s)."""

    backoff_initial: float = Field(0.5, ge=0.01, le=60)
    backoff_max: float = Field(30.0, le=600)
    poll_interval: float = Field(1.0, ge=0.01, le=60)
    drain_timeout: float = Field(10.0, ge=0, le=3600)

    @model_validator(mode="after")
    def _backoff_grows(self) -> "UploadConfig":
        if self.backoff_max < self.backoff_initial:
            raise ValueError(f"backoff_max ({self.backoff_max}) must be at least backoff_initial "
                             f"({self.backoff_initial})")
        return self


class ConsumerConfig(_DeviceSettings):
    """SQS polling (seconds), stop conditions, and how often a malformed message may come back."""

    wait_time_seconds: int = Field(20, ge=0, le=20)
    visibility_timeout: int = Field(10, ge=0, le=43200)
    max_messages: int = Field(10, ge=1, le=10)
    max_results: int | None = Field(None, ge=1, le=10_000_000)
    idle_timeout: float | None = Field(None, ge=0.1, le=86400)
    max_malformed_receives: int = Field(5, ge=1, le=1000)


def make_client(service: str, config: ClientConfig | None = None) -> Any:
    """A boto3 client for `service` with our retry/timeout Config; the endpoint comes from the env."""
    try:
        return boto3.client(service, config=(config or ClientConfig()).botocore())
    except NoRegionError as exc:
        raise ConfigError("no AWS region: set AWS_DEFAULT_REGION (e.g. us-east-1) or a profile") from exc


def resolve_device_id(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Device id: explicit > $DEVICE_ID > this host's name (cleaned to a valid id)."""
    env = os.environ if environ is None else environ
    if explicit or env.get(ENV_DEVICE_ID):
        return check_device_id(explicit or env[ENV_DEVICE_ID])
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()).strip("-._")[:64]
    return check_device_id(host or "pi")


def resolve_spool_dir(explicit: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """Spool root: explicit > $DEVICE_SPOOL_DIR > ~/.cache/facepipe/spool."""
    env = os.environ if environ is None else environ
    return Path(explicit or env.get(ENV_SPOOL_DIR) or DEFAULT_SPOOL_DIR)


def resolve_videos_bucket(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The bucket clips go to: explicit > $VIDEOS_BUCKET > stack output VideosBucket."""
    return _resolve(explicit, ENV_VIDEOS_BUCKET, OUTPUT_VIDEOS_BUCKET, "--bucket", environ)


def resolve_results_queue_url(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The results queue: explicit > $RESULTS_QUEUE_URL > stack output ResultsQueueUrl."""
    return _resolve(explicit, ENV_RESULTS_QUEUE_URL, OUTPUT_RESULTS_QUEUE_URL, "--queue-url", environ)


def stack_outputs(stack_name: str) -> dict[str, str]:
    """The Outputs of a CloudFormation stack as {OutputKey: OutputValue}; ConfigError if unreadable."""
    try:
        return contract.stack_outputs(make_client("cloudformation", ClientConfig(max_attempts=2)), stack_name)
    except contract.StackOutputsError as exc:
        raise ConfigError(str(exc)) from exc


def _resolve(explicit: str | None, env_var: str, output: str, flag: str, environ: Mapping[str, str] | None) -> str:
    """Explicit > environment variable > stack output, with one clear error naming all three."""
    env = os.environ if environ is None else environ
    if explicit or env.get(env_var):
        return explicit or env[env_var]
    stack = env.get(ENV_STACK_NAME) or DEFAULT_STACK_NAME
    hint = f"pass {flag}, set {env_var}, or deploy stack {stack!r} with output {output}"
    try:
        outputs = stack_outputs(stack)
    except ConfigError as exc:
        raise ConfigError(f"{output} not found: {hint} ({exc})") from exc
    if output not in outputs:
        raise ConfigError(f"{output} not found: {hint} (the stack has {sorted(outputs)})")
    return outputs[output]
