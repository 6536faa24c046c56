"""The HTTP/1.1 server: asyncio (uvloop when importable) and httptools' parser.

Keep-alive connections, bodies by Content-Length (chunked ones too, httptools decodes them), at
most :data:`~gitsm.serve.wire.MAX_BODY` bytes (413 beyond, then the connection is closed), idle
connections closed after :data:`IDLE_TIMEOUT` seconds. Requests on one connection are answered in
order. What :meth:`App.prepare` answers at once (cache hits, refusals) is written from the event
loop; store work runs in threads: writes on one writer thread, one at a time, cache misses on
:data:`READERS` reader threads, so cached reads keep flowing behind a slow fsync.

Shutdown (SIGTERM, SIGINT): stop accepting connections and reading requests, answer every
request already received (a write in progress lands and is acknowledged), close, exit 0.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import httptools

from gitsm.serve import wire
from gitsm.serve.app import App, Job, error_response
from gitsm.serve.applog import Response, failure
from gitsm.serve.workers import Workers

IDLE_TIMEOUT = 60.0
"""Seconds a connection may stay silent (between requests, or in the middle of one)."""
READERS = 2
"""Threads that run reads the cache could not answer."""
MAX_QUEUED = 16
"""Requests parsed ahead on one connection before its reading pauses."""
LINGER = 2.0
"""Seconds a refused connection is read (and dropped) before it is closed."""
REQUEST_TIMEOUT = 30.0
"""Seconds a client may take to send one request, from its first byte to its last."""
DRAIN_TIMEOUT = 30.0
"""Seconds shutdown waits for requests in progress."""

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large",
            500: "Internal Server Error"}  # fmt: skip


@dataclass
class Request:
    """One parsed request."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


_date: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header's value, made once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, email.utils.formatdate(now, usegmt=True))
    return _date[1]


def render(out: Response, keep_alive: bool) -> bytes:
    """The HTTP/1.1 bytes of an answer."""
    lines = [f"HTTP/1.1 {out.status} {_REASONS.get(out.status, 'Error')}", f"Date: {http_date()}"]
    lines += [f"{k}: {v}" for k, v in out.headers]
    lines.append(f"Content-Length: {len(out.body)}")
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + out.body


