"""The hot API calls (S3 PUT/GET/HEAD, SQS send/receive/delete, DynamoDB PutItem/GetItem) off moto's slow path.

moto stays the owner of state and of every byte of every answer; these patches only remove work it repeats per
request, found by profiling each call end to end (tests/emulator/test_fast_path.py sends the same requests with
and without them and compares the answers byte for byte):

- cheroot's socket files: pure-Python `_pyio` buffers in place of C reads (emulator/aws/cheroot.py);
- `moto.core.responses.method_names_from_class`: `inspect.getmembers` of the service's response class on every
  request, to learn which actions it has; a class's answer is computed once;
- `camelcase_to_underscores`, as moto's request dispatch and SQS's queue attributes call it (~15 times a request,
  a character loop each): a pure function of its string, remembered;
- SQS's `Queue.approximate_number_of_messages*`: moto's SendMessage reads every attribute of the queue (to learn
  ContentBasedDeduplication), which scanned every queued message three times with two clock reads and two
  property calls per message; now one clock read a scan, over moto's own fields (`visible_at`, `delayed_until`)
  with moto's comparisons (emulator/aws/sqs.py's clock patch keeps `unix_time_millis` the clock);
- moto's request headers (EnvironHeaders), listed anew from the WSGI environ each time they are iterated (S3's
  PUT iterates them about twenty-five times): listed once a request; a lookup still reads the environ, under the
  key werkzeug's rule gives the header's name, found once per name (a PUT looks headers up about seventy times);
- cheroot's two sends a response (headers, then body): one (emulator/api_server.py);
- Flask's request machinery (app and request contexts, routing through `full_dispatch_request`, flask-cors's
  after-request hook) around moto's S3, SQS and DynamoDB views: DirectDispatch calls the view's moto method itself;
- Flask's URL adapter (werkzeug's host and path decoding, bound to the environ): bound once per URL root;
- werkzeug's form parser, built for every request moto reads `form` of: only for a form's content types;
- moto's `Request.raw_url`, S3's `subdomain_based_buckets` and bucket name from the URL: computed once a request,
  not three and four times;
  the URL root under it (werkzeug's host and IRI decoding) once per scheme, host and script name;
- moto's serializer finding each member of an answer through six alias providers, made anew per member: for a
  dict, the names they give are listed once per member shape and key;
- `BackendDict[account]` (~10 times a PUT): moto's global lock and two list scans each time, to create an account
  backend that is nearly always there already: looked up first;
- `MotoRandom.get_random_string` (every answer's 52-character request id): one `choice` a character was a
  sixth of a HEAD's server time; the same characters are drawn from the same generator words in one call and
  named by one `bytes.translate` (~1.3 us a request id, ~20 before);
- moto's JSON protocol walking an operation's shape member by member to read a request and write its answer, when
  they hold string members only (SQS's SendMessage, DeleteMessage...): emulator/aws/json_protocol.py;
- SQS's SendMessage and SendMessageBatch read the queue's attributes up to four times a message to learn only
  ContentBasedDeduplication, and each reading counted every queued message three times: a send never counts.

Not here but on the same path: an S3 PUT's body file is written once its response is sent (emulator/state.py's
BlobStore: open and write of a new 50 KB file were ~0.15-0.2 ms of a PUT's ~0.9 ms server CPU on this machine's
ext4), and cheroot's reader hands a body out with one copy, not two (emulator/aws/cheroot.py).
"""

from __future__ import annotations

import functools
import string
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import moto.core.responses as core_responses
import moto.core.serialize as core_serialize
import moto.sqs.models as sqs_models
from botocore.exceptions import ClientError
from flask import Flask
from moto.core.base_backend import BackendDict
from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY, EnvironHeaders, environ_key_for_header
from moto.core.request import Request as MotoRequest
from moto.core.utils import convert_to_flask_response
from moto.moto_api import recorder
from moto.moto_api._internal.moto_random import MotoRandom
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.s3.responses import S3Response
from moto.sqs.models import Queue, SQSBackend
from werkzeug.datastructures import EnvironHeaders as WerkzeugEnvironHeaders
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import MapAdapter
from werkzeug.utils import get_content_type

