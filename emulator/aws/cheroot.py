"""cheroot (11.1.2, pinned): the API server's pool of request threads hands work to the most recently idle one,
and a connection's socket is read and written at C speed, a request's header lines each in one read, its header
block (when received whole) split in one piece.

cheroot's ThreadPool keeps connections ready for a worker in `_queue` (a `queue.Queue`) read by `get`; both are
replaced by HotThreadsFirst before the pool's threads start. cheroot's connection manager makes each connection's
socket files with `MakeFile` (cheroot.makefile: `_pyio`'s pure-Python buffered reader and writer, ~45 % of a
50 KB S3 PUT's time went to reading its body through them); SocketReader and SocketWriter take its place.
"""

from __future__ import annotations

import contextlib
import functools
import io
import select
import socket
import sys
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

from cheroot import connections, wsgi
from cheroot.server import HeaderReader, SizeCheckWrapper, comma_separated_headers
from cheroot.workers.threadpool import ThreadPool, WorkerThread

from emulator.aws.registry import Internal, Patch, verify

POOL_QUEUE = Internal(ThreadPool, "__init__", ("self", "server"), source="self.get = self._queue.get")
POOL_PUT = Internal(ThreadPool, "put", ("self", "obj"), source="self._queue.put(obj")
MAKE_FILE = Internal(connections, "MakeFile", ("sock", "mode", "bufsize"))
MAKE_FILE_USED = Internal(connections.ConnectionManager, "_from_server_socket", ("self", "server_socket"),
                          source="mf = MakeFile")
NEXT_REQUEST_ASKED = Internal(connections.ConnectionManager, "put", ("self", "conn"), source="conn.rfile.has_data()")
LINE_READ = Internal(SizeCheckWrapper, "readline", ("self", "size"), source="data = self.rfile.readline(256)")
HEADERS_READ = Internal(HeaderReader, "__call__", ("self", "rfile", "hdict"), source="line = rfile.readline()")
HEADER_KEY = Internal(HeaderReader, "_transform_key", ("self", "key_name"), source="key_name.strip().title()")
HEADER_ALLOWED = Internal(HeaderReader, "_allow_header", ("self", "key_name"), source="return True")
WSGI_ENVIRON = Internal(wsgi.Gateway_10, "get_environ", ("self",),
                       source="header_name=bton(k).upper().replace('-', '_')")
INTERNALS = (POOL_QUEUE, POOL_PUT, MAKE_FILE, MAKE_FILE_USED, NEXT_REQUEST_ASKED, LINE_READ, HEADERS_READ, HEADER_KEY,
             HEADER_ALLOWED, WSGI_ENVIRON)
HEADER_NAMES = 1024  # distinct header names whose title case is remembered
BLOCK_END = b"\r\n\r\n"
COMMA_SEPARATED = frozenset(comma_separated_headers)
RECEIVE_BYTES = 65536  # one recv takes a whole small request, headers and body
RECEIVE_MAX_BYTES = 1 << 20  # the most one recv asks for (it allocates what it asks for)
NEXT_REQUEST_WAIT_MS = 3


class HotThreadsFirst:
    """cheroot's queue of connections ready for a worker thread, handing each to the thread that went idle last.

    cheroot's own `queue.Queue` wakes the thread that has waited longest, so requests rotate through all
    SERVER_THREADS threads and every one of them ends up with a deep stack and a full malloc cache of its own
    (RSS that crept for minutes, issue 15); handed to the most recently idle thread, they stay on the few threads
    the load needs. Connections still go out oldest first. What cheroot calls: put, get (blocking), qsize.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: deque[Any] = deque()
        self._idle: list[_Handoff] = []  # a stack: the thread that went idle last is woken first

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Hands `item` to the most recently idle thread, or queues it when none is idle (never blocks).

        A request thread puts back the connection it just answered when the client's next request is already in
        (SocketReader.has_data); it asks for work right after, so it takes that connection itself: no thread
        switch between one call and the next."""
        with self._lock:
            if not self._idle or isinstance(threading.current_thread(), WorkerThread):
                self._ready.append(item)
                return
            handoff = self._idle.pop()
        handoff.give(item)

    def get(self) -> Any:
        """The oldest queued item, else waits for the next one put."""
        with self._lock:
            if self._ready:
                return self._ready.popleft()
            handoff = _Handoff()
            self._idle.append(handoff)
        return handoff.take()

    def qsize(self) -> int:
        with self._lock:
            return len(self._ready)

    @property
    def idle(self) -> int:
        """Threads waiting in get()."""
        with self._lock:
            return len(self._idle)