class Server:
    """The connections, the worker threads and the shutdown of one listening socket."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.writer = Workers(1, "gitsm-writer")
        self.rotator = Workers(1, "gitsm-rotator")
        self.readers = Workers(READERS, "gitsm-reader")
        self.connections: set[Connection] = set()
        self.closing = False

    def run_job(self, job: Job, then: Callable[[Response], None]) -> None:
        """Run ``job`` on its thread; ``then`` its answer on the loop."""
        pool = self.rotator if job.rotation else self.writer if job.write else self.readers

        def work() -> Response:
            try:
                return job.work()
            except BaseException as exc:  # (the app's jobs answer their own Exceptions)
                return error_response(*failure(exc))

        def finished(out: Response) -> None:
            then(out)  # the answer first; the access log and the cache after it
            job.done(out)

        pool.submit(work, finished, asyncio.get_running_loop())

    def sweep(self) -> None:
        """Close connections idle for too long, and those sending a request too slowly."""
        now = time.monotonic()
        for conn in list(self.connections):
            slow = conn.began is not None and now - conn.began > REQUEST_TIMEOUT
            if slow or (conn.idle and now - conn.last_active > IDLE_TIMEOUT):
                conn.close()

    async def drain(self) -> None:
        """Stop reading; answer every request already received (bounded by DRAIN_TIMEOUT),
        closing each connection once it has nothing left to answer."""
        self.closing = True
        for conn in list(self.connections):
            if conn.transport is not None and not conn.paused:
                conn.paused = True
                conn.transport.pause_reading()  # what was received is answered; nothing more
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while time.monotonic() < deadline:
            for conn in list(self.connections):
                if conn.idle:
                    conn.close()
            if not self.connections:
                break
            await asyncio.sleep(0.02)
        self.rotator.shutdown(wait=True)  # a rotation in progress ends and is answered
        self.writer.shutdown(wait=True)  # so does a write
        self.readers.shutdown(wait=True)


class Connection(asyncio.Protocol):
    """One client connection: parses requests, answers them in order."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer = "unix"
        self.queue: deque[Request] = deque()
        self.busy = False
        self.paused = False
        self.last_active = time.monotonic()
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._refused = False
        self._refusal: Response | None = None
        self.eof = False
        self.began: float | None = None
        """When the request being received started (None between requests)."""

    @property
    def idle(self) -> bool:
        """Nothing received is waiting for an answer."""
        return not self.busy and not self.queue

    # -- asyncio -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start serving a new connection."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self.peer = str(peer[0])
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(self)
        if self.server.closing:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget a closed connection."""
        self.server.connections.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        """Feed the parser; answer what it completes."""
        self.last_active = time.monotonic()
        if self._refused:
            return  # read and dropped until the client closes (see _refuse)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "Protocol upgrades are not supported.")
        except httptools.HttpParserError:
            self._fail(400, "The request is not valid HTTP/1.1.")

    def eof_received(self) -> bool:
        """The client sent all it will (a half-close): answer what it sent, then close."""
        self.eof = True
        if not self.busy and not self.queue:
            self.close()
        return True  # keep the transport open to write the answers

    # -- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        """A new request starts."""
        self.began = time.monotonic()
        self._url = b""
        self._headers = {}
        self._body = []
        self._size = 0

    def on_url(self, url: bytes) -> None:
        """Part of the request target."""
        self._url += url
        if len(self._url) > 8192:
            self._fail(400, "The request target is too long.")

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header (names are kept lower-cased)."""
        if len(self._headers) >= 100:
            self._fail(400, "The request has too many headers.")
            return
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]},{text}" if key in self._headers else text

    def on_headers_complete(self) -> None:
        """Refuse a declared body over the limit before reading it."""
        length = self._headers.get("content-length", "0")
        if length.isdigit() and int(length) > wire.MAX_BODY:
            self._too_large()
        elif self._headers.get("expect", "").lower() == "100-continue" and self.transport:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for it

    def on_body(self, body: bytes) -> None:
        """Part of the body (decoded when chunked)."""
        self._size += len(body)
        if self._size > wire.MAX_BODY:
            self._too_large()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        """A whole request: queue it, and answer it when those before it are answered."""
        self.began = None
        if self._refused:
            return
        parsed = httptools.parse_url(self._url or b"/")
        request = Request(
            self.parser.get_method().decode("latin-1"),
            (parsed.path or b"/").decode("latin-1"),
            (parsed.query or b"").decode("latin-1"),
            self._headers,
            b"".join(self._body),
            self.parser.should_keep_alive(),
        )
        self.queue.append(request)
        if len(self.queue) >= MAX_QUEUED and self.transport is not None and not self.paused:
            self.transport.pause_reading()
            self.paused = True
        if not self.busy:
            self._next()

    # -- answering ----------------------------------------------------------------------------

    def _next(self) -> None:
        while self.queue and self.transport is not None:
            request = self.queue.popleft()
            if self.paused and len(self.queue) < MAX_QUEUED // 2 and not self.server.closing:
                self.transport.resume_reading()
                self.paused = False
            out = self.server.app.prepare(request.method, request.path, request.query,
                                          request.headers, request.body, self.peer)  # fmt: skip
            if isinstance(out, Job):
                self.busy = True
                self.server.run_job(out, functools.partial(self._answered, request))
                return
            self._send(out, request.keep_alive)
        if self._refusal is not None:
            self._linger()
        elif self.eof and not self.busy:
            self.close()

    def _answered(self, request: Request, out: Response) -> None:
        self.busy = False
        self.last_active = time.monotonic()
        self._send(out, request.keep_alive)
        self._next()

    def _send(self, out: Response, keep_alive: bool) -> None:
        if self.transport is None:
            return
        keep = keep_alive and not (self.server.closing and not self.queue)
        self.transport.write(render(out, keep))
        if not keep:
            self.queue.clear()
            self.close()

    def _too_large(self) -> None:
        self._refuse(error_response(
            "RequestEntityTooLargeException",
            f"The request body is over the limit of {wire.MAX_BODY} bytes.",
            413,
        ))  # fmt: skip

    def _fail(self, status: int, message: str) -> None:
        """Answer a request that cannot be parsed, then close the connection."""
        self._refuse(error_response("SerializationException", message, status))

    def _refuse(self, out: Response) -> None:
        """Refuse the rest of the connection with ``out``, after the answers to the requests
        before it (see :meth:`_linger`); what the client still sends is dropped."""
        if self._refused:
            return
        self._refused = True
        self._refusal = out
        if self.idle:
            self._linger()

    def _linger(self) -> None:
        """Send the refusal, then close the way that lets the client read it: half-close, drop
        what it still sends, close when it does or after :data:`LINGER` seconds (closing with
        unread data would reset the connection and could lose the answer)."""
        out, self._refusal = self._refusal, None
        transport = self.transport
        if out is None or transport is None:
            return
        transport.write(render(out, False))
        if transport.can_write_eof():
            transport.write_eof()
            asyncio.get_running_loop().call_later(LINGER, self.close)
        else:
            self.close()

    def close(self) -> None:
        """Close the connection once what was written is sent."""
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        self.server.connections.discard(self)
