"""The steps of a deploy or a destroy, so a dry run can show exactly what a real run does."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from contract.keys import MODEL_POINTER, MODELS_PREFIX
from deploy.config import DeployConfig
from deploy.prereqs import find_sam
from deploy.sam import build_command, deploy_command, run_command
from deploy.stack import StackDeployer, seed_stack

SAM_MANAGED_STACK = "aws-sam-cli-managed-default"


@dataclass(frozen=True)
class Step:
    """One thing a run does: a dry run prints `description`, a real run calls `action`."""

    description: str
    action: Callable[[], object]


def deploy_steps(config: DeployConfig, session: Any, deployer: StackDeployer) -> list[Step]:
    """Create the stack (SAM CLI on AWS, the CloudFormation API on an endpoint), then seed it."""
    if config.on_aws:
        sam = find_sam() or "sam"
        cwd = config.template.parent
        build, deploy = build_command(sam, config), deploy_command(sam, config)
        steps = [Step(shlex.join(build), partial(run_command, build, cwd)),
                 Step(shlex.join(deploy), partial(run_command, deploy, cwd))]
    else:
        steps = [Step(
            f"create stack {config.stack_name} at {config.endpoint_url} through the CloudFormation API: translate "
            f"{config.template.name}, zip each function's folder (Image functions run as python3.11 zips) to the "
            "artifacts bucket, replace any stack of that name, wire the S3 -> Lambda notifications",
            partial(deployer.deploy, dict(config.parameters)))]
    if not config.seed:
        return steps
    seed = config.seed_dir
    steps.append(Step(
        f"seed the StudentsTable output from {seed / 'student_data.json'}; publish {seed / 'model'} to the "
        f"ModelsBucket output under {MODELS_PREFIX}<version>/ and point {MODELS_PREFIX}{MODEL_POINTER} at it",
        partial(seed_stack, session, deployer, seed)))
    return steps


def destroy_steps(config: DeployConfig, deployer: StackDeployer) -> list[Step]:
    """Empty the stack's buckets, then delete it."""
    where = f"in {config.region}" if config.on_aws else f"at {config.endpoint_url}"
    return [Step(f"empty the S3 buckets of stack {config.stack_name} {where}, delete the stack and wait until "
                 "it is gone", deployer.destroy)]


def leftovers(config: DeployConfig, session: Any, deployer: StackDeployer) -> list[str]:
    """What deploys created outside the stack (destroy keeps it), each with the command that removes it."""
    if not config.on_aws:
        account = session.client("sts").get_caller_identity()["Account"]
        bucket = deployer.artifacts_bucket(account)
        return [f"bucket {bucket} (the functions' zips): "
                f"aws --endpoint-url {config.endpoint_url} s3 rb --force s3://{bucket}"]
    return [*_ecr_leftovers(config, session), _sam_bucket_leftover(config, session)]


def _ecr_leftovers(config: DeployConfig, session: Any) -> list[str]:
    """The ECR repositories of `sam deploy --resolve-image-repos` (a companion stack), repositories first."""
    cfn, region, lines = session.client("cloudformation"), config.region, []
    for stack in _companion_stacks(cfn, config.stack_name):
        resources = cfn.describe_stack_resources(StackName=stack)["StackResources"]
        for repo in (r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::ECR::Repository"):
            lines.append(f"ECR repository {repo} (the function images, billed per GB-month): "
                         f"aws ecr delete-repository --region {region} --force --repository-name {repo}")
        lines.append(f"stack {stack} (made those repositories): "
                     f"aws cloudformation delete-stack --region {region} --stack-name {stack}")
    return lines


def _companion_stacks(cfn: Any, stack_name: str) -> list[str]:
    pattern = re.compile(rf"^{re.escape(stack_name)}-[0-9a-f]+-CompanionStack$")
    names = []
    for page in cfn.get_paginator("list_stacks").paginate():
        names += [s["StackName"] for s in page["StackSummaries"]
                  if s["StackStatus"] != "DELETE_COMPLETE" and pattern.match(s["StackName"])]
    return names


def _sam_bucket_leftover(config: DeployConfig, session: Any) -> str:
    """SAM's artifact bucket is shared by every SAM app in the region: only this stack's prefix is ours."""
    try:
        stack = session.client("cloudformation").describe_stacks(StackName=SAM_MANAGED_STACK)["Stacks"][0]
        bucket = next(o["OutputValue"] for o in stack.get("Outputs", []) if o["OutputKey"] == "SourceBucket")
    except (ClientError, StopIteration):
        return f"no SAM-managed artifact bucket ({SAM_MANAGED_STACK}) in {config.region}"
    return (f"SAM's artifact bucket {bucket} (stack {SAM_MANAGED_STACK}, shared by every SAM app in "
            f"{config.region}); this stack's files: aws s3 rm --region {config.region} --recursive "
            f"s3://{bucket}/{config.stack_name}/")
