"""The isolation plan (emulator/lambda_runtime/isolation.py) without an emulator: uids per account, the fallback when
the host refuses, the folders covered and bound back, the cgroup hierarchy found; and, as a user other than root,
the user namespace that makes the private mounts possible."""

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from emulator.lambda_runtime.errors import EmulatorError
from emulator.lambda_runtime.isolation import (
    ENV_ISOLATION,
    ENV_ISOLATION_HIDE,
    FIRST_UID,
    Isolation,
    account_uid,
    find_cpu_shares,
    plan_isolation,
)
from emulator.lambda_runtime.snapshot_template import (
    ISOLATE_AS_MB_ENV,
    ISOLATE_CGROUP_ENV,
    ISOLATE_NICE_ENV,
    ISOLATE_UID_ENV,
    ISOLATE_USERNS_ENV,
    MOUNT_COVER_ENV,
    MOUNT_PROC_ENV,
    MOUNT_REVEAL_ENV,
)
from emulator.lambda_runtime.spec import TEMPLATE_SCRIPT


def test_each_class_account_gets_its_own_stable_uid() -> None:
    uids = [account_uid(f"{100_000_000_001 + i:012d}") for i in range(300)]
    assert len(set(uids)) == 300 and min(uids) == FIRST_UID + 1 and max(uids) < FIRST_UID + 100_000
    assert account_uid("123456789012") == account_uid("123456789012") != account_uid("123456789013")
    for bad in ("12345", "abcdefghijkl", "1234567890123"):
        with pytest.raises(EmulatorError, match="12 digits"):
            account_uid(bad)


def test_off_by_default_and_an_unknown_mode_is_an_error(tmp_path: Path) -> None:
    asked = []
    isolation, _ = plan_isolation({}, tmp_path, lambda env: asked.append(env))
    assert not isolation.enabled and isolation.variables("100000000001", 128) == {} and asked == [{}]
    with pytest.raises(EmulatorError, match="accounts"):
        plan_isolation({ENV_ISOLATION: "strict"}, tmp_path, lambda env: None)


@pytest.mark.parametrize(("root", "userns_allowed", "how"), [(False, True, "mounts"), (False, False, "off"),
                                                            (True, True, "off")])
def test_off_and_not_root_the_private_mounts_come_from_a_user_namespace(tmp_path: Path, monkeypatch, root: bool,
                                                                       userns_allowed: bool, how: str) -> None:
    """Issue 21: a laptop user without root still gets a private /tmp and /var/task when the kernel allows
    unprivileged user namespaces; as root (mounts allowed anyway) or where refused, nothing changes."""
    monkeypatch.setattr(os, "geteuid", lambda: 0 if root else 1000)

    def probe(env: dict[str, str]) -> str | None:
        if not env:
            return "mount: Operation not permitted"
        return None if userns_allowed else "unshare(CLONE_NEWUSER): Operation not permitted"

    isolation, private_tmp = plan_isolation({}, tmp_path, probe)
    assert (isolation.how, private_tmp is None, isolation.enabled) == (how, how == "mounts", False)
    assert isolation.variables("123456789012", 128) == ({ISOLATE_USERNS_ENV: "1"} if how == "mounts" else {})


def test_a_host_that_refuses_runs_functions_unisolated_with_one_warning(tmp_path: Path, caplog) -> None:
    asked = []

    def probe(env: dict[str, str]) -> str | None:
        asked.append(env)
        return "unshare(CLONE_NEWUSER): Operation not permitted" if env else None

    with caplog.at_level(logging.WARNING):
        isolation, private_tmp = plan_isolation({ENV_ISOLATION: "accounts"}, tmp_path, probe)
    assert not isolation.enabled and private_tmp is None and "Operation not permitted" in isolation.note
    assert len(asked) == 2 and (ISOLATE_UID_ENV in asked[0] or ISOLATE_USERNS_ENV in asked[0])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "NOT isolated" in warnings[0], warnings


def test_an_accepted_plan_gives_each_account_its_variables(tmp_path: Path) -> None:
    environ = {ENV_ISOLATION: "accounts", ENV_ISOLATION_HIDE: os.pathsep.join(["/srv/class", "/srv/out"])}
    isolation, private_tmp = plan_isolation(environ, tmp_path, lambda env: None)
    assert isolation.enabled and private_tmp is None
    assert isolation.hidden == (tmp_path, Path("/srv/class"), Path("/srv/out"))
    env = Isolation(isolation.how, None, isolation.hidden).variables("100000000002", 1024)
    assert env[ISOLATE_AS_MB_ENV] == str(1024 + 4096) and env[ISOLATE_NICE_ENV] == "10"
    assert env.get(ISOLATE_UID_ENV, env.get(ISOLATE_USERNS_ENV)) == str(FIRST_UID + 2)


