"""`python -m emulator up/outputs/down`: background start with a pid file, idempotent."""

import json
import os
import subprocess
import sys

import pytest

from emulator.daemon import free_loopback_port, pid_alive
from tests.conftest import DUMMY_ENV, ROOT

pytestmark = pytest.mark.integration


def _run(*args, env):
    return subprocess.run([sys.executable, "-m", "emulator", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)


def test_up_is_idempotent_outputs_is_json_and_down_stops_it(tmp_path):
    env = {**os.environ, **DUMMY_ENV, "EMULATOR_STATE_DIR": str(tmp_path), "EMULATOR_PORT": str(free_loopback_port())}
    try:
        first = _run("up", "--no-stack", env=env)
        assert first.returncode == 0, first.stderr
        pid = int((tmp_path / "emulator.pid").read_text())
        second = _run("up", "--no-stack", env=env)
        assert second.returncode == 0 and f"pid {pid}" in second.stdout
        outputs = _run("outputs", env=env)
        assert json.loads(outputs.stdout) == {}
    finally:
        down = _run("down", env=env)
    assert "stopped" in down.stdout
    assert not (tmp_path / "emulator.pid").exists()
    assert not pid_alive(pid)
    status = _run("status", env=env)
    assert status.returncode == 1 and "no emulator is running" in status.stderr
