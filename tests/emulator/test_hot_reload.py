"""Hot reload: a saved change to a function's local folder reaches the next event without a restart."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, start_emulator

pytestmark = pytest.mark.integration

NO_RECORDS = json.dumps({"Records": []}).encode()
RETURN_LINE = 'return {"frames": written}'


def answer(lam: Any, function: str) -> dict[str, Any]:
    response = lam.invoke(FunctionName=function, Payload=NO_RECORDS)
    return {"error": "FunctionError" in response, "body": json.loads(response["Payload"].read())}


def answer_once_changed(lam: Any, function: str, before: dict[str, Any], wait: float = 20.0) -> dict[str, Any]:
    """The first answer that differs from `before` (the watcher debounces; the wait only bounds a failure)."""
    deadline = time.monotonic() + wait
    while (current := answer(lam, function)) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    return current


@pytest.fixture
def editable_emulator(tmp_path: Path):
    lambdas = tmp_path / "lambdas"
    shutil.copytree(ROOT / "lambdas", lambdas, ignore=shutil.ignore_patterns("__pycache__"))
    emulator = start_emulator(tmp_path / "state", "--lambdas", str(lambdas))
    yield emulator, lambdas / "frame_extractor" / "app.py"
    emulator.stop()


def test_a_saved_edit_serves_the_next_event_and_a_broken_one_fails_until_fixed(editable_emulator):
    emulator, app = editable_emulator
    lam, function = emulator.client("lambda"), emulator.outputs["FrameExtractorFunction"]
    original = answer(lam, function)
    assert original == {"error": False, "body": {"frames": 0}}
    source = app.read_text()

    app.write_text(source.replace(RETURN_LINE, 'return {"frames": written, "edited": True}'))
    assert answer_once_changed(lam, function, original) == {"error": False, "body": {"frames": 0, "edited": True}}

    app.write_text(source.replace(RETURN_LINE, "return {"))
    broken = answer_once_changed(lam, function, {"error": False, "body": {"frames": 0, "edited": True}})
    assert broken["error"] and broken["body"]["errorType"] == "Runtime.UserCodeSyntaxError"
    assert answer(lam, function) == broken  # keeps failing, without re-running INIT, until the next save

    app.write_text(source)
    assert answer_once_changed(lam, function, broken) == original
    log = emulator.log_path.read_text()
    assert f"reloaded {function} (1 files changed)" in log
    assert log.count("[ERROR] Runtime.UserCodeSyntaxError") == 1  # the traceback once, not per event