from emulator.aws import after_response, cheroot, json_protocol
from emulator.aws.registry import Internal, Patch, PatchRegistry, verify

CAMEL_CASE_NAMES = 4096  # distinct names remembered: every action and attribute name of the services in use

METHOD_NAMES = Internal(core_responses, "method_names_from_class", ("clazz",))
ACTIONS_LOOKED_UP = Internal(core_responses.BaseResponse, "call_action", ("self",),
                             source="method_names = method_names_from_class(self.__class__)")
DISPATCH_NAMES = Internal(core_responses, "camelcase_to_underscores", ("argument",))
SQS_NAMES = Internal(sqs_models, "camelcase_to_underscores", ("argument",))
QUEUED = Internal(Queue, "approximate_number_of_messages", ("self",), source="len(self.messages)")
IN_FLIGHT = Internal(Queue, "approximate_number_of_messages_not_visible", ("self",),
                     source="if not m.visible")
DELAYED = Internal(Queue, "approximate_number_of_messages_delayed", ("self",), source="if m.delayed")
VISIBLE = Internal(sqs_models.Message, "visible", ("self",), source="if current_time > self.visible_at")
NOT_DELAYED = Internal(sqs_models.Message, "delayed", ("self",), source="if current_time < self.delayed_until")
LISTED = Internal(Queue, "messages", ("self",), source="if message.visible and not message.delayed")
FLASK_VIEW = Internal(convert_to_flask_response, "__call__", ("self", "args"),
                      source="result = self.callback(request, request.raw_url, dict(request.headers))")
RAW_URL = Internal(MotoRequest, "raw_url", ("self",),
                   source="raw_url = f\"{self.url_root.rstrip('/')}{self.raw_path}\"")
BUCKET_IN_HOST = Internal(S3Response, "subdomain_based_buckets", ("request",),
                          source='host = request.headers.get("host", request.headers.get("Host"))')
URL_ROOT = Internal(MotoRequest, "raw_url", ("self",), source="self.url_root")
RANDOM_STRING = Internal(MotoRandom, "get_random_string", ("self", "length", "include_digits", "lower_case"),
                         source="random_str = \"\".join([self.choice(pool) for i in range(length)])")
SEND = Internal(SQSBackend, "send_message", ("self", "queue_name"),
                source='queue.attributes.get("ContentBasedDeduplication") == "true"')
SEND_BATCH = Internal(SQSBackend, "send_message_batch", ("self", "queue_name", "entries"))
ATTRIBUTES_READ_IN_SEND = Internal(SQSBackend, "_validate_message", ("self", "queue"),
                                   source='queue.attributes.get("ContentBasedDeduplication") == "false"')
BUCKET_OF_URL = Internal(S3Response, "parse_bucket_name_from_url", ("self", "request", "url"),
                        source="if self.is_access_point:")
ACCOUNT_BACKEND = Internal(BackendDict, "__getitem__", ("self", "account_id"),
                          source="self._create_account_specific_backend(account_id)")
PICKED = Internal(core_serialize.AttributePicker, "__call__", ("self", "context"),
                 source="for possible_key in self.get_possible_keys(context):")
DICT_MEMBER_NAMES = 4096  # (shape, key) pairs whose alias names are remembered: the answers' members in use
HEADER_KEY = Internal(WerkzeugEnvironHeaders, "_get_key", ("self", "key"), source='key = key.upper().replace("-", "_")')
INTERNALS = (METHOD_NAMES, ACTIONS_LOOKED_UP, DISPATCH_NAMES, SQS_NAMES, QUEUED, IN_FLIGHT, DELAYED, VISIBLE,
             NOT_DELAYED, LISTED, FLASK_VIEW, RAW_URL, BUCKET_IN_HOST, URL_ROOT, RANDOM_STRING, SEND, SEND_BATCH,
             ATTRIBUTES_READ_IN_SEND, HEADER_KEY, PICKED, ACCOUNT_BACKEND, BUCKET_OF_URL)
