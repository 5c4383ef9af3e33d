"""One submission, start to end: read its manifest, deploy it into its account (limited), find its resources,
grade it with grader.run.grade, write its report and summary.json, delete its functions."""

import json
import logging
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError
from rich.console import Console

from contract import ContractError, Endpoint, StackOutputsError, stack_outputs
from grader.classroom import contention
from grader.classroom.admission import OPENED, UNGATED, OpeningWatch, request_start
from grader.classroom.contention import DEPLOY_STAGE, RESOURCES_STAGE, STARTED, Contention
from grader.classroom.deploy_jail import UNJAILED, ClassFolders, staged
from grader.classroom.manifest import Manifest, fallback_student, load_manifest
from grader.classroom.sandbox import CommandResult, Limits, minimal_environment, run_limited
from grader.classroom.scoring import line_key, points
from grader.classroom.settings import DEPLOY_NICE, REGION, SECRET_KEY, TIMING_LINES, ClassSettings
from grader.classroom.wiring import CourseWiring
from grader.config import FIXTURES, PROJECT_ROOT, RunSettings, Stack, load_thresholds
from grader.errors import GraderError
from grader.permissions import missing_permissions
from grader.report import to_json, write_reports
from grader.rubric import NO_DATA
from grader.run import QueueWiring, Target, Wiring, grade
from grader.workload import COURSE_STUDENTS, course_workload, load_students

logger = logging.getLogger(__name__)

SUMMARY = "summary.json"
DEPLOY_LOG = "deploy.log"
GRADING_LOG = "grading.log"
MACHINE_CPU_PRESSURE = "machine_cpu_pressure"  # report.json's key for the contention during the workload
START_ADMISSION = "start_admission"  # report.json's key for the workload's wait for a quiet start
OPENING_CPU_PRESSURE = "opening_cpu_pressure"  # report.json's key for the contention during the workload's opening
ACTIVE_WAIT_SECONDS = 60


@dataclass
class Summary:
    """What the gradebook needs of one submission: where it got to, its points, a note, IAM warnings, the machine's
    contention while its workload ran and during its opening (contention.Contention.to_json; the opening's is empty
    without PSI), the other submissions' deploys and openings during its opening (from the class runner), the
    timing lines it failed (with data) and its workload's wait for a quiet start (admission.Admission.to_json)."""

    student: str
    folder: str
    account: str
    stage: str = "manifest"
    note: str = ""
    points: dict[str, float] = field(default_factory=dict)
    passed: bool = False
    seconds: float = 0.0
    iam: list[str] = field(default_factory=list)
    report: str | None = None
    contention: dict[str, Any] = field(default_factory=dict)
    timing_failed: list[str] = field(default_factory=list)
    first_run: dict[str, Any] = field(default_factory=dict)  # after a regrade alone: the busy run's total, note, ...
    admission: dict[str, Any] = field(default_factory=dict)
    opening: dict[str, Any] = field(default_factory=dict)
    overlapped_by: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(self.points.values()), 2)

    @property
    def busy(self) -> list[str]:
        """Why the machine counts as contended while its workload was measured (contention.busy_reasons)."""
        window = Contention.from_json(self.contention) if self.contention else None
        opening = Contention.from_json(self.opening) if self.opening else None
        return contention.busy_reasons(window, opening, self.overlapped_by)

    @property
    def failed_on_a_busy_machine(self) -> bool:
        """Graded, with a timing line failed on measured figures while the machine was contended (over its
        workload, in its opening, or with another submission's deploy or opening during its opening): the rule for
        a regrade alone (docs/grading.md, "Contention and regrades")."""
        return self.stage == "graded" and bool(self.timing_failed) and bool(self.busy)

    def write(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / SUMMARY).write_text(json.dumps({**asdict(self), "total": self.total}, indent=2))

    @classmethod
    def read(cls, path: Path) -> "Summary":
        data = json.loads(path.read_text())
        data.pop("total", None)
        return cls(**data)


def only_summary(out: Path) -> Summary:
    """The summary of a class run of exactly one submission (a student's own repository on GitHub Classroom)."""
    paths = sorted(out.glob(f"*/{SUMMARY}"))
    if len(paths) != 1:
        raise GraderError(f"{out} holds {len(paths)} submission summaries; expected the one of a single submission")
    return Summary.read(paths[0])


