"""`python -m emulator status/reset`, `up --fresh`: what the saved state holds, and starting empty."""

import os

import pytest

from emulator.daemon import free_loopback_port
from tests.conftest import DUMMY_ENV
from tests.emulator.test_cli import _run

pytestmark = pytest.mark.integration


def test_status_shows_the_saved_state_and_reset_is_refused_while_running(tmp_path):
    env = {**os.environ, **DUMMY_ENV, "EMULATOR_STATE_DIR": str(tmp_path), "EMULATOR_PORT": str(free_loopback_port())}
    try:
        assert _run("up", "--no-stack", env=env).returncode == 0
        refused = _run("reset", env=env)
        assert refused.returncode == 1 and "stop it first" in refused.stderr
        again = _run("up", "--no-stack", "--fresh", env=env)
        assert again.returncode == 1 and "stop it first" in again.stderr
    finally:
        _run("down", env=env)
    status = _run("status", env=env)
    assert "state in" in status.stdout and "S3: 0 objects" in status.stdout and "MB on disk" in status.stdout
    reset = _run("reset", env=env)
    assert reset.returncode == 0 and not (tmp_path / "state").exists()
    assert "none saved yet" in _run("status", env=env).stdout
