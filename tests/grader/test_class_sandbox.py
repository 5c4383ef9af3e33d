"""A deploy command runs inside its limits: wall-clock (its children too), CPU time, memory, its own TMPDIR, and an
environment with nothing of ours."""

import os
import sys
import time
from pathlib import Path

from emulator.daemon import pid_alive
from grader.classroom.sandbox import Limits, minimal_environment, run_limited

LIMITS = Limits(cpu_seconds=5, memory_mib=1024, wall_seconds=10)


def run(tmp_path: Path, code: str, limits: Limits = LIMITS, env: dict[str, str] | None = None):
    return run_limited([sys.executable, "-c", code], tmp_path, env or minimal_environment({}), limits,
                       tmp_path / "log", tmp_path / "tmp")


def test_a_command_that_hangs_is_stopped_with_its_children(tmp_path: Path) -> None:
    code = ("import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
            "print(p.pid, flush=True); time.sleep(60)")
    result = run(tmp_path, code, Limits(5, 1024, 4))  # time for two Pythons to start on a loaded machine
    assert result.timed_out and not result.ok and "within 4 s" in result.describe()
    child = int(result.tail().split()[0])
    deadline = time.monotonic() + 10  # SIGKILL reaches the child asynchronously; a zombie is not alive
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child)


def test_a_command_spinning_the_cpu_is_killed_at_its_cpu_limit(tmp_path: Path) -> None:
    result = run(tmp_path, "while True: pass", Limits(1, 1024, 20))
    assert result.returncode < 0 and not result.timed_out and "SIGXCPU" in result.describe()


def test_a_command_allocating_too_much_fails_with_memory_error(tmp_path: Path) -> None:
    result = run(tmp_path, "x = bytearray(600 * 1024 * 1024)", Limits(5, 256, 20))
    assert result.returncode == 1 and "MemoryError" in result.tail()


def test_it_gets_its_own_tmpdir_and_none_of_our_aws_settings(tmp_path: Path) -> None:
    os.environ["AWS_SECRET_ACCESS_KEY"] = "grader-secret-must-not-leak"
    try:
        env = minimal_environment({"AWS_ACCESS_KEY_ID": "100000000001"})
        result = run(tmp_path, "import os, tempfile; print(tempfile.gettempdir(), sorted(os.environ))", env=env)
    finally:
        del os.environ["AWS_SECRET_ACCESS_KEY"]
    assert result.ok, result.tail()
    assert str(tmp_path / "tmp") in result.tail() and "AWS_SECRET_ACCESS_KEY" not in result.tail()
    assert "AWS_ACCESS_KEY_ID" in result.tail()


def test_it_runs_at_its_nice_value_above_ours(tmp_path: Path) -> None:
    result = run(tmp_path, "import os; print(os.nice(0))", Limits(5, 1024, 10, nice=7))
    assert result.ok, result.tail()
    assert int(result.tail()) == min(19, os.nice(0) + 7)
