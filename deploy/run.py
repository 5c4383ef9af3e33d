"""Runs a deploy or a destroy: prerequisites first, then the steps (or, in a dry run, only their list)."""

from __future__ import annotations

import json
import logging
import shlex
import sys
from typing import TextIO

import boto3
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from contract.template import code_overrides
from deploy.config import DeployConfig
from deploy.errors import PrerequisiteError
from deploy.plan import Step, deploy_steps, destroy_steps, leftovers
from deploy.prereqs import Check, check_credentials, check_prerequisites
from deploy.stack import StackDeployer

logger = logging.getLogger(__name__)


def deploy_stack(config: DeployConfig, out: TextIO = sys.stdout) -> dict[str, str] | None:
    """Deploys and seeds the stack, then prints its outputs and the exports; None for a dry run."""
    session = boto3.Session(region_name=config.region)
    overrides = code_overrides(config.template, config.lambdas_dir) if config.lambdas_dir else None
    deployer = StackDeployer(session, config.stack_name, config.template, overrides)
    missing = _require(check_prerequisites(config, session), config)
    steps = deploy_steps(config, session, deployer)
    if config.dry_run:
        _print_plan(steps, missing, out, then="print the stack outputs (JSON) and these exports:")
        print("\n".join(export_lines(config)), file=out)
        return None
    _run(steps)
    outputs = deployer.outputs()
    print(json.dumps(outputs, indent=2, sort_keys=True), file=out)
    print("\n".join(export_lines(config)), file=out)
    return outputs


def destroy_stack(config: DeployConfig, out: TextIO = sys.stdout) -> None:
    """Empties the buckets and deletes the stack, then prints what deploys left outside it."""
    session = boto3.Session(region_name=config.region)
    deployer = StackDeployer(session, config.stack_name, config.template)
    credentials = check_credentials(config, session)
    missing = _require([credentials], config)
    steps = destroy_steps(config, deployer)
    if config.dry_run:
        _print_plan(steps, missing, out, then="print what stays behind, with the commands that remove it")
    elif deployer.exists():
        _run(steps)
    else:
        logger.info("no stack %s to delete", config.stack_name)
    if credentials.ok:
        print("left in place (not part of the stack):", file=out)
        print("\n".join(f"  - {line}" for line in leftovers(config, session, deployer)), file=out)


def export_lines(config: DeployConfig) -> list[str]:
    """The shell exports that point the device and the grader at this stack."""
    exports = {"STACK_NAME": config.stack_name, "AWS_REGION": config.region, "AWS_DEFAULT_REGION": config.region}
    if config.endpoint_url:
        exports["AWS_ENDPOINT_URL"] = config.endpoint_url
    return [f"export {key}={shlex.quote(value)}" for key, value in exports.items()]


def _require(checks: list[Check], config: DeployConfig) -> list[str]:
    """Logs the checks; a real run stops on any failure, a dry run gets the names of the failed ones."""
    for check in checks:
        logger.info("%-7s %s: %s", "ok" if check.ok else "MISSING", check.name, check.detail)
    failed = [check for check in checks if not check.ok]
    if failed and not config.dry_run:
        raise PrerequisiteError("; ".join(f"{check.name}: {check.detail}" for check in failed))
    return [check.name for check in failed]


def _print_plan(steps: list[Step], missing: list[str], out: TextIO, then: str) -> None:
    print("# dry run: nothing was changed.", file=out)
    if missing:
        print(f"# a real run would stop at once: missing {', '.join(missing)} (see the messages above)", file=out)
    print("# a real run would:", file=out)
    for number, step in enumerate(steps, 1):
        print(f"{number}. {step.description}", file=out)
    print(f"{len(steps) + 1}. {then}", file=out)


def _run(steps: list[Step]) -> None:
    """Runs the steps in order under a progress bar (on stderr; the outputs go to stdout)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("", total=len(steps))
        for number, step in enumerate(steps, 1):
            logger.info("[%d/%d] %s", number, len(steps), step.description)
            progress.update(task, description=step.description)
            step.action()
            progress.advance(task)
