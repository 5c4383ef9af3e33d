"""EMULATOR_ISOLATION=accounts: a function runs under its account's own uid, cannot read the emulator's state nor
another account's code, and a CPU-spinning account does not slow another account's function down.

One emulator of its own (isolation on, EMULATOR_ISOLATION_HIDE naming a folder of "submissions"); plain boto3, as a
student's code would call it. Root here: the uid check is skipped elsewhere (a user namespace maps the emulator's).
"""

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from emulator.lambda_runtime.isolation import account_uid, find_cpu_shares
from tests.conftest import RunningEmulator, start_emulator
from tests.emulator.conftest import TRUST
from tests.emulator.fidelity import REGION, emulator_only, unique
from tests.emulator.functions import zip_handler

pytestmark = [pytest.mark.integration, emulator_only]

OUTSIDE_TMP = "/var/tmp"
ALICE, BOB = "311111111111", "322222222222"
SECRET = "another submission's code"
# Tries to read each path; answers what it could read, the error otherwise, and its own uid.
PEEK = """
import os

def lambda_handler(event, context):
    found = {}
    for path in event["paths"]:
        try:
            with open(path) as handle:
                found[path] = handle.read()[:80]
        except OSError as exc:
            found[path] = type(exc).__name__
    pids = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
    return {"uid": os.getuid(), "pid": os.getpid(), "read": found, "pids": pids}
"""
# Burns CPU until the object event["stop"] names exists in its account (at most `seconds`); answers how many loop
# rounds it managed.
SPIN = """
import time

import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3")

def lambda_handler(event, context):
    end, rounds, look = time.monotonic() + event["seconds"], 0, 0.0
    while time.monotonic() < end:
        rounds += 1
        if time.monotonic() > look:
            if told_to_stop(event["stop"]):
                break
            look = time.monotonic() + 0.25
    return rounds

def told_to_stop(stop):
    try:
        s3.head_object(Bucket=stop["bucket"], Key=stop["key"])
    except ClientError:
        return False
    return True
"""
READ_OBJECTS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
# the spinners' role also delivers their logs (Lambda needs it to, on AWS), whose START lines say they run
SPINNING = {"Version": "2012-10-17", "Statement": [
    *READ_OBJECTS["Statement"],
    {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
     "Resource": "*"}]}
SPIN_SECONDS = 50  # a backstop: the test stops the spinners as soon as it has measured
# A fixed amount of work; answers its wall time (s).
WORK = """
import time

def lambda_handler(event, context):
    started, total = time.perf_counter(), 0
    for i in range(event["rounds"]):
        total += i * i
    return time.perf_counter() - started
"""


@pytest.fixture(scope="module")
def isolated() -> Iterator[tuple[RunningEmulator, Path]]:
    # outside /tmp, as a project's .emulator is: a private /tmp alone would hide it, and the test would pass anyway
    work = Path(tempfile.mkdtemp(prefix="isolation-", dir=OUTSIDE_TMP))
    submissions = work / "submissions"
    (submissions / "bob").mkdir(parents=True)
    (submissions / "bob" / "app.py").write_text(f"# {SECRET}\n")
    env = {"EMULATOR_ISOLATION": "accounts", "EMULATOR_ISOLATION_HIDE": str(submissions)}
    running = start_emulator(work / "state", "--no-stack", "--fresh", env=env)
    try:
        yield running, submissions
    finally:
        running.stop()
        shutil.rmtree(work)
        _remove_account_cgroups()


def _remove_account_cgroups() -> None:
    """The CPU cgroups the emulator made for this test's accounts, once their processes are gone."""
    shares = find_cpu_shares()
    for account in (ALICE, BOB) if shares is not None else ():
        folder = shares.folder(account)
        deadline = time.monotonic() + 10
        while folder.is_dir() and (folder / "cgroup.procs").read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.2)  # the emulator's environments are still ending
        if folder.is_dir():
            folder.rmdir()


def _session(account: str) -> boto3.Session:
    return boto3.Session(aws_access_key_id=account, aws_secret_access_key="any-secret", region_name=REGION)


def deploy(emulator: RunningEmulator, account: str, code: str, memory: int = 256,
           policy: dict[str, object] | None = None, name: str | None = None) -> object:
    """A function in `account` running `code` (its role allowed what `policy` allows); its Lambda client."""
    session = _session(account)
    iam = session.client("iam", endpoint_url=emulator.endpoint)
    role_name = unique("role")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=role_name, PolicyName="allowed", PolicyDocument=json.dumps(policy))
    lam = session.client("lambda", endpoint_url=emulator.endpoint)
    name = name or unique("fn")
    lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.lambda_handler", Role=role,
                        Code={"ZipFile": zip_handler(code)}, Timeout=60, MemorySize=memory)
    return lambda payload: json.loads(lam.invoke(FunctionName=name, Payload=json.dumps(payload))["Payload"].read())