HEADER_NAMES = 1024  # distinct header names whose environ keys are remembered
URL_ROOTS = 256  # distinct (scheme, host, server, script name) URL roots remembered
ROOT_KEYS = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME")
DIRECT_SERVICES = frozenset({"s3", "sqs", "dynamodb"})  # the services whose views DirectDispatch calls itself
FORM_MIMETYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})  # werkzeug's FormDataParser
CORS_REQUEST_HEADERS = ("HTTP_ORIGIN", "HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK")  # flask-cors answers these
ALLOW_ORIGIN = "Access-Control-Allow-Origin"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FastPath:
    """Installs the patches once a process (every API server shares moto); uninstall() puts moto's own back."""

    def __init__(self) -> None:
        self._registry = PatchRegistry()
        self._lock = threading.Lock()
        self.installed = False

    def install(self) -> None:
        with self._lock:
            if not self.installed:
                self._registry.install([*cheroot.socket_file_patches(), *_moto_patches(), *json_protocol.patches()])
                self.installed = True

    def uninstall(self) -> None:
        with self._lock:
            self._registry.uninstall()
            self.installed = False


FAST_PATH = FastPath()


def _moto_patches() -> list[Patch]:
    remembered: Callable[[Any], Any] = functools.lru_cache(maxsize=CAMEL_CASE_NAMES)
    return [
        Patch(METHOD_NAMES, _per_class),
        Patch(DISPATCH_NAMES, remembered),
        Patch(SQS_NAMES, remembered),
        Patch(QUEUED, lambda _: _queued),
        Patch(IN_FLIGHT, lambda _: _in_flight),
        Patch(DELAYED, lambda _: _delayed),
        Patch(RAW_URL, _raw_url),
        Patch(BUCKET_IN_HOST, _once_a_request),
        Patch(RANDOM_STRING, lambda _: _random_string),
        Patch(SEND, _not_counting),
        Patch(SEND_BATCH, _not_counting),
        Patch(PICKED, _a_dict_s_member_by_its_known_names),
        Patch(ACCOUNT_BACKEND, _an_account_s_backend_found_first),
        Patch(BUCKET_OF_URL, _bucket_once_a_request),
    ]


def _per_class(original: Callable[[object], list[str]]) -> Callable[[object], list[str]]:
    """method_names_from_class once a class (the response classes are patched before the first request)."""
    names: dict[object, list[str]] = {}

    def method_names_from_class(clazz: object) -> list[str]:
        if clazz not in names:
            names[clazz] = original(clazz)
        return names[clazz]

    return method_names_from_class


def _queued(queue: Queue) -> int:
    """moto's `len(queue.messages)`: visible and not delayed."""
    if _sending.active:
        return 0
    now = sqs_models.unix_time_millis()
    return sum(1 for m in queue._messages if now > m.visible_at and not now < m.delayed_until)


def _in_flight(queue: Queue) -> int:
    """moto's count of messages not visible."""
    if _sending.active:
        return 0
    now = sqs_models.unix_time_millis()
    return sum(1 for m in queue._messages if not now > m.visible_at)


def _delayed(queue: Queue) -> int:
    """moto's count of delayed messages."""
    if _sending.active:
        return 0
    now = sqs_models.unix_time_millis()
    return sum(1 for m in queue._messages if now < m.delayed_until)


class _Sending(threading.local):
    active = False


_sending = _Sending()


