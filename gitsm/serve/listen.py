"""Listening: TCP (optionally TLS) or a unix socket, the ready line, and the signals that stop
the server (SIGTERM, SIGINT: a graceful shutdown, see :meth:`gitsm.serve.http.Server.drain`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import ssl
import stat
import sys
from collections.abc import Callable
from typing import Any

from gitsm.serve.app import App
from gitsm.serve.http import Connection, Server

SWEEP_EVERY = 5.0
"""Seconds between two looks for idle and slow connections."""


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def unix_socket(path: str) -> socket.socket:
    """A listening unix socket at ``path``, mode 0600 from its creation; a stale socket file left
    by a dead server is replaced, anything else there is an error."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(mode):
            raise OSError(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # nobody listens: a dead server's
        else:
            raise OSError(f"another server listens on {path}")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return sock


async def _serve(app: App, bind: dict[str, Any], ready: Callable[[str], None]) -> None:
    loop = asyncio.get_running_loop()
    server = Server(app)
    tls: ssl.SSLContext | None = bind.get("tls")
    if bind.get("socket"):
        sock = unix_socket(bind["socket"])
        listener = await loop.create_unix_server(lambda: Connection(server), sock=sock, ssl=tls)
        url = f"unix:{bind['socket']}"
    else:
        listener = await loop.create_server(lambda: Connection(server), bind["host"],
                                            bind["port"], ssl=tls, backlog=1024)  # fmt: skip
        host, port = listener.sockets[0].getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        url = f"{'https' if tls else 'http'}://{shown}:{port}"
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def sweeper() -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            server.sweep()

    sweeping = loop.create_task(sweeper())
    ready(url)
    await stop.wait()
    listener.close()
    await server.drain()
    sweeping.cancel()
    if bind.get("socket"):
        with contextlib.suppress(OSError):
            os.unlink(bind["socket"])


def serve(app: App, bind: dict[str, Any], ready: Callable[[str], None] | None = None) -> None:
    """Serve ``app`` until SIGTERM or SIGINT. ``bind``: ``host`` and ``port``, or ``socket`` (a
    path); ``tls``, an SSLContext, optional. ``ready`` gets the URL once the socket listens."""

    def announce(url: str) -> None:
        sys.stderr.write(f"gitsm serve: ready at {url}\n")
        sys.stderr.flush()

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_serve(app, bind, ready or announce))
