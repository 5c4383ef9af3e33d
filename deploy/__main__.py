"""`python -m deploy aws|destroy [--dry-run]`: the stack on AWS (SAM CLI), or at $AWS_ENDPOINT_URL when set."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from contract.errors import ContractError
from deploy.config import DeployConfig, parse_parameters
from deploy.errors import DeployError
from deploy.run import deploy_stack, destroy_stack
from facerec.errors import FacerecError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    aws = sub.add_parser("aws", help="build, deploy and seed the stack, then print its outputs and exports")
    aws.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                     help="template parameter override (repeatable), e.g. ClassifierReservedConcurrency=5")
    destroy = sub.add_parser("destroy", help="empty the stack's buckets and delete it; say what stays behind")
    aws.add_argument("--template", type=Path, help="SAM template (default template.yaml)")
    aws.add_argument("--lambdas", type=Path, help="endpoint only: run DIR/<function folder> instead of the template's")
    seeding = aws.add_mutually_exclusive_group()
    seeding.add_argument("--seed", type=Path, help="folder with student_data.json and model/ (default fixtures)")
    seeding.add_argument("--no-seed", action="store_true", help="deploy the stack without seeding it")
    for command in (aws, destroy):
        command.add_argument("--dry-run", action="store_true", help="check and print the plan; change nothing")
        command.add_argument("--stack-name", help="default $STACK_NAME, else facepipe")
        command.add_argument("--region", help="default $AWS_REGION, $AWS_DEFAULT_REGION, the profile's, else us-east-1")
    return parser


def _stack_options(args: argparse.Namespace) -> dict[str, object]:
    """`aws`'s template, other handlers and seeding (None: the config's default); `destroy` has none of them."""
    paths = {"template": "template", "lambdas_dir": "lambdas", "seed_dir": "seed"}
    options: dict[str, object] = {key: getattr(args, flag, None) for key, flag in paths.items()}
    options = {key: value.resolve() if isinstance(value, Path) else value for key, value in options.items()}
    return {**options, "seed": not getattr(args, "no_seed", False)}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for chatty in ("botocore", "boto3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        config = DeployConfig.from_env(stack_name=args.stack_name, region=args.region, dry_run=args.dry_run,
                                       parameters=parse_parameters(getattr(args, "parameter", [])),
                                       **_stack_options(args))
        if args.command == "aws":
            deploy_stack(config)
        else:
            destroy_stack(config)
    except (DeployError, ContractError, FacerecError, ClientError, BotoCoreError, WaiterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
