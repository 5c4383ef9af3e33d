"""A function's snapshot: runs INIT once, then forks execution environments on request.

This file runs inside the function's own interpreter (started by `emulator.lambda_runtime.template`), so it
imports only the standard library and awslambdaric. It follows AWS's SnapStart protocol: INIT and the
`register_before_snapshot` hooks run here, once; each forked environment asks `/restore/next`, runs the
`register_after_restore` hooks and serves events through awslambdaric's own loop (`bootstrap.run`, whose import
of the handler module is then a cache hit).

Control messages (JSON over a SOCK_SEQPACKET socket inherited from the emulator):
  template -> emulator, once: {"ready": true} or {"init_error": {...}}
  {"op": "fork", "env": {...}} + the new environment's output fd  ->  {"pid": N}
  {"op": "reap", "pid": N}  ->  {"exit_code": C}   (negative: killed by that signal)
End of file on the socket ends the template.

Private /tmp (and /opt): when the emulator sets `_EMULATOR_MOUNT_TMP`, the process enters a mount namespace of its
own (`unshare(CLONE_NEWNS)`; Python 3.11 has no `os.unshare`) in which that folder is `/tmp`: bind-mounted for the
template and for a spawned environment, an overlay on the template's `/tmp` for a forked one (what INIT wrote is
there, as in a SnapStart snapshot; what the environment writes is its own). `_EMULATOR_MOUNT_OPT` is bind-mounted
on `/opt` (the function's layers); the code folder (LAMBDA_TASK_ROOT) and `/opt` are read-only, as on AWS; the
folders in `_EMULATOR_MOUNT_KEEP` (the emulator's own, when they live under /tmp) are bound back at their paths.
`--spawn HANDLER` sets this up and execs `python -m awslambdaric HANDLER`; `--probe DIR` tells whether the
machine allows it.

Isolation (EMULATOR_ISOLATION=accounts, emulator/lambda_runtime/isolation.py): after the mounts and before any user
code, the process joins its account's CPU cgroup (`_EMULATOR_ISOLATE_CGROUP`) or lowers its priority, takes an
address-space backstop (RLIMIT_AS), covers the emulator's folders with empty tmpfs (`_EMULATOR_MOUNT_COVER`, with
`_EMULATOR_MOUNT_REVEAL` bound back), then enters a user namespace whose root is the account's uid outside
(`_EMULATOR_ISOLATE_UID`; as root) or its own uid (`_EMULATOR_ISOLATE_USERNS`, not root: before the mounts, which
that namespace then allows). Forks inherit all of it and, root inside that namespace, still mount their own /tmp.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import random
import resource
import signal
import socket
import sys
import tempfile
import traceback
from typing import Any

CONTROL_FD_ENV = "_EMULATOR_TEMPLATE_CONTROL_FD"
_PR_SET_PDEATHSIG, _PR_SET_NO_NEW_PRIVS = 1, 38
_MAX_MESSAGE = 1 << 20
# awslambdaric's native HTTP client reads AWS_LAMBDA_RUNTIME_API once, when first imported; every environment
# has its own Runtime API, so the template keeps it unimported and each environment imports it after the fork.
_NATIVE_CLIENT = "runtime_client"
MOUNT_TMP_ENV = "_EMULATOR_MOUNT_TMP"
MOUNT_TASK_ENV = "_EMULATOR_MOUNT_TASK"  # the function's code folder, bind-mounted on /var/task
TASK_ROOT = "/var/task"
MOUNT_TMP_MB_ENV = "_EMULATOR_MOUNT_TMP_MB"  # the function's EphemeralStorage: /tmp is a tmpfs of that size
MOUNT_LOWER_ENV = "_EMULATOR_MOUNT_LOWER"
MOUNT_OPT_ENV = "_EMULATOR_MOUNT_OPT"
MOUNT_KEEP_ENV = "_EMULATOR_MOUNT_KEEP"
MOUNT_COVER_ENV = "_EMULATOR_MOUNT_COVER"  # folders hidden under an empty tmpfs
MOUNT_REVEAL_ENV = "_EMULATOR_MOUNT_REVEAL"  # folders under those, bound back at their paths
MOUNT_PROC_ENV = "_EMULATOR_MOUNT_PROC"  # a /proc of its own that lists only the processes of its own uid
ISOLATE_UID_ENV = "_EMULATOR_ISOLATE_UID"  # root: user code runs as this uid (root of a user namespace of its own)
ISOLATE_USERNS_ENV = "_EMULATOR_ISOLATE_USERNS"  # not root: a user namespace mapping our own uid
ISOLATE_CGROUP_ENV = "_EMULATOR_ISOLATE_CGROUP"  # the cgroup.procs file of the account's CPU share
ISOLATE_NICE_ENV = "_EMULATOR_ISOLATE_NICE"  # no cgroup: this nice value instead
ISOLATE_AS_MB_ENV = "_EMULATOR_ISOLATE_AS_MB"  # RLIMIT_AS (MiB): a backstop behind the emulator's memory watchdog
_TMP = "/tmp"  # noqa: S108 - the path each environment gets a private copy of
_CLONE_NEWNS, _CLONE_NEWUSER = 0x00020000, 0x10000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT = 0x1, 0x2, 0x4, 0x8, 0x20
_MS_BIND, _MS_REC, _MS_PRIVATE = 0x1000, 0x4000, 0x40000


def main(handler: str) -> int:
    enter_sandbox()
    control = socket.socket(fileno=int(os.environ.pop(CONTROL_FD_ENV)))
    sys.modules[_NATIVE_CLIENT] = None  # type: ignore[assignment]  # loaded in each environment, see below
    error = run_init(handler)
    if error is not None:
        _send(control, {"init_error": error})
        return 1
    _send(control, {"ready": True})
    return serve(control, handler)


def run_init(handler: str) -> dict[str, Any] | None:
    """Imports the handler module and runs the before-snapshot hooks; AWS's error object if either fails."""
    from awslambdaric import bootstrap, lambda_runtime_hooks_runner
    from awslambdaric.lambda_runtime_exception import FaultException

    try:
        bootstrap._get_handler(handler)
    except FaultException as exc:
        return _logged(bootstrap.make_error(exc.msg, exc.exception_type, exc.trace))
    except Exception:  # noqa: BLE001 - any exception of user code is an init error, reported as AWS reports it
        return _logged(bootstrap.build_fault_result(sys.exc_info(), None))
    try:
        lambda_runtime_hooks_runner.run_before_snapshot()
    except Exception:  # noqa: BLE001 - as above, for the user's before-snapshot hooks
        error = bootstrap.build_fault_result(sys.exc_info(), None)
        return _logged({**error, "errorType": FaultException.BEFORE_SNAPSHOT_ERROR})
    _close_pooled_connections()
    importlib.import_module("http.client")  # the runtime's own restore call needs it: load it into the snapshot
    gc.freeze()  # INIT's objects stay out of every fork's collections, so the forks do not copy their pages
    return None


