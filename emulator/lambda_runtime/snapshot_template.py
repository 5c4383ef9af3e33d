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
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import random
import signal
import socket
import sys
import tempfile
from typing import Any

CONTROL_FD_ENV = "_EMULATOR_TEMPLATE_CONTROL_FD"
_PR_SET_PDEATHSIG = 1
_MAX_MESSAGE = 1 << 20
# awslambdaric's native HTTP client reads AWS_LAMBDA_RUNTIME_API once, when first imported; every environment
# has its own Runtime API, so the template keeps it unimported and each environment imports it after the fork.
_NATIVE_CLIENT = "runtime_client"


def main(handler: str) -> int:
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


if __name__ == "__main__":
    sys.path[0] = os.getcwd()  # the function's code folder, as `python -m awslambdaric` has it; not this folder
    sys.exit(main(sys.argv[1]))
