"""pytest plugin for bench/bench_suite.py: each xdist worker joins a cpuacct cgroup of its own under the run's
($SUITE_CPU_CGROUP), so the emulators, Lambda environments and tools a test starts are counted with it, even those
that outlive their parent. Writes one JSON line per test (CPU-s of the worker's cgroup from the test's setup to its
teardown, wall seconds) and one for the worker's start and collection, to $SUITE_CPU_OUT/<worker>.jsonl.

cpuacct: https://docs.kernel.org/admin-guide/cgroup-v1/cpuacct.html (cpuacct.usage: nanoseconds of the group's tasks).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

ENV_CGROUP = "SUITE_CPU_CGROUP"
ENV_OUT = "SUITE_CPU_OUT"
COLLECTION = "<worker start + collection>"


def cgroup_seconds(cgroup: Path) -> float:
    """The CPU-s the cgroup's tasks (and its sub-cgroups') used so far."""
    return int((cgroup / "cpuacct.usage").read_text()) / 1e9


class WorkerCpu:
    """Times each test of one worker against the worker's own cgroup."""

    def __init__(self, cgroup: Path, out: Path) -> None:
        self.cgroup, self.out = cgroup, out
        self.started = cgroup_seconds(cgroup)
        self.lines: list[dict[str, Any]] = []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.lines.append({"test": COLLECTION, "cpu": cgroup_seconds(self.cgroup) - self.started, "wall": 0.0})

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        cpu, wall = cgroup_seconds(self.cgroup), time.monotonic()
        try:
            return (yield)
        finally:
            self.lines.append({"test": item.nodeid, "cpu": cgroup_seconds(self.cgroup) - cpu,
                               "wall": time.monotonic() - wall})

    def pytest_sessionfinish(self) -> None:
        self.lines.append({"test": "<worker total>", "cpu": cgroup_seconds(self.cgroup), "wall": 0.0})
        self.out.write_text("".join(json.dumps(line) + "\n" for line in self.lines))


def pytest_configure(config: pytest.Config) -> None:
    run_cgroup, out = os.environ.get(ENV_CGROUP), os.environ.get(ENV_OUT)
    if not run_cgroup or not out:
        raise pytest.UsageError(f"bench.suite_cpu needs ${ENV_CGROUP} and ${ENV_OUT} (bench/bench_suite.py sets them)")
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    cgroup = Path(run_cgroup) / worker
    cgroup.mkdir(exist_ok=True)
    (cgroup / "cgroup.procs").write_text(str(os.getpid()))
    config.pluginmanager.register(WorkerCpu(cgroup, Path(out) / f"{worker}.jsonl"), "suite-cpu-worker")