class _Handoff:
    """One idle thread's slot: the thread blocks in take() until give() puts an item in it."""

    def __init__(self) -> None:
        self._given = threading.Lock()
        self._given.acquire()
        self._item: Any = None

    def give(self, item: Any) -> None:
        self._item = item
        self._given.release()

    def take(self) -> Any:
        self._given.acquire()
        return self._item


def hot_threads_first(pool: ThreadPool) -> None:
    """Puts HotThreadsFirst in place of the queue of cheroot's ThreadPool (before its threads start)."""
    verify(INTERNALS)
    pool._queue = HotThreadsFirst()  # type: ignore[assignment]
    pool.get = pool._queue.get  # type: ignore[method-assign]



class SocketReader:
    """A connection's request stream, buffered in a bytearray: lines found and bodies received by C code.

    What cheroot calls: read, readline, has_data, close, iteration, and `bytes_read` (its statistics)."""

    def __init__(self, sock: socket.socket, bufsize: int) -> None:
        self._sock = sock
        self._chunk = max(bufsize, RECEIVE_BYTES)
        self._buffer = bytearray()
        self._readable: select.poll | None = None  # made on the first wait for a next request, kept for the next
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        """`size` bytes (fewer at end of stream); all until the peer closes when size is None or negative."""
        wanted = sys.maxsize if size is None or size < 0 else size
        while len(self._buffer) < wanted and self._receive(wanted - len(self._buffer)):
            pass
        return self._take(min(wanted, len(self._buffer)))

    def readline(self, size: int | None = -1) -> bytes:
        """Up to and including the next LF, at most `size` bytes when size is given."""
        limit = sys.maxsize if size is None or size < 0 else size
        searched = 0
        while (end := self._buffer.find(b"\n", searched, limit)) < 0:
            searched = len(self._buffer)
            if searched >= limit or not self._receive(self._chunk):
                return self._take(min(limit, len(self._buffer)))
        return self._take(end + 1)

    def header_block(self, size: int) -> bytes | None:
        """The request's header lines and the empty line ending them, taken whole, if they are all in the buffer,
        at most `size` bytes, the first line not a continuation and every LF among them ending a CRLF; else None,
        with nothing taken."""
        if self._buffer.startswith(b"\r\n"):
            end = 2
        else:
            end = self._buffer.find(BLOCK_END) + 4
            if end < 4 or self._buffer[:1] in (b" ", b"\t") \
                    or self._buffer.count(b"\n", 0, end) != self._buffer.count(b"\r\n", 0, end):
                return None
        if end > size:
            return None
        return self._take(end)

    def has_data(self) -> bool:
        """Bytes received and not read yet, or arriving within NEXT_REQUEST_WAIT_MS.

        cheroot asks once a response is sent: True hands the connection straight back to the pool of request
        threads; False parks it in cheroot's selector, whose thread must wake for the next request and hand it
        over (an epoll registration and a thread switch more). A client making calls one after another sends
        its next one within a millisecond or two."""
        if not self._buffer and self._arriving():
            try:
                self._receive(self._chunk)
            except OSError:  # the peer reset: the selector finds the socket closed and cheroot drops it
                return False
        return bool(self._buffer)

    def close(self) -> None:
        self._buffer.clear()

    def _arriving(self) -> bool:
        if self._readable is None:  # not select.select: a kept-alive connection's descriptor may be above 1023
            self._readable = select.poll()
            self._readable.register(self._sock, select.POLLIN)
        return bool(self._readable.poll(NEXT_REQUEST_WAIT_MS))

    def __iter__(self) -> SocketReader:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _receive(self, size: int) -> bool:
        data = self._sock.recv(min(max(size, self._chunk), RECEIVE_MAX_BYTES))
        self._buffer += data
        return bool(data)

    def _take(self, size: int) -> bytes:
        """The first `size` bytes of the buffer, copied once (a slice of a bytearray would be copied twice)."""
        if size == len(self._buffer):
            data = bytes(self._buffer)
            self._buffer.clear()
        else:
            with memoryview(self._buffer) as view:
                data = bytes(view[:size])
            del self._buffer[:size]
        self.bytes_read += size
        return data