def test_as_root_other_processes_are_hidden_unless_the_host_refuses_the_mount(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    environ = {ENV_ISOLATION: "accounts"}
    hidden, _ = plan_isolation(environ, tmp_path, lambda env: None)
    assert hidden.own_processes_only and hidden.mounts([], tmp_path)[MOUNT_PROC_ENV] == "1"
    assert "processes listed: only their account's" in hidden.note
    refusal = "mount proc on /proc: Operation not permitted"
    shown, _ = plan_isolation(environ, tmp_path, lambda env: refusal if MOUNT_PROC_ENV in env else None)
    assert shown.enabled and not shown.own_processes_only and MOUNT_PROC_ENV not in shown.mounts([], tmp_path)
    assert f"processes listed: the host's ({refusal})" in shown.note


def test_hidden_folders_and_closed_ones_above_what_a_function_needs_are_covered(tmp_path: Path) -> None:
    closed, state, class_dir = tmp_path / "home", tmp_path / "state", tmp_path / "class"
    interpreter, tmp_root = closed / "pyenv" / "3.11", state / "tmp"
    for folder in (interpreter, tmp_root, class_dir):
        folder.mkdir(parents=True)
    closed.chmod(0o700)
    env = Isolation("uid", None, (state, class_dir)).mounts([interpreter], tmp_root)
    covered = {p for p in env[MOUNT_COVER_ENV].split(os.pathsep) if Path(p) != tmp_path and Path(p).is_relative_to(
        tmp_path)}  # pytest's own folders are closed too
    assert covered == {str(closed), str(state), str(class_dir)}
    assert set(env[MOUNT_REVEAL_ENV].split(os.pathsep)) == {str(interpreter), str(tmp_root)}
    assert Isolation().mounts([interpreter], tmp_root) == {}


def test_the_cpu_hierarchy_is_the_first_writable_one_with_the_cpu_controller(tmp_path: Path) -> None:
    v2, v1 = tmp_path / "unified", tmp_path / "cpu"
    v2.mkdir()
    v1.mkdir()
    (v2 / "cgroup.subtree_control").write_text("memory pids\n")  # no cpu delegated below the v2 root
    mounts = tmp_path / "mounts"
    mounts.write_text(f"cgroup2 {v2} cgroup2 rw 0 0\ncgroup {v1} cgroup rw,relatime,cpu 0 0\n")
    shares = find_cpu_shares(mounts)
    assert shares is not None and shares.root == v1
    procs = shares.procs_file("100000000001")
    assert procs == str(v1 / "lambda-account-100000000001" / "cgroup.procs")
    assert (v1 / "lambda-account-100000000001" / "cpu.shares").read_text() == str(1024 * (os.cpu_count() or 1))
    env = Isolation("uid", shares, ()).variables("100000000001", 128)
    assert env[ISOLATE_CGROUP_ENV] == procs and ISOLATE_NICE_ENV not in env
    mounts.write_text(f"cgroup2 {v2} cgroup2 rw 0 0\n")
    assert find_cpu_shares(mounts) is None


SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv") or not SYSTEM_PYTHON.exists(),
                    reason="needs root (to become another user), setpriv and a system-wide python3")
@pytest.mark.parametrize(("userns", "allowed"), [(True, True), (False, False)])
def test_not_root_the_private_mounts_need_a_user_namespace(userns: bool, allowed: bool) -> None:
    env = {"PATH": "/usr/bin:/bin", **({ISOLATE_USERNS_ENV: "1"} if userns else {})}
    with tempfile.TemporaryDirectory(prefix="isolation-probe-") as folder:  # pytest's own are closed to others
        Path(folder).chmod(0o777)
        probe = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(SYSTEM_PYTHON),
                                str(TEMPLATE_SCRIPT), "--probe", folder], env=env, capture_output=True, text=True,
                               timeout=30, check=False)
    if userns and "unshare(CLONE_NEWUSER)" in probe.stderr:
        pytest.skip(f"this kernel refuses unprivileged user namespaces: {probe.stderr.strip()}")
    assert (probe.returncode == 0) == allowed, probe.stderr
