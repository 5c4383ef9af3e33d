"""`python -m grader.classroom.worker`: grade one submission in a process of its own (the class runner starts one
per submission, so a submission that crashes or hangs its grading takes no other down)."""

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from grader.classroom.deploy_jail import ClassFolders
from grader.classroom.settings import ClassSettings
from grader.classroom.submission import Progress, grade_submission


def main(argv: Sequence[str] | None = None) -> int:
    """Grade; 0 when a summary was written (whatever the score)."""
    parser = argparse.ArgumentParser(prog="python -m grader.classroom.worker", description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="the class's output folder")
    parser.add_argument("--account", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--settings", required=True, help="ClassSettings as JSON")
    parser.add_argument("--hide", type=Path, action="append", default=[],
                        help="a folder its deploy must not see (given: the deploy runs jailed, as root)")
    parser.add_argument("--share", type=Path, action="append", default=[],
                        help="a shared folder of the class its jailed deploy gets a copy of")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    settings = ClassSettings(**json.loads(args.settings))
    folders = ClassFolders(tuple(args.hide), tuple(args.share))
    grade_submission(args.folder, args.out, args.account, args.endpoint, settings, Progress(), folders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