class SocketWriter:
    """A connection's response stream: each write goes to the socket whole, as cheroot's own writer does, without
    its copies through a pure-Python buffer. What cheroot calls: write, flush, close and `bytes_written`.

    Inside `gathered()`, writes are kept and sent together at its end in one `sendmsg` (no copy): a response's
    headers and body reach the client in one segment, so it wakes once, not twice."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._gathered: list[bytes] | None = None
        self.bytes_written = 0

    def write(self, data: bytes) -> int:
        if self._gathered is not None:
            self._gathered.append(data)
        else:
            self._sock.sendall(data)
        self.bytes_written += len(data)
        return len(data)

    @contextlib.contextmanager
    def gathered(self) -> Iterator[None]:
        """Sends what is written inside the block in one call at its end (also when the block raises)."""
        self._gathered = []
        try:
            yield
        finally:
            pieces, self._gathered = self._gathered, None
            _send_all(self._sock, pieces)

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """The connection closes the socket."""


def _send_all(sock: socket.socket, pieces: list[bytes]) -> None:
    """`sendall` of the pieces joined, without joining them: sendmsg may send part, so it is called until all went."""
    views = [memoryview(piece) for piece in pieces if piece]
    while views:
        sent = sock.sendmsg(views)
        while views and sent >= len(views[0]):
            sent -= len(views.pop(0))
        if sent:
            views[0] = views[0][sent:]


def socket_file(sock: socket.socket, mode: str = "r", bufsize: int = io.DEFAULT_BUFFER_SIZE) -> Any:
    """cheroot's MakeFile, with C-speed files: a SocketReader for mode "r…", else a SocketWriter."""
    return SocketReader(sock, bufsize) if "r" in mode else SocketWriter(sock)


def socket_file_patches() -> list[Patch]:
    """socket_file in place of cheroot's MakeFile, for the connections accepted once installed, and a request's
    lines read whole from it."""
    verify([MAKE_FILE_USED, NEXT_REQUEST_ASKED])
    return [Patch(MAKE_FILE, lambda _: socket_file), Patch(LINE_READ, _line_read_whole),
            Patch(HEADERS_READ, _header_block_read_whole)]


def _line_read_whole(original: Any) -> Any:
    """cheroot's size-checked readline reads a request line or header line in 256-byte pieces, each checked
    against the request's header size limit; from a SocketReader, which finds the line in its buffer, the line is
    read in one piece of at most the bytes the limit still allows (one more fails the same check)."""

    def readline(wrapper: SizeCheckWrapper, size: int | None = None) -> bytes:
        if size is not None or not isinstance(wrapper.rfile, SocketReader):
            return original(wrapper, size)  # type: ignore[no-any-return]
        allowed = max(wrapper.maxlen - wrapper.bytes_read + 1, 1) if wrapper.maxlen else -1
        data = wrapper.rfile.readline(allowed)
        wrapper.bytes_read += len(data)
        wrapper._check_length()
        return data

    return readline


