"""The AWS API endpoint: moto's WSGI app, built as moto's own server builds it, served by cheroot on loopback.

moto's ThreadedMotoServer serves it with werkzeug's development server, which answers `Connection: close` to
every request (werkzeug 3 turned keep-alive off) and then waits for stray request bytes: every boto3 call paid
for a new TCP connection. cheroot keeps HTTP/1.1 connections alive, parks idle ones in a selector (no thread
each) and runs requests on a fixed pool of threads, the most recently idle first (emulator/aws/cheroot.py). A long poll
holds its thread for up to 20 s, so the pool is sized for the device's 50 polling threads, a grader and the Lambda
workers' calls at once.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from cheroot import wsgi
from moto.core.request import (
    PRESERVED_HEADER_NAMES_ENVIRON_KEY,
    environ_key_for_header,
    should_preserve_original_header_name,
)
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from emulator.aws.awslambda import RECEIVED_AT
from emulator.aws.cheroot import SocketWriter, hot_threads_first, wsgi_environ
from emulator.aws.fast_path import FAST_PATH, DirectDispatch
from emulator.errors import PortInUseError
from emulator.ports import ensure_port_free

logger = logging.getLogger(__name__)

SERVER_THREADS = 128
KEEP_ALIVE_CONNECTIONS = 1024
LISTEN_BACKLOG = 128
IDLE_CONNECTION_SECONDS = 60
STOP_GRACE_SECONDS = 1.0
WAKE_SECONDS = 0.02


class MotoGateway(wsgi.Gateway_10):
    """cheroot's WSGI environ with what moto's werkzeug request handler gives moto.

    RAW_URI (the path as sent, which moto matches S3 keys against); headers with an underscore dropped, as
    werkzeug does, except S3 user metadata, whose names are kept as sent (moto.core.request).
    """

    def get_environ(self) -> dict[str, Any]:
        environ = wsgi_environ(self)
        environ[RECEIVED_AT] = time.time()
        environ["RAW_URI"] = environ["REQUEST_URI"]
        if not any(b"_" in name for name in self.req.inheaders):  # cheroot's keys are werkzeug's (nearly always)
            environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = {}
            return environ
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in self.req.inheaders.items()]
        dashed = {environ_key_for_header(name): value for name, value in headers if "_" not in name}
        preserved: dict[str, str] = {}
        for name, value in headers:
            key = environ_key_for_header(name)
            if "_" not in name or key in dashed:
                continue
            if should_preserve_original_header_name(name):
                preserved.setdefault(key, name)
                environ[key] = value
            else:
                environ.pop(key, None)
        environ.update((key, value) for key, value in dashed.items())
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
        return environ

    def write(self, chunk: bytes) -> None:
        """cheroot writes a response's headers, then its first body chunk: here the two leave in one send."""
        writer = self.req.conn.wfile
        if self.req.sent_headers or not isinstance(writer, SocketWriter):
            super().write(chunk)
            return
        with writer.gathered():
            super().write(chunk)


class CachingDispatcher(DomainDispatcherApplication):
    """moto's dispatcher (one Flask app per service), remembering which service answers a host name.

    moto's answer depends on the host name alone, but finding it lists moto's package folder (~180 stat calls)
    on every request, under the dispatcher's lock; the host names are one per service and region.
    """

    def __init__(self) -> None:
        super().__init__(create_backend_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        """moto's answer for this host, computed once (called under the dispatcher's lock)."""
        if host not in self._backends:
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


class ApiServer:
    """moto's AWS APIs on `host:port` (0: a free port), served from a daemon thread until stop()."""

    def __init__(self, host: str, port: int, threads: int = SERVER_THREADS) -> None:
        self._direct = DirectDispatch(CachingDispatcher())  # the hot calls' views without Flask's machinery
        self._server = wsgi.Server((host, port), self._direct, numthreads=threads, max=threads,
                                   request_queue_size=LISTEN_BACKLOG, timeout=IDLE_CONNECTION_SECONDS,
                                   shutdown_timeout=STOP_GRACE_SECONDS)
        self._server.gateway = MotoGateway
        hot_threads_first(self._server.requests)
        FAST_PATH.install()  # the hot calls off moto's slow path, same answers
        self._server.keep_alive_conn_limit = KEEP_ALIVE_CONNECTIONS
        self._host, self._port = host, port
        self._thread: threading.Thread | None = None

    def wrap_app(self, wrapper: Callable[[Any], Any]) -> None:
        """Puts a WSGI middleware (e.g. the console) in front of moto's app; call before start()."""
        self._server.wsgi_app = wrapper(self._server.wsgi_app)

    @property
    def direct_services(self) -> list[str]:
        """The services whose requests so far were answered without Flask's machinery (fast_path.DirectDispatch)."""
        return self._direct.direct_services

    @property
    def port(self) -> int:
        """The port it listens on (the one the kernel chose, for port 0), once started."""
        return int(self._server.bind_addr[1])

    def start(self) -> None:
        """Listen and serve; PortInUseError at once if the port is taken.

        The server's threads are started from a daemon thread, so they are daemons too: a long poll still open at
        exit does not keep the process alive.
        """
        if self._port:
            ensure_port_free(self._host, self._port)
        listening: Future[None] = Future()
        self._thread = threading.Thread(target=self._serve, args=(listening,), name=f"api-server-{self._port}",
                                        daemon=True)
        self._thread.start()
        listening.result()

    def stop(self) -> None:
        """Close the listening socket and the connections; requests still running (long polls) after
        STOP_GRACE_SECONDS are left to their daemon threads.

        cheroot's stop waits for its selector loop to see the stop, which it does when its select() returns: after
        up to half a second idle (its expiration interval; every start stops one server, the private one the stack
        is deployed through). A connection to the listening socket wakes it at once."""
        if self._thread is None:
            return
        stopper = threading.Thread(target=self._server.stop, name="api-server-stop", daemon=True)
        stopper.start()
        deadline = time.monotonic() + STOP_GRACE_SECONDS * 2
        while stopper.is_alive() and self._server.socket is not None and time.monotonic() < deadline:
            self._wake_selector()
            stopper.join(WAKE_SECONDS)
        stopper.join(max(0.0, deadline - time.monotonic()))
        if stopper.is_alive():
            logger.info("API server on port %d stopped with requests still running (long polls)", self.port)
        self._thread = None

    def _wake_selector(self) -> None:
        with contextlib.suppress(OSError):  # refused: the socket closed meanwhile, the loop is over
            socket.create_connection((self._host, self.port), timeout=WAKE_SECONDS).close()

    def _serve(self, listening: Future[None]) -> None:
        try:
            self._server.prepare()
        except OSError as exc:
            listening.set_exception(PortInUseError(f"cannot listen on {self._host}:{self._port}: {exc}"))
            return
        listening.set_result(None)
        self._server.serve()
