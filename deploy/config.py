"""Deploy settings: defaults, bounds and the environment variables that set them."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from contract.aws import DEFAULT_REGION, DEFAULT_STACK_NAME, ENV_STACK_NAME
from deploy.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENV_ENDPOINT_URL = "AWS_ENDPOINT_URL"
ENV_REGION = "AWS_REGION"
ENV_DEFAULT_REGION = "AWS_DEFAULT_REGION"

SAM_CLI_VERSION = "1.170.0"
SAM_VENV = PROJECT_ROOT / ".venv-sam"
SAM_BUILD_DIR = "build/sam"  # relative to the template's folder, where the SAM CLI runs
# Bucket names ("<stack>-artifacts-<12-digit account>-<region>", "<stack>-media-...") allow 63 lower-case characters.
_STACK_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,23}[a-z0-9]$")


@dataclass(frozen=True)
class DeployConfig:
    """Where and what to deploy; `endpoint_url` None means real AWS through the SAM CLI."""

    stack_name: str = DEFAULT_STACK_NAME
    region: str = DEFAULT_REGION
    endpoint_url: str | None = None
    template: Path = PROJECT_ROOT / "template.yaml"
    seed_dir: Path = PROJECT_ROOT / "fixtures"
    seed: bool = True  # False: the stack only, e.g. for a stack to seed by hand
    lambdas_dir: Path | None = None  # an endpoint only: run DIR/<function folder> in the template's place
    parameters: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False

    def __post_init__(self) -> None:
        if not _STACK_NAME_RE.match(self.stack_name):
            raise ConfigError(f"stack name {self.stack_name!r}: use 2-25 lower-case letters, digits and '-', "
                              "starting with a letter (it prefixes the S3 bucket names)")
        if not self.template.is_file():
            raise ConfigError(f"no template at {self.template}")
        if self.lambdas_dir is not None and self.on_aws:
            raise ConfigError("other handlers (--lambdas) deploy to an endpoint only: set AWS_ENDPOINT_URL")

    @property
    def on_aws(self) -> bool:
        """True when deploying to real AWS (no AWS_ENDPOINT_URL)."""
        return self.endpoint_url is None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> DeployConfig:
        """Defaults, then environment variables, then explicit arguments (None ones are ignored)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "stack_name": env.get(ENV_STACK_NAME) or DEFAULT_STACK_NAME,
            "region": env.get(ENV_REGION) or env.get(ENV_DEFAULT_REGION) or _profile_region() or DEFAULT_REGION,
            "endpoint_url": env.get(ENV_ENDPOINT_URL) or None,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]


def _profile_region() -> str | None:
    """The region of the active AWS CLI profile (~/.aws/config), if it names one."""
    return boto3.Session().region_name


def parse_parameters(pairs: list[str]) -> dict[str, str]:
    """`KEY=VALUE` strings -> a dict of template parameter overrides."""
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not (sep and key):
            raise ConfigError(f"parameter {pair!r}: expected KEY=VALUE, e.g. ClassifierReservedConcurrency=5")
        parameters[key] = value
    return parameters