def account_endpoint(account: str, endpoint_url: str) -> Endpoint:
    """Clients acting as the account: its id is the access key id (LocalStack's convention)."""
    session = boto3.Session(aws_access_key_id=account, aws_secret_access_key=SECRET_KEY, region_name=REGION)
    return Endpoint(session, endpoint_url)


def account_environment(account: str, endpoint_url: str, student: str) -> dict[str, str]:
    """A deploy command's environment: its account's credentials, the endpoint, the grader's Python first on PATH."""
    base = minimal_environment({})
    python_dir = str(Path(sys.executable).parent)
    return {**base, "PATH": os.pathsep.join([python_dir, base.get("PATH", "")]), "AWS_ACCESS_KEY_ID": account,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint_url, "STUDENT_ID": student}


def grade_submission(folder: Path, out_root: Path, account: str, endpoint_url: str, settings: ClassSettings,
                     progress: "Progress", folders: ClassFolders = UNJAILED) -> Summary:
    """Grade one submission folder (its deploy jailed away from `folders.hidden`, if any); every failure ends in the
    summary's stage and note, never in an exception."""
    started = time.monotonic()
    summary = Summary(fallback_student(folder), str(folder), account)
    try:
        manifest = load_manifest(folder)
        summary.student = manifest.student
        out_dir = out_root / manifest.student
        progress(DEPLOY_STAGE)
        summary.stage = DEPLOY_STAGE
        deployed = deploy(manifest, folder, out_dir, account, endpoint_url, settings, folders)
        if not deployed.ok:
            summary.note = f"deploy {deployed.describe()}: {_last_line(deployed)}"
            return summary
        endpoint = account_endpoint(account, endpoint_url)
        summary.stage, summary.note = RESOURCES_STAGE, ""
        progress(RESOURCES_STAGE)
        target, wiring = resolve(manifest, endpoint)
        summary.stage = "grading"
        progress("grading")
        _grade(summary, target, wiring, out_dir, settings, progress)
        summary.iam = missing_permissions(endpoint, (target.stack.frame_extractor, target.stack.face_classifier))
        clean_up(endpoint, target.stack, manifest)
    except (GraderError, ContractError) as exc:
        summary.note = str(exc)
    finally:
        summary.seconds = round(time.monotonic() - started, 1)
        summary.write(out_root / summary.student)
    return summary


class Progress:
    """Tells the class runner where a submission is: one JSON line per stage on stdout."""

    def __call__(self, stage: str) -> None:
        print(json.dumps({"stage": stage}), flush=True)


