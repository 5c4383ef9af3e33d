"""No AWS credential in the repository, in the emulator's logs or in the grader's reports; the emulator's own
credentials are obviously dummy (local-emulator-dummy-*)."""

import re
import subprocess
from pathlib import Path

import pytest

from emulator.config import DUMMY_CREDENTIALS
from tests.conftest import ROOT
from tests.pipeline.conftest import new_device, upload_clip

ACCESS_KEY_ID = re.compile(rb"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
SECRET_KEY = re.compile(rb"(?i)secret_?access_?key\W{0,6}([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])")
MAX_SCANNED_BYTES = 5 * 2**20  # videos and model weights are not text


def credentials_in(path: Path) -> list[str]:
    """Each AWS access key id or 40-character secret key found in a file, with its line number."""
    data = path.read_bytes()
    if len(data) > MAX_SCANNED_BYTES or b"\0" in data[:8192]:
        return []
    found = []
    for pattern in (ACCESS_KEY_ID, SECRET_KEY):
        for match in pattern.finditer(data):
            line = data.count(b"\n", 0, match.start()) + 1
            found.append(f"{path}:{line}: {match.group(0)[:12].decode()}...")
    return found


def test_the_patterns_catch_a_credential(tmp_path):
    sample = tmp_path / "leak.env"
    key_id, secret = "AKIA" + "Q7" * 8, "wJalr/" + "K7mdEng" * 4 + "abcdef"  # built here: this file stays clean
    sample.write_text(f"AWS_ACCESS_KEY_ID={key_id}\naws_secret_access_key = {secret}\n")
    assert len(credentials_in(sample)) == 2


def test_the_emulators_credentials_are_obviously_dummy():
    assert all(value.startswith("local-emulator-dummy-") for value in DUMMY_CREDENTIALS.values())


def test_no_file_in_the_repository_holds_a_credential():
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    files = [ROOT / name for name in listed if name and (ROOT / name).is_file()]
    assert len(files) > 50
    assert [hit for path in files for hit in credentials_in(path)] == []


@pytest.mark.integration
def test_the_emulator_log_holds_no_credential(emulator, results):
    device = new_device()
    upload_clip(emulator, device, "test_2.mp4")
    assert results.wait_for(device)
    assert emulator.log_path.stat().st_size > 0
    assert credentials_in(emulator.log_path) == []


@pytest.mark.integration
def test_the_grader_reports_and_emulator_state_hold_no_credential(emulator):
    folders = (ROOT / "reports", ROOT / ".emulator", emulator.state_dir)  # the session emulator's is never empty
    files = [path for folder in folders if folder.is_dir() for path in folder.rglob("*") if path.is_file()]
    assert emulator.log_path in files
    assert [hit for path in files for hit in credentials_in(path)] == []
