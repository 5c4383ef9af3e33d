"""The stack on the emulator: a command outside it (deploy/ by default) deploys and seeds it through the emulator's
endpoint, as it would onto AWS; the emulator only runs the command and reads the stack's outputs back."""

from __future__ import annotations

import logging
import shlex
import subprocess

from emulator.config import PROJECT_ROOT, EmulatorConfig
from emulator.errors import StackDeployError

logger = logging.getLogger(__name__)

DEPLOY_TIMEOUT_SECONDS = 600.0
_ERROR_LINES = 20  # of the command's output, in the error when it fails


def stack_argv(config: EmulatorConfig) -> list[str]:
    """The stack command with the stack's name, template, other handlers (--lambdas) and seed folder."""
    assert config.template is not None, "no template: nothing to deploy"
    argv = [*config.stack_command, "--stack-name", config.stack_name, "--template", str(config.template)]
    if config.lambdas_dir is not None:
        argv += ["--lambdas", str(config.lambdas_dir)]
    return argv + (["--seed", str(config.seed_dir)] if config.seed_dir is not None else ["--no-seed"])


def deploy_stack(config: EmulatorConfig, environment: dict[str, str]) -> None:
    """Runs the stack command with `environment` (which points boto3 at the emulator); StackDeployError naming the
    command and the end of its output if it fails or outlasts DEPLOY_TIMEOUT_SECONDS."""
    argv = stack_argv(config)
    try:
        run = subprocess.run(argv, env=environment, cwd=PROJECT_ROOT, capture_output=True, text=True,
                             timeout=DEPLOY_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired as exc:
        raise StackDeployError(f"{shlex.join(argv)} did not finish in {DEPLOY_TIMEOUT_SECONDS:.0f} s") from exc
    except OSError as exc:
        raise StackDeployError(f"cannot run {shlex.join(argv)}: {exc}") from exc
    output = (run.stderr + run.stdout).splitlines()
    for line in output:
        logger.debug("stack command: %s", line)
    if run.returncode != 0:
        tail = "\n".join(output[-_ERROR_LINES:])
        raise StackDeployError(f"{shlex.join(argv)} failed (exit {run.returncode}):\n{tail}")
