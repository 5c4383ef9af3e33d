"""`python -m grader.classroom.sam_deploy`: a submission's SAM template as a stack in the account its environment's
credentials name (AWS_ENDPOINT_URL: the class's emulator), seeded with the course's records and face model.

Run by the class grader as the submission's deploy command, inside the same limits as a student's own command.
"""

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from deploy.config import parse_parameters
from deploy.errors import DeployError
from deploy.stack import StackDeployer, seed_stack
from facerec.errors import FacerecError


def main(argv: Sequence[str] | None = None) -> int:
    """Deploy, seed, print the outputs; 1 with the reason on stderr when it fails."""
    parser = argparse.ArgumentParser(prog="python -m grader.classroom.sam_deploy", description=__doc__)
    parser.add_argument("--template", type=Path, required=True)
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seed", type=Path, help="folder with student_data.json and model/ (none: no seeding)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    session = boto3.Session()
    deployer = StackDeployer(session, args.stack_name, args.template)
    try:
        outputs = deployer.deploy(parse_parameters(args.parameter))
        if args.seed:
            seed_stack(session, deployer, args.seed)
    except (DeployError, FacerecError, ClientError, BotoCoreError, WaiterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(outputs, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
