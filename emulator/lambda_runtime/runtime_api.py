"""One worker's Lambda Runtime API (the HTTP side only): hands out invocations, collects answers."""

from __future__ import annotations

import json
import logging
import queue
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from emulator.lambda_runtime.supervisor import Supervisor

logger = logging.getLogger(__name__)

API_PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
_POLL_SECONDS = 0.5


@dataclass
class Invocation:
    """One event on its way through a worker, and the worker's answer once it arrives."""

    request_id: str
    payload: bytes
    function_arn: str
    deadline_ms: int
    done: threading.Event = field(default_factory=threading.Event)
    response: bytes | None = None
    error: dict[str, Any] | None = None
    delivered: bool = False

    def finish(self, response: bytes | None = None, error: dict[str, Any] | None = None) -> None:
        if self.done.is_set():
            return
        self.response, self.error = response, error
        self.done.set()


class RuntimeApi:
    """Serves `/next`, `/response`, `/error`, `/init/error` and `/restore/*` for one environment on a loopback port."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.ready = threading.Event()
        self.init_error: dict[str, Any] | None = None
        self.first_poll_at: float | None = None
        self.restore_asked_at: float | None = None
        self._pending: queue.Queue[Invocation] = queue.Queue()
        self._current: Invocation | None = None
        self._closed = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self._server.timeout = 0  # handle_request() on the loop: accept what is there, never wait
        self._supervisor = supervisor
        supervisor.watch(self._server.fileno(), self._server.handle_request)  # each connection then its own thread

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def submit(self, invocation: Invocation) -> None:
        self._pending.put(invocation)

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._supervisor.unwatch(self._server.fileno(), then=self._server.server_close)

    def next_invocation(self, caller_gone: Callable[[], bool]) -> Invocation | None:
        """Blocks until an invocation is submitted; None once the API is closed or the caller hung up.

        An environment that died while waiting here must not be handed an event nobody will run: the event stays
        queued (undelivered), and the worker hands it to a new environment.
        """
        if self.first_poll_at is None:
            self.first_poll_at = time.monotonic()
            self.ready.set()
        while not self._closed.is_set() and not caller_gone():
            try:
                invocation = self._pending.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if caller_gone():
                self._pending.put(invocation)
                return None
            invocation.delivered = True
            self._current = invocation
            return invocation
        return None

    def answer(self, request_id: str, response: bytes | None, error: dict[str, Any] | None) -> bool:
        current = self._current
        if current is None or current.request_id != request_id:
            return False
        current.finish(response, error)
        return True

    def restore_next(self) -> None:
        """A forked environment asks to be restored: its after-restore hooks run next."""
        self.restore_asked_at = time.monotonic()

    def fail_init(self, error: dict[str, Any]) -> None:
        self.init_error = error
        self.ready.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: RuntimeApi


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)

    def do_GET(self) -> None:
        if self.path == f"{API_PREFIX}/restore/next":
            self.server.api.restore_next()
            self._reply(200, b"{}")
            return
        if self.path != f"{API_PREFIX}/invocation/next":
            self._reply(404, b'{"errorType":"NotFound"}')
            return
        invocation = self.server.api.next_invocation(self._caller_gone)
        if invocation is None:
            self._reply(410, b'{"errorType":"ShuttingDown"}')
            return
        self._reply(
            200,
            invocation.payload,
            {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{invocation.request_id[:8]}",
            },
        )

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path[len(API_PREFIX) :].strip("/").split("/")
        api = self.server.api
        if parts == ["init", "error"]:
            api.fail_init(_error_body(body))
        elif parts == ["restore", "error"]:
            error = _error_body(body)
            api.fail_init({**error, "errorType": self.headers.get(ERROR_TYPE_HEADER, error.get("errorType"))})
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            error = _error_body(body) if parts[2] == "error" else None
            if not api.answer(parts[1], None if error else body, error):
                self._reply(400, b'{"errorType":"InvalidRequestID"}')
                return
        else:
            self._reply(404, b'{"errorType":"NotFound"}')
            return
        self._reply(202, b'{"status":"OK"}')

    def _caller_gone(self) -> bool:
        """The environment closed its end (it exited): a request is complete, so readable means end of file."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("worker hung up before the %s reply", status)


def _error_body(body: bytes) -> dict[str, Any]:
    try:
        error = json.loads(body or b"{}")
    except json.JSONDecodeError:
        return {"errorType": "Runtime.Unknown", "errorMessage": body.decode("utf-8", "replace")}
    return error if isinstance(error, dict) else {"errorType": "Runtime.Unknown", "errorMessage": str(error)}