def _not_counting(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's send, with the queue's message counts left uncounted (zero) on this thread while it runs: the
    attributes it reads there are read for ContentBasedDeduplication alone (SEND, ATTRIBUTES_READ_IN_SEND)."""

    @functools.wraps(original)
    def send(backend: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        _sending.active = True
        try:
            return original(backend, *args, **kwargs)
        finally:
            _sending.active = False

    return send


def _a_dict_s_member_by_its_known_names(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """moto's serializer picks each member of an answer by the names its alias providers give (six provider objects
    made per member). For a dict, what they give depends only on the member's shape and key (ExplicitAlias needs a
    Meta class, ClassPrefixAlias reads the class name: a dict has neither's), so the names are listed once per shape
    and key and the first one the dict holds is its value, as moto's loop finds it. SQS's JSON answers are dicts."""
    known: dict[tuple[type, Any, str], tuple[str, ...] | None] = {}

    def pick(picker: Any, context: Any) -> Any:
        obj = context.obj
        if type(obj) is not dict or picker.response_transformers \
                or picker.alias_providers is not core_serialize.DEFAULT_ALIAS_PROVIDERS:
            return original(picker, context)
        member = (type(picker), context.shape, context.key)
        if member not in known and len(known) < DICT_MEMBER_NAMES:
            known[member] = json_protocol.picked_names(picker, context)
        names = known.get(member)
        if names is None:
            return original(picker, context)
        return json_protocol.first_picked(obj, names)

    return pick


def _an_account_s_backend_found_first(original: Callable[[BackendDict[Any], str], Any]
                                      ) -> Callable[[BackendDict[Any], str], Any]:
    """moto's `BackendDict[account]`, which first takes moto's global backend lock, lists the dict's accounts and
    looks for the dict in the list of every backend dict in use (an `__eq__` per entry), though an account it holds
    was put there by that same function, under that lock, with the dict added to the list (a reset empties both)."""

    def account_backend(backends: BackendDict[Any], account_id: str) -> Any:
        try:
            return dict.__getitem__(backends, account_id)
        except KeyError:
            return original(backends, account_id)

    return account_backend


def _random_string(generator: MotoRandom, length: int = 20, include_digits: bool = True,
                   lower_case: bool = False) -> str:
    """moto's get_random_string, the same characters for the same generator state: `choice(pool)` takes the top
    bits of the generator's next 32-bit word, again while they name no character (random.py's
    `_randbelow_with_getrandbits`); `getrandbits(32 * n)` returns the next n words, the first one lowest, so each
    word's top byte is every fourth byte from the fourth, and one `translate` turns those bytes into characters."""
    characters, rejected = _characters_of_top_bytes(string.ascii_letters + (string.digits if include_digits else ""))
    drawn = b""
    while len(drawn) < length:
        wanted = length - len(drawn)
        top_bytes = generator.getrandbits(32 * wanted).to_bytes(4 * wanted, "little")[3::4]
        drawn += top_bytes.translate(characters, rejected)
    text = drawn.decode("ascii")
    return text.lower() if lower_case else text


@functools.lru_cache(maxsize=4)
def _characters_of_top_bytes(pool: str) -> tuple[bytes, bytes]:
    """For a word's top byte: the pool's character its top bits name (a translate table), and the bytes whose top
    bits name none (to delete)."""
    drop = 8 - len(pool).bit_length()
    named = [byte >> drop for byte in range(256)]
    table = bytes(ord(pool[index]) if index < len(pool) else 0 for index in named)
    return table, bytes(byte for byte, index in enumerate(named) if index >= len(pool))


