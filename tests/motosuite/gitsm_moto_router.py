"""The endpoint of a test process in the server-mode run of moto's suite
(``TEST_SERVER_MODE_ENDPOINT``, ``gitsm_moto_server_plugin.py``): one address for every service, as
moto's own server is, made of two servers.

- Secrets Manager requests (``X-Amz-Target: secretsmanager.*``, or a SigV4 credential scope whose
  service is ``secretsmanager``) go to ``gitsm serve``;
- every other request goes to moto's own server (IAM, Lambda, DynamoDB, STS, ...);
- ``/moto-api/...`` (moto's reset before each test) goes to both: each is reset, and the answer is
  moto's (or gitsm's, when gitsm's reset failed).

Requests are forwarded as they came (method, path, headers, ``Host`` included, and body, byte for
byte; neither server checks signatures in this mode), and answers come back with their status,
headers and body. Before a ``RotateSecret`` that names a ``RotationLambdaARN`` is forwarded, the
router calls ``before_rotate`` with the ARN, which registers the rotation function (the plugin's
business: it knows the store).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase

GITSM, MOTO, BOTH = "gitsm", "moto", "both"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"}
"""Headers of one connection, not of the request or answer (RFC 9110, 7.6.1): not forwarded."""
TIMEOUT = 600.0
"""Seconds to wait for an upstream answer (a RotateSecret runs its rotation before it answers)."""
_SCOPE = re.compile(r"Credential=[^/,]*/[^/,]*/[^/,]*/([^/,]*)/aws4_request")
Address = tuple[str, int]


def destination(path: str, target: str | None, authorization: str | None) -> str:
    """Where a request goes: :data:`GITSM`, :data:`MOTO` or :data:`BOTH` (``/moto-api/``)."""
    if path.split("?", 1)[0].startswith("/moto-api/"):
        return BOTH
    if target is not None and target.startswith("secretsmanager."):
        return GITSM
    scope = _SCOPE.search(authorization or "")
    if scope is not None and scope[1] == "secretsmanager":
        return GITSM
    return MOTO


def _read_chunked(stream: BufferedIOBase) -> bytes:
    """A chunked body (RFC 9112, 7.1), decoded; trailer fields are dropped."""
    parts: list[bytes] = []
    while True:
        size = int(stream.readline().split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        parts.append(stream.read(size))
        stream.readline()


class Router(ThreadingHTTPServer):
    """The router: serves on ``address`` (port 0: any free port) in a daemon thread once
    :meth:`start` is called."""

    daemon_threads = True

    def __init__(
        self, address: Address, gitsm: Address, moto: Address,
        before_rotate: Callable[[str], None],
    ) -> None:  # fmt: skip
        super().__init__(address, _Handler)
        self.gitsm, self.moto, self.before_rotate = gitsm, moto, before_rotate

    @property
    def url(self) -> str:
        """``http://host:port`` of the router."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a daemon thread."""
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _Handler(BaseHTTPRequestHandler):
    """One client connection: each request forwarded, each answer relayed."""

    server: Router
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        """Forward."""
        self._relay()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def _relay(self) -> None:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        if chunked:
            body = _read_chunked(self.rfile)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        where = destination(self.path, self.headers.get("X-Amz-Target"),
                            self.headers.get("Authorization"))  # fmt: skip
        try:
            if where == GITSM:
                self._before(body)
            if where == BOTH:
                conn, answer = self._forward(self.server.gitsm, body, chunked)
                reset_failed = answer.status >= 300 and self.path.startswith("/moto-api/reset")
                if reset_failed:
                    self._answer(answer)
                conn.close()
                if reset_failed:
                    return
            conn, answer = self._forward(self.server.gitsm if where == GITSM else self.server.moto,
                                         body, chunked)  # fmt: skip
            try:
                self._answer(answer)
            finally:
                conn.close()
        except (OSError, http.client.HTTPException, RuntimeError) as exc:
            self._fail(f"gitsm_moto_router: {type(exc).__name__}: {exc}")

    def _before(self, body: bytes) -> None:
        """A RotateSecret naming a RotationLambdaARN: ``before_rotate`` first."""
        if self.headers.get("X-Amz-Target") != "secretsmanager.RotateSecret":
            return
        try:
            arn = json.loads(body).get("RotationLambdaARN")
        except (ValueError, AttributeError):
            return  # gitsm serve answers a malformed request
        if isinstance(arn, str) and arn:
            self.server.before_rotate(arn)

    def _forward(
        self, upstream: Address, body: bytes, chunked: bool
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send this request to ``upstream``; the connection and its answer."""
        conn = http.client.HTTPConnection(*upstream, timeout=TIMEOUT)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in HOP_BY_HOP:
                conn.putheader(name, value)
        conn.endheaders([body] if chunked else body or None, encode_chunked=chunked)
        return conn, conn.getresponse()

    def _answer(self, answer: http.client.HTTPResponse) -> None:
        """Relay ``answer``: its status, headers and body (streamed when its length is known)."""
        length = answer.getheader("Content-Length")
        no_body = self.command == "HEAD" or answer.status in (204, 304) or answer.status < 200
        whole = answer.read() if length is None and not no_body else None
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "transfer-encoding":
                self.send_header(name, value)
        if whole is not None:
            self.send_header("Content-Length", str(len(whole)))
        self.end_headers()
        if whole is not None:
            self.wfile.write(whole)
            return
        while block := answer.read(65536):
            self.wfile.write(block)

    def _fail(self, message: str) -> None:
        body = message.encode("utf-8", "replace")
        self.send_response(502)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet (gitsm serve keeps an access log)."""
