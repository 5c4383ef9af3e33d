"""The AWS path without AWS: the dry run prints the SAM commands and runs none; missing tools are explained."""

import os
from pathlib import Path

from tests.deploy.conftest import aws_free_env, run_deploy

FAKE_SAM = """#!/bin/sh
echo "sam $*" >> "{log}"
[ "$1" = "--version" ] && echo "SAM CLI, version 1.170.0"
exit 0
"""
FAKE_DOCKER = """#!/bin/sh
echo "docker $*" >> "{log}"
[ "$1" = "info" ] && echo "27.3.1"
exit 0
"""


def _fake_tools(tmp_path: Path) -> tuple[Path, Path]:
    """`sam` and `docker` stand-ins that record how they were called (neither can run here)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for name, script in (("sam", FAKE_SAM), ("docker", FAKE_DOCKER)):
        (bin_dir / name).write_text(script.format(log=log))
        (bin_dir / name).chmod(0o755)
    return bin_dir, log


def test_the_dry_run_prints_the_sam_commands_and_runs_none(tmp_path):
    bin_dir, log = _fake_tools(tmp_path)
    env = aws_free_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = run_deploy("aws", "--dry-run", "--stack-name", "dryrun", "--region", "eu-west-1", env=env)
    assert result.returncode == 0, result.stderr
    assert f"{bin_dir}/sam build --template-file template.yaml --build-dir build/sam" in result.stdout
    assert (f"{bin_dir}/sam deploy --template-file build/sam/template.yaml --stack-name dryrun --region eu-west-1 "
            "--resolve-s3 --s3-prefix dryrun --resolve-image-repos --capabilities CAPABILITY_IAM "
            "--no-fail-on-empty-changeset --no-confirm-changeset") in result.stdout
    assert "export STACK_NAME=dryrun\nexport AWS_REGION=eu-west-1" in result.stdout
    assert "AWS_ENDPOINT_URL" not in result.stdout
    assert "missing credentials" in result.stdout  # no credentials here: a real run would stop
    assert log.read_text().splitlines() == ["sam --version", "docker info --format {{.ServerVersion}}"]


def test_without_credentials_a_real_run_stops_before_building(tmp_path):
    bin_dir, log = _fake_tools(tmp_path)
    result = run_deploy("aws", env=aws_free_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}"))
    assert result.returncode == 1
    assert "no AWS credentials found" in result.stderr and "aws configure" in result.stderr
    assert "sam build" not in log.read_text()


def test_missing_sam_cli_and_docker_are_explained(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_deploy("aws", env=aws_free_env(PATH=str(empty)))
    assert result.returncode == 1
    assert "pip install aws-sam-cli==1.170.0" in result.stderr
    assert "docker is not installed" in result.stderr


def test_destroy_dry_run_without_credentials_says_so(tmp_path):
    result = run_deploy("destroy", "--dry-run", env=aws_free_env())
    assert result.returncode == 0, result.stderr
    assert "delete the stack" in result.stdout and "missing credentials" in result.stdout