def serve(control: socket.socket, handler: str) -> int:
    """Answers fork and reap requests until the emulator closes the socket."""
    while True:
        message, fds, _, _ = socket.recv_fds(control, _MAX_MESSAGE, 1)
        if not message:
            return 0
        request = json.loads(message)
        if request["op"] == "fork":
            _send(control, {"pid": _fork_environment(control, handler, request["env"], fds[0])})
        elif request["op"] == "reap":
            _, status = os.waitpid(request["pid"], 0)
            _send(control, {"exit_code": os.waitstatus_to_exitcode(status)})


def _fork_environment(control: socket.socket, handler: str, env: dict[str, str], output_fd: int) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        os.close(output_fd)
        return pid
    code = 1
    try:
        control.close()
        _become_environment(env, output_fd)
        code = _run_environment(handler)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - os._exit below would lose it: the environment's log says why it ended
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _become_environment(env: dict[str, str], output_fd: int) -> None:
    """What must differ between environments restored from one snapshot: session, output, env, /tmp, randomness."""
    os.setsid()
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # the template's end is ours
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    os.environ.update(env)
    private_mounts()
    tempfile.tempdir = None
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def _run_environment(handler: str) -> int:
    from awslambdaric import bootstrap, lambda_runtime_client
    from awslambdaric.lambda_runtime_client import LambdaRuntimeClient

    del sys.modules[_NATIVE_CLIENT]
    native = importlib.import_module(_NATIVE_CLIENT)
    native.initialize_client(lambda_runtime_client._user_agent())
    lambda_runtime_client.runtime_client = native
    os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"] = bootstrap.INIT_TYPE_SNAP_START
    bootstrap.run(handler, LambdaRuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"]))
    return 0


def _close_pooled_connections() -> None:
    """Connections opened during INIT must not be shared by forks (AWS: re-establish them after restore)."""
    urllib3 = sys.modules.get("urllib3")
    if urllib3 is None:
        return
    for candidate in gc.get_objects():
        if isinstance(candidate, urllib3.PoolManager):
            candidate.clear()


def _logged(error: dict[str, Any]) -> dict[str, Any]:
    from awslambdaric import bootstrap

    bootstrap.log_error(error, bootstrap.StandardLogSink())
    sys.stdout.flush()
    return error


def _send(control: socket.socket, message: dict[str, Any]) -> None:
    control.send(json.dumps(message).encode())


def private_mounts() -> None:
    """Enters a mount namespace with this environment's own /tmp (and /opt), as the emulator's variables say."""
    tmp = os.environ.pop(MOUNT_TMP_ENV, None)
    size_mb = os.environ.pop(MOUNT_TMP_MB_ENV, None)
    task = os.environ.pop(MOUNT_TASK_ENV, None)
    lower = os.environ.pop(MOUNT_LOWER_ENV, None)
    opt = os.environ.pop(MOUNT_OPT_ENV, None)
    keep, cover, reveal = (_paths(name) for name in (MOUNT_KEEP_ENV, MOUNT_COVER_ENV, MOUNT_REVEAL_ENV))
    own_processes_only = os.environ.pop(MOUNT_PROC_ENV, None) is not None
    if tmp is None:
        return
    _check(_libc().unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    # a fork does not bring back what its template hid (isolation)
    kept = [(path, os.open(path, os.O_PATH)) for path in keep if os.path.isdir(path)]
    if size_mb is not None:  # what the environment writes to /tmp lives in a tmpfs of EphemeralStorage's size
        _mount("tmpfs", tmp, "tmpfs", 0, f"size={int(size_mb)}m,mode=1777")
    if lower is None:
        _mount(tmp, _TMP, None, _MS_BIND)
    else:
        for part in ("upper", "work"):
            os.makedirs(os.path.join(tmp, part), exist_ok=True)
        options = f"lowerdir={lower},upperdir={tmp}/upper,workdir={tmp}/work"
        if _in_user_namespace():  # trusted.* xattrs are the host root's: overlayfs(5) says use user.* instead
            options += ",userxattr"
        _mount("overlay", _TMP, "overlay", 0, options)
    for path, fd in kept:
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC)  # with the template's /tmp under it
        os.close(fd)
    if opt is not None:
        _mount(opt, "/opt", None, _MS_BIND)
    if task is not None:
        _task_root(task)
    if lower is None:  # a forked environment's namespace is a copy of its template's: already read-only there
        for path in filter(None, (os.environ.get("LAMBDA_TASK_ROOT"), opt and "/opt")):
            _read_only(path)
    _cover(cover, reveal)
    if own_processes_only and not _in_user_namespace():  # a fork's namespace is a copy of its template's: has it
        _hide_other_processes()
    sys.path_importer_cache.clear()  # sys.path entries under /opt or /tmp were looked at before they existed


def hide_folders(cover: list[str], reveal: list[str]) -> None:
    """A mount namespace of this process's own in which `cover` are empty (`reveal` bound back under them) and /proc
    lists only the processes of its uid: the class grader's deploy commands, as root, before they drop to their
    account's uid (grader/classroom/sandbox.py)."""
    _check(_libc().unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    _cover(cover, reveal)
    _hide_other_processes()


def _hide_other_processes() -> None:
    """A procfs instance of this mount namespace's own on /proc, with hidepid=2: a process sees in it only the
    processes of its own uid (proc(5), "Mount options"); the host's /proc keeps its options (one instance per
    mount since Linux 5.8). Only the host's root may mount it: it belongs to the host's PID namespace."""
    _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, "hidepid=2")


def _in_user_namespace() -> bool:
    with open("/proc/self/uid_map") as mapping:
        return mapping.read().split() != ["0", "0", "4294967295"]


def _paths(name: str) -> list[str]:
    return [path for path in os.environ.pop(name, "").split(os.pathsep) if path]


def _cover(cover: list[str], reveal: list[str]) -> None:
    """Hides each folder of `cover` under an empty tmpfs and binds back the folders of `reveal` under them; a cover
    inside a revealed folder is mounted after the reveal, so it stays on top."""
    revealed = [(path, os.open(path, os.O_PATH)) for path in reveal if os.path.isdir(path)]
    outer = [path for path in cover if any(_inside(r, path) for r in reveal)]
    _empty_tmpfs(outer)
    for target, fd in revealed:
        os.makedirs(target, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", target, None, _MS_BIND | _MS_REC)
        os.close(fd)
    _empty_tmpfs([path for path in cover if path not in outer])


def _empty_tmpfs(folders: list[str]) -> None:
    for folder in folders:
        if os.path.isdir(folder):  # not under an earlier cover
            _mount("tmpfs", folder, "tmpfs", 0, "size=1m,mode=0755")


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def enter_sandbox() -> None:
    """The environment's mounts and isolation, as the emulator's variables say; what runs after this is user code."""
    if os.environ.pop(ISOLATE_USERNS_ENV, None) is not None:  # not root: the namespace that allows the mounts
        _user_namespace(os.getuid(), os.getgid())
    private_mounts()
    _limit_resources()
    uid = os.environ.pop(ISOLATE_UID_ENV, None)
    if uid is not None:
        _become_uid(int(uid))


def _limit_resources() -> None:
    """The account's CPU share (its cgroup, else a nice value), the address-space backstop."""
    cgroup = os.environ.pop(ISOLATE_CGROUP_ENV, None)
    nice = os.environ.pop(ISOLATE_NICE_ENV, None)
    address_space_mb = os.environ.pop(ISOLATE_AS_MB_ENV, None)
    if cgroup is not None:
        with open(cgroup, "w") as procs:
            procs.write(str(os.getpid()))
    if nice is not None:
        os.nice(int(nice))
    if address_space_mb is not None:
        limit = int(address_space_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _become_uid(uid: int) -> None:
    """Root gives up root for good: a user namespace whose root is `uid` outside, mapped by a helper child (the
    namespace's own process may not map another uid: user_namespaces(7), "Defining user and group ID mappings")."""
    os.setgroups([])
    entered_r, entered_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        os.close(entered_w)
        os._exit(_write_maps(os.getppid(), uid, entered_r))
    os.close(entered_r)
    try:
        _check(_libc().unshare(_CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
    finally:
        os.write(entered_w, b"x")
        os.close(entered_w)
    if os.waitstatus_to_exitcode(os.waitpid(helper, 0)[1]) != 0:
        raise OSError(f"could not map uid {uid} into the environment's user namespace")
    _become_namespace_root()


def _write_maps(pid: int, uid: int, entered: int) -> int:
    os.read(entered, 1)
    try:
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{pid}/{name}", "w") as mapping:
                mapping.write(f"0 {uid} 1")
    except OSError as exc:
        print(f"uid map of {pid}: {exc}", file=sys.stderr)
        return 1
    return 0


def _user_namespace(uid: int, gid: int) -> None:
    """Not root: a user namespace in which our own uid is root (no other uid is ours to map)."""
    _check(_libc().unshare(_CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
    for name, line in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as mapping:
            mapping.write(line)
    _become_namespace_root()


def _become_namespace_root() -> None:
    """uid and gid 0 inside the namespace (the mapped ids outside); no set-uid program can raise them again."""
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    _check(_libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def _task_root(code: str) -> None:
    """The function's code at /var/task, the working directory and first import path, as on AWS: no host path shows
    in a module's __file__ or a traceback."""
    os.makedirs(TASK_ROOT, exist_ok=True)  # an empty folder on the host; the code is mounted only in here
    _mount(code, TASK_ROOT, None, _MS_BIND)
    os.chdir(TASK_ROOT)
    sys.path[0] = TASK_ROOT  # it was the code folder's host path (see __main__ below)


def _read_only(path: str) -> None:
    """As on AWS, the function's code and layers cannot be written ("[Errno 30] Read-only file system")."""
    _mount(path, path, None, _MS_BIND)
    _mount(None, path, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY)


def _mount(source: str | None, target: str, kind: str | None, flags: int, options: str | None = None) -> None:
    encoded = [None if v is None else v.encode() for v in (source, target, kind, options)]
    _check(_libc().mount(encoded[0], encoded[1], encoded[2], flags, encoded[3]), f"mount {source} on {target}")


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _spawn(handler: str) -> None:
    """A spawned environment: its mounts and isolation, then awslambdaric as `python -m awslambdaric` runs it."""
    enter_sandbox()
    os.execv(sys.executable, [sys.executable, "-m", "awslambdaric", handler])  # noqa: S606 - no shell wanted


def _probe(folder: str) -> int:
    """Exit 0 when this machine lets the emulator give environments their own /tmp; else the reason, on stderr."""
    os.environ[MOUNT_TMP_ENV] = folder
    try:
        enter_sandbox()
    except OSError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--probe":
        sys.exit(_probe(sys.argv[2]))
    sys.path[0] = os.getcwd()  # the function's code folder, as `python -m awslambdaric` has it; not this folder
    if sys.argv[1] == "--spawn":
        _spawn(sys.argv[2])
    sys.exit(main(sys.argv[1]))
