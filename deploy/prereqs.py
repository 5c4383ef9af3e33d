"""What a deploy needs, checked before it touches anything: credentials, the SAM CLI, Docker, Lambda concurrency."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from contract.template import load_template
from deploy.config import SAM_CLI_VERSION, SAM_VENV, DeployConfig

UNRESERVED_MINIMUM = 10  # Lambda keeps at least this many concurrent executions unreserved per account
SAM_INSTALL_HINT = (
    f"install AWS SAM CLI {SAM_CLI_VERSION} in its own venv (it pins boto3 1.43.108, which clashes with this "
    f"project's boto3): python3.11 -m venv .venv-sam && .venv-sam/bin/pip install aws-sam-cli=={SAM_CLI_VERSION} "
    "(or pipx install, or AWS's installer)"
)
_COMMAND_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Check:
    """One prerequisite: whether it holds, and what was found or how to fix it."""

    name: str
    ok: bool
    detail: str


def check_prerequisites(config: DeployConfig, session: Any) -> list[Check]:
    """Every prerequisite of this deploy (AWS: credentials, SAM CLI, Docker, concurrency; endpoint: credentials)."""
    checks = [check_credentials(config, session)]
    if config.on_aws:
        checks += [check_sam_cli(), check_docker()]
        if checks[0].ok:
            checks.append(check_concurrency(config, session))
    return checks


def check_credentials(config: DeployConfig, session: Any) -> Check:
    """Asks STS who we are (read-only)."""
    where = "AWS" if config.on_aws else config.endpoint_url
    try:
        identity = session.client("sts").get_caller_identity()
    except NoCredentialsError:
        fix = ("run `aws configure` or `aws sso login`, or export AWS_PROFILE" if config.on_aws else
               'any non-empty pair works here: eval "$(python -m emulator env)", or AWS_ACCESS_KEY_ID=test ...')
        return Check("credentials", False, f"no AWS credentials found: {fix}")
    except (ClientError, BotoCoreError) as exc:
        return Check("credentials", False, f"{where} did not accept the credentials: {exc}")
    return Check("credentials", True, f"account {identity['Account']} as {identity['Arn']} ({where}, {config.region})")


def find_sam() -> str | None:
    """The SAM CLI on PATH, else the one in the project's .venv-sam."""
    local = SAM_VENV / "bin" / "sam"
    return shutil.which("sam") or (str(local) if local.is_file() else None)


def check_sam_cli() -> Check:
    """Is the SAM CLI installed, and which version."""
    sam = find_sam()
    if sam is None:
        return Check("SAM CLI", False, f"`sam` is not on PATH: {SAM_INSTALL_HINT}")
    ok, output = _run_quietly([sam, "--version"])
    if not ok:
        return Check("SAM CLI", False, f"{sam} --version failed ({output}): {SAM_INSTALL_HINT}")
    note = "" if SAM_CLI_VERSION in output else f"; this project is tested with {SAM_CLI_VERSION}"
    return Check("SAM CLI", True, f"{output} at {sam}{note}")


def check_docker() -> Check:
    """Is a Docker daemon answering (sam build builds the function images with it)."""
    docker = shutil.which("docker")
    if docker is None:
        return Check("Docker", False, "docker is not installed; `sam build` needs it to build the function images")
    ok, output = _run_quietly([docker, "info", "--format", "{{.ServerVersion}}"])
    if not ok:
        return Check("Docker", False, f"the Docker daemon is not answering ({output}); start Docker Desktop or "
                                      "`sudo systemctl start docker`: `sam build` needs it for the function images")
    return Check("Docker", True, f"daemon {output}")


def check_concurrency(config: DeployConfig, session: Any) -> Check:
    """Can the account reserve the template's concurrency (new accounts may have a limit of 10)."""
    reserved = reserved_concurrency(load_template(config.template), config.parameters)
    try:
        limit = session.client("lambda").get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
    except (ClientError, BotoCoreError) as exc:
        return Check("Lambda concurrency", False, f"cannot read the account's Lambda limits: {exc}")
    if limit - reserved < UNRESERVED_MINIMUM:
        return Check("Lambda concurrency", False, (
            f"the account's concurrency limit is {limit}; the stack reserves {reserved} and Lambda keeps "
            f"{UNRESERVED_MINIMUM} unreserved: request more (Service Quotas > AWS Lambda > Concurrent executions) "
            "or pass smaller --parameter ExtractorReservedConcurrency=N ClassifierReservedConcurrency=N"))
    return Check("Lambda concurrency", True, f"limit {limit}, the stack reserves {reserved}")


def reserved_concurrency(sam: dict[str, Any], overrides: dict[str, str]) -> int:
    """The reserved concurrency the template's functions add up to (literals and parameter references)."""
    values = {name: str(p.get("Default")) for name, p in sam.get("Parameters", {}).items()} | overrides
    total = 0
    for resource in sam.get("Resources", {}).values():
        reserved = resource.get("Properties", {}).get("ReservedConcurrentExecutions")
        if isinstance(reserved, dict) and "Ref" in reserved:
            reserved = values.get(reserved["Ref"])
        if resource.get("Type") == "AWS::Serverless::Function" and reserved is not None:
            total += int(reserved)
    return total


def _run_quietly(command: list[str]) -> tuple[bool, str]:
    """Runs a read-only command; (succeeded, its last output line)."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT_SECONDS,
                                check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    lines = (result.stdout.strip() or result.stderr.strip() or f"exit code {result.returncode}").splitlines()
    return result.returncode == 0, lines[-1]
