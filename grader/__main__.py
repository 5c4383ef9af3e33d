"""Command line: `python -m grader run` sends a workload, checks every answer, reads the metrics, reports."""

import argparse
import logging
import sys
import tempfile
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from contract import ContractError
from contract.signals import interrupt, on_stop_signals
from emulator.errors import EmulatorError
from grader.classroom import ClassSettings, grade_class, only_summary
from grader.classroom.settings import POINTS, SLUGS
from grader.config import RunSettings, load_thresholds
from grader.errors import ConfigError, GraderError
from grader.report import default_out_dir, print_summary, write_reports
from grader.run import Target, embedded_emulator, environment_target, grade
from grader.workload import CLIPS_RATE, COURSE_STUDENTS, build_workload

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
console = Console(highlight=False, soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand: 0 every rubric line passed, 1 one failed, 2 a setup error, 130 interrupted."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    try:
        with on_stop_signals(interrupt):  # SIGTERM cleans up as Ctrl-C does (the embedded emulator stops)
            return args.run(args)
    except (GraderError, ContractError, EmulatorError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    """`run` and its options."""
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="grade the pipeline (or a submission's handlers)")
    default = RunSettings.default
    run.add_argument("--workload", default=default("workload"),
                     help="course, clips, or a folder of videos with labels.json")
    run.add_argument("--count", type=int, default=default("count"), help="uploads")
    run.add_argument("--rate", type=float,
                     help=f"uploads per second (default {default('rate'):g}; clips: {CLIPS_RATE:g})")
    run.add_argument("--burst", type=int, default=default("burst"),
                     help="uploads started together at the beginning, to test scale-out (default %(default)s)")
    target = run.add_mutually_exclusive_group()
    target.add_argument("--endpoint", help="AWS API endpoint URL (default: $AWS_ENDPOINT_URL, else AWS)")
    target.add_argument("--emulator", action="store_true", help="start an embedded emulator for this run")
    run.add_argument("--lambdas", type=Path, help="with --emulator: run DIR/frame_extractor, DIR/face_classifier")
    run.add_argument("--template", type=Path, help="with --emulator: deploy this SAM template instead")
    run.add_argument("--timeout", type=float, default=default("timeout"), help="seconds to wait after the last upload")
    run.add_argument("--settle", type=float, default=default("settle"), help="quiet seconds before ending early")
    run.add_argument("--metrics-wait", type=float, help="seconds to wait for CloudWatch (default 20 local, 300 AWS)")
    run.add_argument("--device-id", default=default("device_id"), help="device id in the clip keys")
    run.add_argument("--students", type=Path, default=COURSE_STUDENTS, help="student records to judge against")
    run.add_argument("--thresholds", type=Path, help="JSON or YAML file overriding rubric thresholds")
    run.add_argument("--out", type=Path, help="report folder (default reports/<UTC time>/; also reports/latest/)")
    run.set_defaults(run=_run)
    _class_parser(commands)
    return parser


def _class_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """`class`: every submission of a folder, each in its own account of one emulator."""
    grade_class = commands.add_parser("class", help="grade a folder of submissions (each with a grading.toml)")
    grade_class.add_argument("submissions", type=Path, help="folder of submission folders")
    grade_class.add_argument("--out", type=Path, required=True, help="DIR/<student>/report.*, grades.csv, index.html")
    grade_class.add_argument("--parallel", type=int, default=ClassSettings.default("parallel"),
                             help="submissions at once")
    grade_class.add_argument("--timeout", type=float, default=ClassSettings.default("timeout"),
                             help="seconds per submission, deploy included")
    grade_class.add_argument("--count", type=int, default=ClassSettings.default("count"),
                             help="uploads per submission")
    grade_class.add_argument("--rate", type=float, default=ClassSettings.default("rate"), help="uploads per second")
    grade_class.add_argument("--answer-timeout", type=float, default=ClassSettings.default("answer_timeout"),
                             help="seconds to wait for answers after the last upload")
    grade_class.add_argument("--deploy-timeout", type=float, default=ClassSettings.default("deploy_timeout"),
                             help="seconds a deploy command may run")
    grade_class.add_argument("--thresholds", type=Path, help="JSON or YAML file overriding rubric thresholds")
    grade_class.add_argument("--no-regrade", dest="regrade", action="store_false",
                             help="do not regrade alone, at the end, a submission whose timing lines failed while "
                                  "the machine was busy (docs/grading.md)")
    grade_class.add_argument("--quiet-wait", type=float, default=ClassSettings.default("quiet_wait"),
                             help="seconds a regrade alone waits at most for the CPU pressure to fall")
    grade_class.add_argument("--no-stagger", dest="stagger", action="store_false",
                             help="start each workload at once, without waiting for the other submissions' openings "
                                  "to end and the CPU pressure to fall (docs/grading.md, \"Quiet starts\")")
    grade_class.add_argument("--workloads", type=int, default=None,
                             help="timed workloads at once with quiet starts (default: 2 a core); the other "
                                  "submissions deploy meanwhile and wait for a slot")
    grade_class.set_defaults(run=_class)
    line = commands.add_parser("line", help="exit 0 if a class run's only submission earned a rubric line's points")
    line.add_argument("out", type=Path, help="the --out folder of a class run of one submission")
    line.add_argument("line", choices=list(SLUGS), help="the rubric line")
    line.set_defaults(run=_line)


def _class(args: argparse.Namespace) -> int:
    """`class`: grade them all, print where the gradebook is; 0 unless a setup error stopped the run."""
    load_thresholds(args.thresholds)  # a bad file stops the run before any submission is graded
    settings = ClassSettings(parallel=args.parallel, timeout=args.timeout, count=args.count, rate=args.rate,
                             answer_timeout=args.answer_timeout, deploy_timeout=args.deploy_timeout,
                             thresholds=str(args.thresholds.resolve()) if args.thresholds else None,
                             regrade=args.regrade, quiet_wait=args.quiet_wait, stagger=args.stagger,
                             workloads=args.workloads)
    summaries = grade_class(args.submissions, args.out, settings, console)
    graded = sum(s.stage == "graded" for s in summaries)
    console.print(f"{graded} of {len(summaries)} graded; gradebook {args.out / 'grades.csv'}, "
                  f"page {args.out / 'index.html'}")
    return EXIT_PASSED


def _run(args: argparse.Namespace) -> int:
    """`run`: build the workload, grade it on the target, write and summarise the reports."""
    if (args.lambdas or args.template) and not args.emulator:
        raise ConfigError("--lambdas and --template run a submission on the embedded emulator: add --emulator")
    rate = args.rate if args.rate is not None else _default_rate(args.workload)
    settings = RunSettings(
        workload=args.workload, count=args.count, rate=rate, timeout=args.timeout, settle=args.settle,
        metrics_wait=args.metrics_wait, device_id=args.device_id, out=args.out, burst=args.burst,
    )
    thresholds = load_thresholds(args.thresholds)
    with tempfile.TemporaryDirectory(prefix="grader-work-") as work_dir:
        items = build_workload(settings.workload, settings.count, Path(work_dir))
        with _target(args) as target:
            console.print(f"grading on {escape(target.description)}: {len(items)} uploads at {rate:g}/s")
            outcome = grade(settings, thresholds, items, target, args.students, console)
            paths = write_reports(outcome, settings.out or default_out_dir())
    print_summary(console, outcome, paths)
    return EXIT_PASSED if outcome.passed else EXIT_FAILED


def _default_rate(workload: str) -> float:
    """Uploads per second when --rate is not given: the clips workload has its own."""
    return CLIPS_RATE if workload == "clips" else RunSettings.default("rate")


def _target(args: argparse.Namespace) -> AbstractContextManager[Target]:
    """The embedded emulator with --emulator, else the environment's endpoint."""
    if args.emulator:
        return embedded_emulator(args.lambdas, args.template)
    return environment_target(args.endpoint)


def _line(args: argparse.Namespace) -> int:
    """`line`: one autograding step of GitHub Classroom (grader/classroom/classroom.yml) per rubric line."""
    summary, line = only_summary(args.out), SLUGS[args.line]
    earned = summary.points.get(line, 0.0)
    console.print(f"{summary.student}: {line} {earned:g} of {POINTS[line]:g} ({escape(summary.stage)}: "
                  f"{escape(summary.note)})")
    return EXIT_PASSED if earned >= POINTS[line] else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
