"""An interrupted class run (Ctrl-C, SIGTERM) leaves no worker process running: each worker leads a session of its
own, so the terminal's signal does not reach it, and the runner ends it."""

import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.progress import Progress

from grader.classroom import runner
from grader.classroom.contention import Timeline
from grader.classroom.deploy_jail import UNJAILED
from grader.classroom.settings import ClassSettings, account_id


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_worker_interrupted_while_it_runs_is_ended(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sleeper = tmp_path / "sleeper"
    sleeper.write_text("#!/bin/sh\nexec sleep 60\n")
    sleeper.chmod(0o755)
    monkeypatch.setattr(runner, "sys", SimpleNamespace(executable=str(sleeper)))  # the worker command, sleeping
    started: list[int] = []

    def interrupted(process: subprocess.Popen[str], limit: float, waiting: runner.GateWait) -> bool:
        started.append(process.pid)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_outlived", interrupted)
    (tmp_path / "sub").mkdir()
    with Progress(disable=True) as progress, pytest.raises(KeyboardInterrupt):
        runner._run_worker(tmp_path / "sub", tmp_path / "out", account_id(1), "http://127.0.0.1:9", ClassSettings(),
                           progress, progress.add_task("sub", start=False), runner.Watch(None, Timeline()), UNJAILED)
    assert started and gone(started[0])


def test_killing_the_live_workers_ends_each_one_s_whole_group() -> None:
    workers = runner.LiveWorkers()
    leader = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], start_new_session=True)
    workers.add(leader.pid)
    workers.kill_all()
    assert leader.wait(10) == -9
    deadline = time.monotonic() + 10  # SIGKILL reaches the child asynchronously; a zombie is not alive
    while _living_members(leader.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _living_members(leader.pid) == []


def _living_members(pgid: int) -> list[int]:
    """The processes of a process group that are not zombies, from /proc/PID/stat (state, then pgrp)."""
    living = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            living.append(int(stat.parent.name))
    return living