def deploy(manifest: Manifest, folder: Path, out_dir: Path, account: str, endpoint_url: str,
           settings: ClassSettings, folders: ClassFolders = UNJAILED) -> CommandResult:
    """Run the manifest's deploy command (or our SAM deploy of its template) inside the limits, with a TMPDIR of its
    own (removed after): jailed in a copy of its folder when `folders` hides anything (deploy_jail.staged), else in
    its folder as the grader's user."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = account_environment(account, endpoint_url, manifest.student)
    limits = Limits(settings.deploy_cpu_seconds, settings.deploy_memory_mib, settings.deploy_timeout, DEPLOY_NICE)
    with staged(folder, account, folders, out_dir) as stage:
        home = {"HOME": str(stage.home)} if stage.home else {}
        try:
            return run_limited(deploy_command(manifest), stage.cwd, {**env, **home}, limits, out_dir / DEPLOY_LOG,
                               stage.tmp, stage.jail)
        finally:
            shutil.rmtree(stage.tmp, ignore_errors=True)


def deploy_command(manifest: Manifest) -> list[str]:
    """The argv that deploys it: `sh -c <command>`, or grader.classroom.sam_deploy with the template."""
    spec = manifest.deploy
    if spec.command is not None:
        return ["/bin/sh", "-c", manifest.name(spec.command)]
    seed = ["--seed", str(FIXTURES)] if spec.seed else []
    parameters = [f"--parameter={k}={v}" for k, v in spec.parameters.items()]
    return [sys.executable, "-c", _SAM_DEPLOY, "--template", str(spec.template), "--stack-name", spec.stack_name,
            *seed, *parameters]


# The template deploy runs our module whatever the submission's folder holds (cwd is the submission's).
_SAM_DEPLOY = (f"import sys; sys.path.insert(0, {str(PROJECT_ROOT)!r}); "
               "from grader.classroom.sam_deploy import main; sys.exit(main(sys.argv[1:]))")


def resolve(manifest: Manifest, endpoint: Endpoint) -> tuple[Target, Wiring]:
    """The deployed resources (stack outputs or the manifest's names), each checked to exist."""
    resources = manifest.resources
    if resources.from_stack:
        try:
            stack = Stack.from_outputs(stack_outputs(endpoint.client("cloudformation"), manifest.deploy.stack_name))
        except StackOutputsError as exc:
            raise GraderError(f"no stack {manifest.deploy.stack_name!r} after the deploy: {exc}") from exc
    else:
        names = [manifest.name(value or "") for value in (resources.input_bucket, resources.output_queue,
                                                           resources.frame_extractor, resources.face_classifier)]
        names[1] = _queue_url(endpoint, names[1]) if names[1] else f"s3://{manifest.name(resources.output_bucket)}/"
        stack = Stack(*names)
    check_exists(endpoint, stack, manifest.name(resources.output_bucket) if resources.output_bucket else None)
    wait_active(endpoint, (stack.frame_extractor, stack.face_classifier))
    description = f"{endpoint.url} as account {endpoint.session.get_credentials().access_key}"
    target = Target(endpoint, stack, description, True, submission=manifest.student)
    if resources.upload_keys == "course" and resources.output_bucket:
        return target, CourseWiring(manifest.name(resources.output_bucket), load_students(COURSE_STUDENTS))
    return target, QueueWiring()


def check_exists(endpoint: Endpoint, stack: Stack, output_bucket: str | None) -> None:
    """GraderError naming every resource the manifest names that the account does not have."""
    missing = []
    s3, functions = endpoint.client("s3"), endpoint.client("lambda")
    for bucket in (b for b in (stack.bucket, output_bucket) if b):
        missing += [f"bucket {bucket!r}"] if _fails(lambda b=bucket: s3.head_bucket(Bucket=b)) else []
    for name in (stack.frame_extractor, stack.face_classifier):
        missing += [f"function {name!r}"] if _fails(lambda n=name: functions.get_function(FunctionName=n)) else []
    if missing:
        raise GraderError(f"not found in account {endpoint.session.get_credentials().access_key}: "
                          + ", ".join(missing) + " (wrong names in grading.toml or the deploy?)")


def wait_active(endpoint: Endpoint, functions: tuple[str, ...]) -> None:
    """Wait until the functions are Active, as on AWS after a deploy (a function is Pending while it is set up:
    https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html); GraderError if one fails."""
    waiter = endpoint.client("lambda").get_waiter("function_active_v2")
    for function in functions:
        try:
            waiter.wait(FunctionName=function, WaiterConfig={"Delay": 1, "MaxAttempts": ACTIVE_WAIT_SECONDS})
        except WaiterError as exc:
            raise GraderError(f"function {function!r} did not become Active: {exc}") from exc


def clean_up(endpoint: Endpoint, stack: Stack, manifest: Manifest) -> None:
    """After grading: delete the graded functions (their environments end, their memory is freed) and empty the
    buckets the workload filled (videos, frames and answers would otherwise fill the class emulator's disk)."""
    client = endpoint.client("lambda")
    for function in (stack.frame_extractor, stack.face_classifier):
        try:
            client.delete_function(FunctionName=function)
        except (ClientError, BotoCoreError) as exc:
            logger.warning("could not delete %s after grading: %s", function, exc)
    output = manifest.name(manifest.resources.output_bucket) if manifest.resources.output_bucket else None
    for bucket in (b for b in (stack.bucket, output) if b):
        try:
            _empty(endpoint.client("s3"), bucket)
        except (ClientError, BotoCoreError) as exc:
            logger.warning("could not empty %s after grading: %s", bucket, exc)


def release_bucket_names(endpoint: Endpoint) -> None:
    """Delete every bucket of the account (emptied first): bucket names are global, and the regrade deploys the
    same names again in a fresh account. Kept otherwise, for the classmates' probes to be refused, not missing."""
    s3 = endpoint.client("s3")
    for bucket in (b["Name"] for b in s3.list_buckets().get("Buckets", [])):
        try:
            _empty(s3, bucket)
            s3.delete_bucket(Bucket=bucket)
        except (ClientError, BotoCoreError) as exc:
            logger.warning("could not delete %s before the regrade (its deploy may then fail): %s", bucket, exc)


def _empty(s3: Any, bucket: str) -> None:
    """Delete every object of a bucket, a page (at most 1,000 keys, DeleteObjects' limit) at a time."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def _grade(summary: Summary, target: Target, wiring: Wiring, out_dir: Path, settings: ClassSettings,
           progress: Progress) -> None:
    """Once the class runner admits its start (settings.stagger), run the course workload, telling the runner when
    its opening is over; write report.{json,html}, fill the summary's points and note."""
    run = RunSettings(workload="course", count=settings.count, rate=settings.rate, timeout=settings.answer_timeout,
                      settle=1.0, metrics_wait=settings.metrics_wait, device_id="grader", out=out_dir,
                      burst=settings.burst)
    with (out_dir / GRADING_LOG).open("w") as log:
        console = Console(file=log, width=120, force_terminal=False)
        thresholds = load_thresholds(Path(settings.thresholds) if settings.thresholds else None)
        items = course_workload(settings.count)
        admission = request_start(progress, sys.stdin) if settings.stagger else UNGATED
        progress(STARTED)
        start, opened = contention.mark(), list[contention.Mark]()

        def opening_over() -> None:
            opened.append(contention.mark())
            progress(OPENED)

        try:
            outcome = grade(run, thresholds, items, target, COURSE_STUDENTS, console,
                            OpeningWatch(wiring, settings.opening_answers, opening_over))
        finally:
            progress(OPENED)  # again if told already: the runner releases a gate once
        busy = contention.since(start)
        opening = contention.judge_opening(start, opened[0] if opened else contention.mark())
    write_reports(outcome, out_dir, out_dir)
    document = {**to_json(outcome), MACHINE_CPU_PRESSURE: busy.to_json(), START_ADMISSION: admission.to_json(),
                OPENING_CPU_PRESSURE: opening.to_json() if opening else None}
    (out_dir / "report.json").write_text(json.dumps(document, indent=2))
    summary.stage, summary.points, summary.passed = "graded", points(document), outcome.passed
    summary.report = f"{summary.student}/report.html"
    summary.note = "; ".join(filter(None, [grading_note(document), admission.note()]))
    summary.contention, summary.timing_failed = busy.to_json(), timing_failed(document)
    summary.admission, summary.opening = admission.to_json(), opening.to_json() if opening else {}


def timing_failed(document: dict[str, Any]) -> list[str]:
    """The timing lines (settings.TIMING_LINES) a report failed on measured figures; a line with no data (no
    answer, no metric: a crash, a wrong name) failed for a reason no quiet machine changes."""
    return [line["name"] for line in document["rubric"]
            if not line["passed"] and line_key(line["name"]) in TIMING_LINES and line["measured"] != NO_DATA]


def grading_note(document: dict[str, Any]) -> str:
    """What went wrong, in one line: the counts of wrong and missing answers and the failed rubric lines."""
    failed = [line["name"] for line in document["rubric"] if not line["passed"]]
    if not failed:
        return "all rubric lines passed"
    counts = ", ".join(f"{document[k]} {k}" for k in ("wrong", "missing", "late") if document[k])
    timed_out = "; timed out waiting for answers" if document["run"]["timed_out"] else ""
    return f"failed: {', '.join(failed)}" + (f" ({counts})" if counts else "") + timed_out


def _queue_url(endpoint: Endpoint, name_or_url: str) -> str:
    """A queue URL from a name (looked up in the account) or a URL."""
    if name_or_url.startswith(("http://", "https://")):
        return name_or_url
    try:
        return endpoint.client("sqs").get_queue_url(QueueName=name_or_url)["QueueUrl"]
    except ClientError as exc:
        raise GraderError(f"output queue {name_or_url!r} not found: {exc.response['Error']['Message']}") from exc


def _fails(call: Any) -> bool:
    """True when the call's answer is a client error (not found, no access)."""
    try:
        call()
    except ClientError:
        return True
    return False


def _last_line(result: CommandResult) -> str:
    lines = [line for line in result.tail().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"
