"""A submission's deploy command runs jailed (as root): as its account's uid, in a copy of its own folder beside the
class's shared folders, with a HOME and TMPDIR of its own; the other submissions, the out dir and the emulator's
state are out of its sight, and so are other users' processes. Not root: as before, and the class report says so."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.lambda_runtime.isolation import account_uid
from grader.classroom.deploy_jail import UNJAILED, ClassFolders, jail_refusal, staged
from grader.classroom.manifest import Manifest
from grader.classroom.settings import ClassSettings, account_id
from grader.classroom.submission import deploy

ACCOUNT = account_id(7)
SECRET = "the-classmates-secret"
# The intruder's deploy: one line per probe, `NAME: read ...` or `NAME: refused ...`.
PROBE = """
import glob, os, sys
def probe(name, action):
    try:
        print(f"{name}: read {action()!r}")
    except OSError as exc:
        print(f"{name}: refused {type(exc).__name__}")
root, out, state = sys.argv[1:4]
probe("classmate", lambda: open(f"{root}/victim/secret.txt").read())
probe("classmate listing", lambda: os.listdir(f"{root}/victim"))
probe("state", lambda: os.listdir(state))
probe("out", lambda: open(f"{out}/victim/report.json").read())
probe("shared", lambda: open("../_shared/lib.txt").read())
probe("own", lambda: open("grading.toml").read()[:9])
probe("home", lambda: open(os.path.join(os.environ["HOME"], "x"), "w").write("x"))
probe("tmpdir", lambda: open(os.path.join(os.environ["TMPDIR"], "y"), "w").write("y"))
probe("root's processes", lambda: [p for p in glob.glob("/proc/[0-9]*") if os.stat(p).st_uid == 0][:3])
print("uid", os.getuid(), os.getgid())
"""


@pytest.fixture
def open_class() -> Iterator[Path]:
    """A class folder others can pass through (mode 0755 all the way), as a TA's checkout usually is."""
    work = Path(tempfile.mkdtemp(prefix="jail-test-"))
    work.chmod(0o755)
    for folder, name, text in (("root/victim", "secret.txt", SECRET), ("root/_shared", "lib.txt", "shared code"),
                               ("root/intruder", "probe.py", PROBE), ("out/victim", "report.json", SECRET),
                               ("state", "emulator.log", SECRET)):
        (work / folder).mkdir(parents=True, exist_ok=True)
        (work / folder / name).write_text(text)
    (work / "root/intruder/grading.toml").write_text('student = "intruder"\n')
    yield work
    shutil.rmtree(work, ignore_errors=True)


def intruder(work: Path) -> Manifest:
    command = f"python probe.py {work / 'root'} {work / 'out'} {work / 'state'}"
    return Manifest.model_validate({"student": "intruder", "deploy": {"command": command},
                                    "resources": {"input_bucket": "b", "output_queue": "q", "frame_extractor": "f",
                                                  "face_classifier": "c"}})


def probes(work: Path, folders: ClassFolders) -> dict[str, str]:
    """Deploy the intruder; its probes' answers by name."""
    result = deploy(intruder(work), work / "root/intruder", work / "out/intruder", ACCOUNT, "http://127.0.0.1:9",
                    ClassSettings(deploy_timeout=30), folders)
    log = (work / "out/intruder/deploy.log").read_text()
    assert result.ok, log
    return dict(line.split(": ", 1) if ": " in line else line.split(" ", 1) for line in log.splitlines())


@pytest.mark.skipif(os.geteuid() != 0, reason="a deploy is jailed only as root")
def test_a_jailed_deploy_reads_nothing_of_its_classmates_the_out_dir_or_the_emulators_state(open_class: Path) -> None:
    folders = ClassFolders((open_class / "root", open_class / "out", open_class / "state"),
                           (open_class / "root/_shared",))
    seen = probes(open_class, folders)
    for name in ("classmate", "classmate listing", "state", "out"):
        assert seen[name].startswith("refused") or seen[name] == "read []", (name, seen)
    assert SECRET not in str(seen)
    assert seen["shared"] == "read 'shared code'" and seen["own"] == "read 'student ='", seen
    assert seen["home"].startswith("read") and seen["tmpdir"].startswith("read"), seen
    assert seen["root's processes"] == "read []", seen
    assert seen["uid"] == f"{account_uid(ACCOUNT)} {account_uid(ACCOUNT)}"
    assert sorted(p.name for p in (open_class / "root/intruder").iterdir()) == ["grading.toml", "probe.py"]


@pytest.mark.skipif(os.geteuid() != 0, reason="shows what the jail prevents: root reads everything")
def test_unjailed_the_same_deploy_reads_its_classmates_secret(open_class: Path) -> None:
    """The fallback (not root), run here as root: what the jail stops, so the test above can fail."""
    seen = probes(open_class, UNJAILED)
    assert seen["classmate"] == f"read {SECRET!r}" and seen["uid"] == "0 0", seen


def test_not_root_the_deploy_runs_as_before_and_the_reason_is_given(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert jail_refusal() == "not root (uid 1000): no uid of their own"
    with staged(tmp_path / "sub", ACCOUNT, UNJAILED, tmp_path / "out") as stage:
        assert (stage.cwd, stage.home, stage.jail) == (tmp_path / "sub", None, None)


@pytest.mark.skipif(os.geteuid() != 0, reason="a deploy is jailed only as root")
def test_as_root_the_jail_is_available_and_its_stage_is_the_accounts_alone(open_class: Path) -> None:
    assert jail_refusal() is None
    folders = ClassFolders((open_class / "root",), (open_class / "root/_shared",))
    with staged(open_class / "root/intruder", ACCOUNT, folders, open_class / "out") as stage:
        top = stage.cwd.parents[1]
        assert (top.stat().st_uid, top.stat().st_mode & 0o777) == (account_uid(ACCOUNT), 0o700)
        assert sorted(p.name for p in stage.cwd.parent.iterdir()) == ["_shared", "intruder"]
        assert stage.jail is not None and str((open_class / "root").resolve()) in stage.jail.cover
    assert not top.exists()