def test_a_function_reads_neither_the_emulators_state_nor_another_accounts_code(isolated) -> None:
    emulator, submissions = isolated
    deploy(emulator, BOB, f"# {SECRET}\n" + PEEK)({"paths": []})  # its code unpacked on the first event
    bobs_code = [p for p in (emulator.state_dir / "code").glob("*/app.py") if SECRET in p.read_text()]
    state_files = [p for p in emulator.state_dir.rglob("*") if p.is_file() and "code" not in p.parts][:3]
    paths = [str(p) for p in [*bobs_code, *state_files, submissions / "bob" / "app.py"]]
    assert bobs_code and state_files, "nothing to peek at: the test would pass whatever the isolation"
    answer = deploy(emulator, ALICE, PEEK)({"paths": [*paths, "/var/task/app.py"]})
    assert "lambda_handler" in answer["read"].pop("/var/task/app.py"), answer  # its own code it reads
    # hidden under an empty tmpfs: refused (PermissionError) or, under a folder it needs to pass through, absent
    assert set(answer["read"].values()) <= {"PermissionError", "FileNotFoundError"}, answer


@pytest.mark.skipif(os.geteuid() != 0, reason="not root: functions share the emulator's uid (a user namespace)")
def test_a_function_runs_under_its_accounts_uid_not_the_emulators(isolated) -> None:
    emulator, _ = isolated
    answer = deploy(emulator, ALICE, PEEK)({"paths": []})
    assert answer["uid"] == 0  # root of its own user namespace, and outside it:
    assert _uids(answer["pid"]) == {account_uid(ALICE)} != _uids(emulator.process.pid), answer


@pytest.mark.skipif(os.geteuid() != 0, reason="not root: a procfs of its own is the host root's to mount")
def test_a_function_lists_only_its_own_accounts_processes(isolated) -> None:
    emulator, _ = isolated
    bob = deploy(emulator, BOB, PEEK)({"paths": []})  # its environment stays warm beside Alice's
    alice = deploy(emulator, ALICE, PEEK)({"paths": []})
    assert alice["pid"] in alice["pids"] and Path(f"/proc/{bob['pid']}").exists()
    unseen = {emulator.process.pid, bob["pid"], os.getpid()}  # the emulator, another account, this test
    assert not unseen & set(alice["pids"]), alice["pids"]


def _uids(pid: int) -> set[int]:
    """The real, effective, saved and filesystem uids of a process, as the host sees them."""
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("Uid:"))
    return {int(uid) for uid in line.split()[1:]}


def test_a_spinning_account_does_not_slow_another_accounts_function(isolated) -> None:
    emulator, _ = isolated
    work = deploy(emulator, BOB, WORK)
    work({"rounds": 1000})  # its cold start out of the way
    beside_its_own_spinners = _time_beside_spinners(work, _Spinners(emulator, BOB))
    beside_anothers_spinners = _time_beside_spinners(work, _Spinners(emulator, ALICE))
    # Six spinners and the work on 2 cores: shares per account give the work a core beside another account's
    # spinners, two sevenths of one beside its own; shares per process (no isolation) treat both alike.
    # Compared with each other, not with an idle machine: other load here slows both alike.
    assert beside_anothers_spinners * 2 < beside_its_own_spinners, (beside_anothers_spinners, beside_its_own_spinners)


class _Spinners:
    """SPIN deployed in `account`, and the object that stops its environments, in a bucket of that account."""

    def __init__(self, emulator: RunningEmulator, account: str) -> None:
        self._name = unique("spin")
        self.spin = deploy(emulator, account, SPIN, policy=SPINNING, name=self._name)
        session = _session(account)
        self._logs = session.client("logs", endpoint_url=emulator.endpoint)
        self._s3 = session.client("s3", endpoint_url=emulator.endpoint)
        self._stop = {"bucket": unique("stop"), "key": "stop"}
        self._s3.create_bucket(Bucket=self._stop["bucket"])

    def event(self) -> dict[str, object]:
        return {"seconds": SPIN_SECONDS, "stop": self._stop}

    def wait_until_running(self, count: int) -> None:
        """Until `count` of its invocations have started (their START lines are in its log group)."""
        deadline = time.monotonic() + 60
        while (started := self._started()) < count:
            assert time.monotonic() < deadline, f"{started} of {count} spinners started within 60 s"
            time.sleep(0.2)

    def _started(self) -> int:
        try:
            events = self._logs.filter_log_events(logGroupName=f"/aws/lambda/{self._name}",
                                                  filterPattern="START")["events"]
        except self._logs.exceptions.ResourceNotFoundException:  # no invocation has started yet
            return 0
        return sum(event["message"].startswith("START RequestId") for event in events)

    def stop(self) -> None:
        self._s3.put_object(Bucket=self._stop["bucket"], Key=self._stop["key"], Body=b"")


def _time_beside_spinners(work, spinners: _Spinners, count: int = 6) -> float:
    """The work's best time (s) of three while `count` environments of the spinners burn CPU."""
    with ThreadPoolExecutor(count) as pool:
        spinning = [pool.submit(spinners.spin, spinners.event()) for _ in range(count)]
        try:
            spinners.wait_until_running(count)
            best = min(work({"rounds": 3_000_000}) for _ in range(3))
            assert not any(f.done() for f in spinning), "a spinner ended before the work was timed"
        finally:
            spinners.stop()
        assert all(f.result() > 0 for f in spinning)
    return best
