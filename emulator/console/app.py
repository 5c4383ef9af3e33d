"""The web console: a read-only WSGI app at `/_console/`, mounted in front of moto on the emulator's own port.

`with_console(app, ...)` wraps any WSGI app (moto's): requests under `/_console` go to the console, everything
else to the app untouched. The console answers GET and HEAD only (405 otherwise), and only to a loopback
client that names a loopback host (403 otherwise: no other machine, no DNS-rebinding page). It ships its CSS
and JS in the package and loads nothing from the network. It does nothing until a browser asks.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from werkzeug.wrappers import Request, Response

from contract import CLIENT_CONFIG
from emulator.config import EmulatorConfig, dummy_session
from emulator.console.data import PERIOD_SECONDS, WINDOW_SECONDS, ConsoleData, FrameNotFoundError
from emulator.console.svg import sparkline

PREFIX = "/_console"
READ_METHODS = ("GET", "HEAD")
REFRESH_SECONDS = 3
STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8",
          "favicon.svg": "image/svg+xml"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Environments = Callable[[], Mapping[str, int]]


def with_console(app: WSGIApp, config: EmulatorConfig, environments: Environments) -> WSGIApp:
    """`app` with the console at /_console/; `environments` is the Lambda service's live worker count per function."""
    console = ConsoleApp(ConsoleData(_Clients(config).client, environments, config.stack_name), config)

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return console(environ, start_response)
        return app(environ, start_response)

    return dispatch


class _Clients:
    """boto3 clients of the emulator's own endpoint, made on first use (creating a client is not free)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                session = dummy_session(self._config.region)
                self._clients[service] = session.client(service, endpoint_url=self._config.endpoint_url,
                                                        config=CLIENT_CONFIG)
            return self._clients[service]


class ConsoleApp:
    """The console's routes: the page, its refreshed panels, a frame's PNG, the static CSS and JS."""

    def __init__(self, data: ConsoleData, config: EmulatorConfig) -> None:
        self._data = data
        self._config = config
        self._templates = Environment(loader=PackageLoader("emulator.console", "templates"), autoescape=True,
                                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self._templates.globals.update(sparkline=sparkline, prefix=PREFIX, refresh=REFRESH_SECONDS,
                                       window_minutes=WINDOW_SECONDS // 60, period=PERIOD_SECONDS)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self._respond(request)
        response.headers.update(SECURITY_HEADERS)
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        if not (_loopback(request.remote_addr) and _loopback_host(request.host)):
            return _text("the console answers loopback clients only (127.0.0.1, localhost)", 403)
        if request.method not in READ_METHODS:
            return Response("the console is read-only: GET and HEAD only\n", 405, {"Allow": ", ".join(READ_METHODS)},
                            mimetype="text/plain")
        path = request.path.removeprefix(PREFIX)
        if path == "":
            return Response(status=308, headers={"Location": f"{PREFIX}/"})
        if path == "/":
            return self._page("page.html.j2")
        if path == "/panels":
            return self._page("panels.html.j2")
        if path == "/frame":
            return self._frame(request.args.get("key", ""))
        if path.startswith("/static/") and path.removeprefix("/static/") in STATIC:
            return _static(path.removeprefix("/static/"))
        return _text(f"no such console page: {request.path}", 404)

    def _page(self, template: str) -> Response:
        snapshot = self._data.snapshot()
        html = self._templates.get_template(template).render(s=snapshot, endpoint=self._config.endpoint_url)
        return Response(html, 200, {"Cache-Control": "no-store"}, mimetype="text/html")

    def _frame(self, key: str) -> Response:
        try:
            png = self._data.frame_png(key)
        except FrameNotFoundError as exc:
            return _text(str(exc), 404)
        return Response(png, 200, {"Cache-Control": "private, max-age=600, immutable"}, mimetype="image/png")


def _static(name: str) -> Response:
    body = (resources.files("emulator.console") / "static" / name).read_bytes()
    return Response(body, 200, {"Cache-Control": "max-age=60"}, content_type=STATIC[name])


def _text(message: str, status: int) -> Response:
    return Response(message + "\n", status, mimetype="text/plain")


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _loopback_host(host: str) -> bool:
    """The Host header names this machine (a page on another name that resolves here is refused)."""
    name = urlsplit(f"//{host}").hostname
    return name == "localhost" or _loopback(name)
