"""How much a function's INIT at CreateFunction (the emulator's pre-warming) slows another account's running
functions: the class emulator (EMULATOR_ISOLATION=accounts), account A running a fixed amount of work in 2
environments at once (a timed workload's opening asks for about 2 cores), account B creating a function whose INIT
burns `--init-seconds` of CPU. Per repeat: A's work time with nothing else of the class running, then while B's
function is Pending (its INIT), and how long B waited for Active. Prints the medians. Not part of the test suite.

`.venv/bin/python bench/bench_init_priority.py [--repeats 5] [--init-seconds 3]`
"""

import argparse
import io
import json
import statistics
import sys
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

from grader.classroom.runner import class_emulator
from grader.classroom.settings import REGION, SECRET_KEY, account_id
from tests.emulator.test_isolation_accounts import WORK  # a fixed amount of work; answers its wall time (s)

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
HEAVY_INIT = """
import time
_end = time.process_time() + {seconds}
while time.process_time() < _end:
    pass

def lambda_handler(event, context):
    return "ready"
"""
ROUNDS = 2_000_000


def lambda_client(endpoint: str, index: int) -> Any:
    session = boto3.Session(aws_access_key_id=account_id(index), aws_secret_access_key=SECRET_KEY,
                            region_name=REGION)
    return session.client("lambda", endpoint_url=endpoint), session.client("iam", endpoint_url=endpoint)


def create(endpoint: str, index: int, code: str) -> tuple[Any, str]:
    lam, iam = lambda_client(endpoint, index)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", code)
    lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.lambda_handler", Role=role,
                        Code={"ZipFile": buffer.getvalue()}, Timeout=120, MemorySize=256)
    return lam, name


def work_times(lam: Any, name: str, until: threading.Event | None, minimum: int = 2) -> list[float]:
    """A's work, 2 invocations at once, again and again: at least `minimum` rounds, then until `until` is set."""
    times: list[float] = []
    with ThreadPoolExecutor(2) as pool:
        while len(times) < 2 * minimum or (until is not None and not until.is_set()):
            calls = [pool.submit(lam.invoke, FunctionName=name, Payload=json.dumps({"rounds": ROUNDS}))
                     for _ in range(2)]
            times += [float(call.result()["Payload"].read()) for call in calls]
    return times


def one_repeat(endpoint: str, work: tuple[Any, str], init_seconds: float, index: int) -> tuple[float, float, float]:
    """(A's median work time alone, during B's INIT, B's wait for Active in s)."""
    alone = statistics.median(work_times(*work, None, minimum=3))
    lam_b, name_b = create(endpoint, index, HEAVY_INIT.format(seconds=init_seconds))
    active, started = threading.Event(), time.monotonic()

    def wait_active() -> None:
        lam_b.get_waiter("function_active_v2").wait(FunctionName=name_b, WaiterConfig={"Delay": 0.2,
                                                                                       "MaxAttempts": 3000})
        active.set()

    waiter = threading.Thread(target=wait_active)
    waiter.start()
    during = work_times(*work, active)
    waiter.join()
    return alone, statistics.median(during), time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--init-seconds", type=float, default=3.0)
    args = parser.parse_args()
    with class_emulator() as (endpoint, _):
        work = create(endpoint, 0, WORK)
        work_times(*work, None)  # its two environments started
        rows = [one_repeat(endpoint, work, args.init_seconds, 1 + i) for i in range(args.repeats)]
    for alone, during, pending in rows:
        print(f"work alone {alone:.3f} s, during INIT {during:.3f} s (x{during / alone:.2f}), Pending {pending:.1f} s")
    ratios = [during / alone for alone, during, _ in rows]
    print(f"median: work slowed x{statistics.median(ratios):.2f} during another account's INIT; "
          f"Pending {statistics.median(p for _, _, p in rows):.1f} s for {args.init_seconds:g} CPU-s of INIT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
