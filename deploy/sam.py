"""The AWS SAM CLI commands a deploy to AWS runs: build the images, deploy the stack."""

from __future__ import annotations

import logging
import shlex
import subprocess
from pathlib import Path

from deploy.config import SAM_BUILD_DIR, DeployConfig
from deploy.errors import CommandError

logger = logging.getLogger(__name__)


def build_command(sam: str, config: DeployConfig) -> list[str]:
    """`sam build`: the function images from their Dockerfiles (Metadata in template.yaml)."""
    return [sam, "build", "--template-file", config.template.name, "--build-dir", SAM_BUILD_DIR]


def deploy_command(sam: str, config: DeployConfig) -> list[str]:
    """`sam deploy` of the built template: SAM-managed artifact bucket and ECR repositories, no prompts."""
    command = [
        sam, "deploy", "--template-file", f"{SAM_BUILD_DIR}/template.yaml", "--stack-name", config.stack_name,
        "--region", config.region, "--resolve-s3", "--s3-prefix", config.stack_name, "--resolve-image-repos",
        "--capabilities", "CAPABILITY_IAM", "--no-fail-on-empty-changeset", "--no-confirm-changeset",
    ]
    if config.parameters:
        command += ["--parameter-overrides", *(f"{key}={value}" for key, value in config.parameters.items())]
    return command


def run_command(command: list[str], cwd: Path) -> None:
    """Runs a SAM CLI command in the template's folder, its output going to the terminal."""
    logger.info("$ %s", shlex.join(command))
    result = subprocess.run(command, cwd=cwd, check=False)
    if result.returncode != 0:
        raise CommandError(f"`{shlex.join(command[:2])}` failed with exit code {result.returncode} (output above)")
