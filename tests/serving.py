"""Running the real ``gitsm serve`` in a subprocess for tests, and talking to it.

:class:`Served` starts ``gitsm serve`` on a store with its own ``GITSM_HOME`` (the key ring the
server and any other gitsm process on that store share), waits for the ready line on standard
error and gives the URL; boto3 clients and raw sockets reach it there.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

import gitsm

READY = "gitsm serve: ready at "


def store_env(home: Path, *, fsync: bool = False) -> dict[str, str]:
    """The environment of a gitsm process on the test store: its key ring, fsync off (unless
    ``fsync``, the shipped default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITSM_")}
    env.update(GITSM_HOME=str(home))
    if not fsync:
        env["GITSM_FSYNC"] = "0"
    return env


def make_store(base: Path) -> tuple[Path, Path]:
    """A fresh bare store under ``base`` and the GITSM_HOME that holds its key."""
    home, repo = base / "home", base / "store.git"
    home.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("GITSM_HOME")
    os.environ["GITSM_HOME"] = str(home)
    try:
        gitsm.init(repo, bare=True, region="us-east-1", account_id="123456789012")
    finally:
        if old is None:
            del os.environ["GITSM_HOME"]
        else:
            os.environ["GITSM_HOME"] = old
    return repo, home


class Served:
    """A running ``gitsm serve --test-reset`` (or with ``args``) on ``repo``."""

    def __init__(
        self, repo: Path, home: Path, *args: str, log: Path | None = None, fsync: bool = False
    ) -> None:
        self.repo, self.home = repo, home
        argv = [sys.executable, "-m", "gitsm", "serve", "--repo", str(repo), *args]
        if log is not None:
            argv += ["--access-log", str(log)]
        self.proc = subprocess.Popen(
            argv, env=store_env(home, fsync=fsync), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.url = self._wait_ready()
        self.said: list[str] = []  # stderr after the ready line, read on so the pipe never fills
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.said.append(line)

    def _wait_ready(self) -> str:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 30
        seen = []
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith(READY):
                self.started = "".join(seen)  # what the server said before it was ready
                return line[len(READY) :].strip()
        self.proc.kill()
        raise AssertionError(f"gitsm serve did not start: {''.join(seen)}")

    @property
    def port(self) -> int:
        """The TCP port (a TCP server only)."""
        return int(self.url.rsplit(":", 1)[1])

    def client(self, region: str = "us-east-1", **config: Any) -> Any:
        """A boto3 Secrets Manager client of this server, with dummy credentials."""
        return boto3.client(
            "secretsmanager", endpoint_url=self.url, region_name=region,
            aws_access_key_id="AKIDTEST", aws_secret_access_key="test-secret",
            config=Config(retries={"max_attempts": 1}, **config),
        )  # fmt: skip

    def stop(self, sig: int | None = signal.SIGTERM, timeout: float = 20) -> tuple[int, str]:
        """Send ``sig`` (None: none, the server is already stopping) and wait; the exit status
        and what the server said on stderr after the ready line."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout)
        self._reader.join(timeout)
        return self.proc.returncode, "".join(self.said)


def raw(port: int, data: bytes, timeout: float = 5) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        chunks = []
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server answered and closed before reading it all (a refusal)
            pass
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def request(target: str, body: bytes, extra: str = "") -> bytes:
    """An AWS JSON 1.1 request's bytes."""
    head = (
        f"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: {target}\r\n"
        f"Content-Type: application/x-amz-json-1.1\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


def kill_quietly(proc: subprocess.Popen[Any]) -> None:
    """Make sure a server process is gone."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
