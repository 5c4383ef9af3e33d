"""Where the test suite's CPU goes: runs pytest as `make test` does (-n workers) with bench/suite_cpu.py, every
process it starts in a cpuacct cgroup of the run (each xdist worker in one of its own), and prints the total CPU-s,
the wall time, the load average during the run, and the top test files and tests by CPU-s (emulators, Lambda
environments and tools they start included).

Run (root, cgroup v1 cpuacct mounted): .venv/bin/python bench/bench_suite.py [--workers 4] [--top 25] [pytest args]
Figures depend on the machine's other load: compare A/B in interleaved runs, and read the load average it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.suite_cpu import COLLECTION, ENV_CGROUP, ENV_OUT, cgroup_seconds  # noqa: E402

CPUACCT = Path("/sys/fs/cgroup/cpuacct")
LOAD_SAMPLE_SECONDS = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", type=Path, help="also write the per-test figures here")
    args, pytest_args = parser.parse_known_args()
    if not (CPUACCT / "cpuacct.usage").is_file() or not os.access(CPUACCT, os.W_OK):
        parser.error(f"needs a writable cgroup v1 cpuacct hierarchy at {CPUACCT} (run as root)")
    run_cgroup = CPUACCT / f"facepipe-suite-{os.getpid()}"
    run_cgroup.mkdir()
    with tempfile.TemporaryDirectory() as out:
        wall, status, loads = run_suite(run_cgroup, Path(out), args.workers, pytest_args)
        total = cgroup_seconds(run_cgroup)
        lines = [json.loads(line) for path in Path(out).glob("*.jsonl") for line in path.read_text().splitlines()]
    remove_cgroups(run_cgroup)
    report(lines, total, wall, status, loads, args.top)
    if args.json:
        args.json.write_text(json.dumps({"total_cpu": total, "wall": wall, "exit": status, "load": loads,
                                         "tests": lines}, indent=1))
    return status


def run_suite(run_cgroup: Path, out: Path, workers: int, pytest_args: list[str]) -> tuple[float, int, list[float]]:
    """Runs pytest in the run's cgroup; (wall seconds, exit status, 1-minute load averages sampled meanwhile)."""
    env = {**os.environ, ENV_CGROUP: str(run_cgroup), ENV_OUT: str(out), "PYTHONDONTWRITEBYTECODE": "",
           "PYTHONPYCACHEPREFIX": str(ROOT / ".pytest_cache" / "pycache"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "pytest", "-q", "-n", str(workers), "-p", "bench.suite_cpu", *pytest_args]
    loads: list[float] = []
    done = threading.Event()

    def sample_load() -> None:
        while not done.wait(LOAD_SAMPLE_SECONDS):
            loads.append(os.getloadavg()[0])

    sampler = threading.Thread(target=sample_load, daemon=True)
    sampler.start()
    started = time.monotonic()
    with subprocess.Popen(command, cwd=ROOT, env=env, preexec_fn=lambda: join_cgroup(run_cgroup)) as process:
        status = process.wait()
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    return wall, status, loads


def join_cgroup(cgroup: Path) -> None:
    (cgroup / "cgroup.procs").write_text(str(os.getpid()))


def remove_cgroups(run_cgroup: Path) -> None:
    """Removes the run's cgroups; says which still hold processes (left running by the suite)."""
    for cgroup in [*sorted(p for p in run_cgroup.iterdir() if p.is_dir()), run_cgroup]:
        left = (cgroup / "cgroup.procs").read_text().split()
        if left:
            print(f"still running in {cgroup.name}: pids {' '.join(left)} (cgroup kept)")
            continue
        cgroup.rmdir()


def report(lines: list[dict], total: float, wall: float, status: int, loads: list[float], top: int) -> None:
    tests = [line for line in lines if not line["test"].startswith("<")]
    collection = [line["cpu"] for line in lines if line["test"] == COLLECTION]
    by_file: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for line in tests:
        row = by_file[line["test"].split("::")[0]]
        row[0], row[1], row[2] = row[0] + line["cpu"], row[1] + line["wall"], row[2] + 1
    in_tests = sum(line["cpu"] for line in tests)
    print(f"\nexit {status}; wall {wall:.1f} s; CPU {total:.1f} CPU-s (cgroup of the whole run); "
          f"in tests {in_tests:.1f}; worker start + collection {sum(collection):.1f} "
          f"({len(collection)} processes); else {total - in_tests - sum(collection):.1f}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"rusage of the reaped children (as /usr/bin/time counts): {children.ru_utime + children.ru_stime:.1f} CPU-s")
    if loads:
        print(f"1-min load average during the run: min {min(loads):.2f} median {statistics.median(loads):.2f} "
              f"max {max(loads):.2f} ({len(loads)} samples)")
    print(f"\ntop {top} test files by CPU-s (tests, wall s):")
    for path, (cpu, seconds, count) in sorted(by_file.items(), key=lambda item: -item[1][0])[:top]:
        print(f"{cpu:8.1f}  {seconds:7.1f}  {count:4d}  {path}")
    print(f"\ntop {top} tests by CPU-s (wall s; module/session fixtures count in the test that set them up or tore "
          "them down):")
    for line in sorted(tests, key=lambda line: -line["cpu"])[:top]:
        print(f"{line['cpu']:8.1f}  {line['wall']:7.1f}  {line['test']}")


if __name__ == "__main__":
    sys.exit(main())