def _header_block_read_whole(original: Any) -> Any:
    """cheroot's HeaderReader reads a request's header lines one by one (a size-checked readline, a split and a title
    case each, ~2 us a line). When the whole block is in the SocketReader's buffer (one recv takes a small request)
    and within the header size limit, it is taken in one piece and its lines read by cheroot's rules: the same
    headers, folded the same way, the same errors. Anything else (a block still arriving, over the limit, with a bare
    LF, opening with a continuation line, another reader class) is read by cheroot itself."""

    def read(reader: HeaderReader, rfile: Any, hdict: dict[bytes, bytes] | None = None) -> dict[bytes, bytes]:
        if hdict is None:
            hdict = {}
        source = rfile.rfile if isinstance(rfile, SizeCheckWrapper) else None
        if type(reader) is not HeaderReader or not isinstance(source, SocketReader):
            return original(reader, rfile, hdict)  # type: ignore[no-any-return]
        block = source.header_block(rfile.maxlen - rfile.bytes_read if rfile.maxlen else sys.maxsize)
        if block is None:
            return original(reader, rfile, hdict)  # type: ignore[no-any-return]
        rfile.bytes_read += len(block)
        _fold_lines(block[:-4].split(b"\r\n") if len(block) > 2 else [], hdict)
        return hdict

    return read


def _fold_lines(lines: list[bytes], hdict: dict[bytes, bytes]) -> None:
    """cheroot's HeaderReader loop over lines without their CRLF (the first one not a continuation)."""
    name = b""
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            value = line.strip()
        else:
            key, colon, value = line.partition(b":")
            if not colon:
                raise ValueError("Illegal header line.")
            value = value.strip()
            name = _title(key)
        if name in COMMA_SEPARATED and (existing := hdict.get(name)):
            value = b", ".join((existing, value))
        hdict[name] = value


@functools.lru_cache(maxsize=HEADER_NAMES)
def _title(key: bytes) -> bytes:
    """HeaderReader._transform_key."""
    return key.strip().title()


def wsgi_environ(gateway: wsgi.Gateway_10) -> dict[str, Any]:
    """cheroot's WSGI 1.0 environ (`Gateway_10.get_environ`, ~12 us for a boto3 request's 11 headers), the same keys
    in the same order, each header name's key made once per name; a Unix socket's or a TLS connection's by cheroot."""
    req = gateway.req
    server, conn = req.server, req.conn
    if isinstance(server.bind_addr, str) or conn.ssl_env:
        return wsgi.Gateway_10.get_environ(gateway)  # type: ignore[no-any-return]
    env = {
        "ACTUAL_SERVER_PROTOCOL": server.protocol,
        "PATH_INFO": req.path.decode("ISO-8859-1"),
        "QUERY_STRING": req.qs.decode("ISO-8859-1"),
        "REMOTE_ADDR": conn.remote_addr or "",
        "REMOTE_PORT": str(conn.remote_port or ""),
        "REQUEST_METHOD": req.method.decode("ISO-8859-1"),
        "REQUEST_URI": req.uri.decode("ISO-8859-1"),
        "SCRIPT_NAME": "",
        "SERVER_NAME": server.server_name,
        "SERVER_PROTOCOL": req.request_protocol.decode("ISO-8859-1"),
        "SERVER_SOFTWARE": server.software,
        "wsgi.errors": sys.stderr,
        "wsgi.input": req.rfile,
        "wsgi.input_terminated": bool(req.chunked_read),
        "wsgi.multiprocess": False,
        "wsgi.multithread": True,
        "wsgi.run_once": False,
        "wsgi.url_scheme": req.scheme.decode("ISO-8859-1"),
        "wsgi.version": gateway.version,
        "SERVER_PORT": str(server.bind_addr[1]),
    }
    env.update((_header_environ_key(name), value.decode("ISO-8859-1")) for name, value in req.inheaders.items())
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        value = env.pop(f"HTTP_{key}", None)
        if value is not None:
            env[key] = value
    return env


@functools.lru_cache(maxsize=HEADER_NAMES)
def _header_environ_key(name: bytes) -> str:
    return "HTTP_" + name.decode("ISO-8859-1").upper().replace("-", "_")