def _raw_url(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """moto's raw_url once a request, its URL root (werkzeug's host rules and IRI decoding, a pure function of
    ROOT_KEYS' environ values) once per root."""
    roots: dict[tuple[Any, ...], str] = {}
    once = _once_a_request(original)

    def raw_url(request: Any) -> Any:
        if "url_root" not in request.__dict__:
            key = tuple(request.environ.get(name) for name in ROOT_KEYS)
            if key not in roots and len(roots) < URL_ROOTS:
                roots[key] = request.url_root
            if key in roots:
                request.__dict__["url_root"] = roots[key]
        return once(request)

    return raw_url


def _once_a_request(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`original(request)`, computed once a request and kept on it: moto's S3 asks for the request's raw URL three
    times (each built by werkzeug) and whether its bucket is in the host name four times (each reading the
    environment and matching up to six patterns)."""
    key = f"_emulator_{original.__name__}"

    def once(request: Any) -> Any:
        if key not in request.__dict__:
            request.__dict__[key] = original(request)
        return request.__dict__[key]

    return once


def _bucket_once_a_request(original: Callable[[S3Response, Any, str], str]) -> Callable[[S3Response, Any, str], str]:
    """S3's bucket name from a request's URL, worked out three times a request (each matching the URL against
    moto's patterns): once per URL a request, but for an access point's, which also reads the caller's account."""

    def parse_bucket_name_from_url(response: S3Response, request: Any, url: str) -> str:
        if response.is_access_point:
            return original(response, request, url)
        names = request.__dict__.setdefault("_emulator_bucket_names", {})
        if url not in names:
            names[url] = original(response, request, url)
        return names[url]  # type: ignore[no-any-return]

    return parse_bucket_name_from_url


class _HeadersListedOnce(EnvironHeaders):
    """moto's EnvironHeaders, whose (name, value) list is built on the first iteration and kept, and whose lookups
    find a header name's environ key once per name (S3's PUT looks headers up about seventy times)."""

    _listed: list[tuple[str, str]] | None = None

    def __iter__(self) -> Iterator[tuple[str, str]]:  # type: ignore[override]
        if self._listed is None:
            self._listed = self._listing()
        return iter(self._listed)

    def _listing(self) -> list[tuple[str, str]]:
        """moto's listing: werkzeug's names for the environ's header keys, a preserved name where moto kept one."""
        preserved = self.environ.get(PRESERVED_HEADER_NAMES_ENVIRON_KEY) or {}
        listed = []
        for key, value in self.environ.items():
            name = _header_name(key)
            if name is not None and (value or key not in ("CONTENT_TYPE", "CONTENT_LENGTH")):
                listed.append((preserved.get(_environ_key(name), name), value))
        return listed

    def _get_key(self, key: str) -> str:
        if not isinstance(key, str):
            return super()._get_key(key)  # werkzeug's BadRequestKeyError
        return self.environ[_environ_key(key)]  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=HEADER_NAMES)
def _header_name(key: str) -> str | None:
    """werkzeug's `EnvironHeaders.__iter__`: the name an environ key is listed under, None for a key it skips (the
    listing also skips an empty Content-Type or Content-Length)."""
    if key.startswith("HTTP_") and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
        return key[5:].replace("_", "-").title()
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return key.replace("_", "-").title()
    return None


# The WSGI environ key a header name is read from (werkzeug's `EnvironHeaders._get_key` rule), once per name.
_environ_key = functools.lru_cache(maxsize=HEADER_NAMES)(environ_key_for_header)


class DirectDispatch:
    """moto's dispatcher, with the S3, SQS and DynamoDB views called without Flask's request machinery.

    moto's Flask app per service routes a request to a `convert_to_flask_response` view, which calls moto's
    response method and wraps its (status, headers, body) in a Flask Response; Flask then adds flask-cors's
    headers. Pushing and popping Flask's application and request contexts around that was a fifth of a call's
    server time. Here the view's own URL rule is matched as Flask matches it, moto's method called as the view
    calls it, and the response finished as Flask finishes it (flask-cors's headers, computed once per app for a
    request without an Origin header, which boto3 never sends). Anything else (another service, a request with
    an Origin, a path no rule matches, an app with other request hooks) goes through Flask as before.
    """

    def __init__(self, dispatcher: DomainDispatcherApplication) -> None:
        verify([FLASK_VIEW, HEADER_KEY])  # what the views called directly do, how a header is looked up
        self._dispatcher = dispatcher
        self._apps: dict[Flask, _DirectApp | None] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The request answered; work it leaves for after its response (after_response) runs once the server has
        sent the body and closed it, or at once if answering it fails."""
        with after_response.collecting() as tasks:
            try:
                body = self._answer(environ, start_response)
            except BaseException:
                after_response.run(tasks)
                raise
        return after_response.after_body(body, tasks)

    def _answer(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not FAST_PATH.installed or any(header in environ for header in CORS_REQUEST_HEADERS):
            return self._dispatcher(environ, start_response)
        app = self._dispatcher.get_application(environ)
        if app not in self._apps:
            self._apps[app] = _DirectApp.for_app(app)
        direct = self._apps[app]
        return (direct or app)(environ, start_response)

    @property
    def direct_services(self) -> list[str]:
        """The services answered so far whose views were called directly."""
        return sorted(app.service for app, direct in list(self._apps.items()) if direct is not None)


class _DirectApp:
    """One moto Flask app's views, called directly.

    Its request is not stored in the environ as `werkzeug.request` (werkzeug's default, which nothing here reads):
    request and environ would refer to each other, and every request, with its body, would wait for the cyclic
    garbage collector instead of going when answered. Flask breaks that cycle when it pops its request context.
    """

    def __init__(self, app: Flask, cors_headers: list[tuple[str, str]]) -> None:
        self._app = app
        self._cors_headers = cors_headers
        self._adapters: dict[tuple[Any, ...], MapAdapter] = {}

    @classmethod
    def for_app(cls, app: Flask) -> _DirectApp | None:
        """None for an app served through Flask: not a hot service, or request hooks besides flask-cors's."""
        hooks = (app.before_request_funcs, app.teardown_request_funcs, app.url_value_preprocessors)
        after = app.after_request_funcs
        if getattr(app, "service", None) not in DIRECT_SERVICES or any(hooks) or list(after) != [None] \
                or len(after[None]) != 1:
            return None
        with app.test_request_context("/"):  # flask-cors's headers for a request without an Origin
            added = app.process_response(app.response_class()).headers
        return cls(app, [(name, value) for name, value in added.items() if name.startswith("Access-Control-")])

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        app = self._app
        request = app.request_class(environ, populate_request=False)  # see _DirectApp
        request.json_module = app.json
        request.headers = _HeadersListedOnce(environ)
        _no_form_to_parse(request)
        try:
            rule, _ = self._adapter(request).match(request.path if request.environ.get("PATH_INFO") else "",
                                                   request.method, return_rule=True)
        except HTTPException:  # no rule, a redirect, a method not allowed: Flask's own answer
            return app(environ, start_response)
        view = app.view_functions[rule.endpoint]
        if request.method == "OPTIONS" or not isinstance(view, convert_to_flask_response):
            return app(environ, start_response)
        try:
            answer = self._answer(view, request)
        except HTTPException as error:
            response = app.response_class.force_type(error, environ)  # type: ignore[arg-type]
            return self._finish(response, request, environ, start_response)
        plain = self._plain(request.method, *answer)
        if plain is None:
            return self._finish(self._response(request.method, *answer), request, environ, start_response)
        status, headers, body = plain
        request.close()
        start_response(status, headers)
        return body

    def _adapter(self, request: Any) -> MapAdapter:
        """Flask's URL adapter for the request's URL root, bound once per root (ROOT_KEYS): a match passes the
        path and method, which are all that differ between the requests of one root."""
        key = tuple(request.environ.get(name) for name in ROOT_KEYS)
        adapter = self._adapters.get(key)
        if adapter is None:
            adapter = self._app.create_url_adapter(request)
            assert adapter is not None  # there is a request to bind to
            if len(self._adapters) < URL_ROOTS:
                self._adapters[key] = adapter
        return adapter

    def _finish(self, response: Any, request: Any, environ: dict[str, Any],
                start_response: Callable[..., Any]) -> Iterable[bytes]:
        """A werkzeug Response, with flask-cors's headers, answered as Flask answers it."""
        if ALLOW_ORIGIN not in response.headers:
            for name, value in self._cors_headers:
                response.headers.add(name, value)
        try:
            return response(environ, start_response)  # type: ignore[no-any-return]
        finally:
            request.close()

    def _answer(self, view: convert_to_flask_response, request: Any) -> tuple[Any, dict[str, Any], Any]:
        """moto's `convert_to_flask_response.__call__` up to its Response: (status, headers, content), with the
        request given rather than Flask's global."""
        try:
            recorder._record_request(request)
            result = view.callback(request, request.raw_url, dict(request.headers.items()))  # one pass: no lookups
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        return result if len(result) == 3 else (200, {}, result)

    def _response(self, method: str, status: Any, headers: dict[str, Any], content: Any) -> Any:
        """The rest of `convert_to_flask_response.__call__`: moto's answer as the Flask Response it makes."""
        response = self._app.response_class(response=content, status=status, headers=headers)
        if method == "HEAD" and "content-length" in headers:
            response.headers["Content-Length"] = headers["content-length"]
        return response

    def _plain(self, method: str, status: Any, headers: dict[str, Any], content: Any
               ) -> tuple[str, list[tuple[str, str]], list[bytes]] | None:
        """The status line, header list and body werkzeug's Response would send for this answer, built without it;
        None for what it rewrites (a redirect's Location, 1xx/204/304, a list-valued or multi-line header, a
        streamed body), which goes through the Response."""
        if type(status) is not int or not 200 <= status < 600 or status in (204, 304) \
                or not isinstance(content, (str, bytes)):
            return None
        listed: list[tuple[str, str]] = []
        for name, value in headers.items():
            text = value if isinstance(value, str) else str(value)
            if isinstance(value, (list, tuple)) or "\n" in text or "\r" in text \
                    or name.lower() in ("location", "content-location"):
                return None
            listed.append((name, text))
        names = {name.lower() for name, _ in listed}
        if "content-type" not in names:
            listed.append(("Content-Type", self._default_content_type))
        body = content.encode() if isinstance(content, str) else content
        length = str(headers["content-length"]) if method == "HEAD" and "content-length" in headers else str(len(body))
        _set(listed, "Content-Length", length)
        if ALLOW_ORIGIN.lower() not in names:
            listed.extend(self._cors_headers)
        return _status_line(status), listed, [] if method == "HEAD" else [body]

    @functools.cached_property
    def _default_content_type(self) -> str:
        return get_content_type(self._app.response_class.default_mimetype or "text/plain", "utf-8")


def _no_form_to_parse(request: Any) -> None:
    """werkzeug's `_load_form_data` for a body its form parser does not parse (JSON, XML, an object's bytes): an
    empty form and no files, the body stream left as it is, without building the parser (moto reads `form`)."""
    mimetype = request.environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()  # parse_options_header's
    if mimetype not in FORM_MIMETYPES:
        request.__dict__["form"] = request.parameter_storage_class()
        request.__dict__["files"] = request.parameter_storage_class()


def _set(headers: list[tuple[str, str]], name: str, value: str) -> None:
    """werkzeug's `Headers.set`: the first header of that name (any case) becomes `name: value`, later ones go; else
    it is appended."""
    lowered = name.lower()
    found = [index for index, (existing, _) in enumerate(headers) if existing.lower() == lowered]
    if not found:
        headers.append((name, value))
        return
    headers[found[0]] = (name, value)
    for index in reversed(found[1:]):
        del headers[index]


def _status_line(status: int) -> str:
    """werkzeug's status line for a code."""
    return f"{status} {HTTP_STATUS_CODES[status].upper()}" if status in HTTP_STATUS_CODES else f"{status} UNKNOWN"
