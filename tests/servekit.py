"""Real servers for the tests of ``gitsm serve``'s clients: a server process on 127.0.0.1 and boto3
clients pointed at it.

:func:`start_gitsm` runs ``gitsm serve --test-reset --port 0 --repo STORE`` and waits for the ready
line the server prints on stderr (the first ``http://`` URL in it); :func:`start_moto` runs
``moto_server`` (the same wire protocol, AWS JSON 1.1) on a free port and waits until it answers.
Either way :class:`Server` has the endpoint URL and makes clients; :meth:`Server.stop` sends SIGTERM
(SIGKILL after a grace period). The server process gets an environment of its own: a private
``GITSM_HOME`` (key ring), fsync off and a git identity, so it never touches the user's keys.

``GITSM_TEST_SERVER=moto`` makes :func:`start` run moto_server instead of gitsm serve: for
developing a client test before the server exists, or to compare the two. It is never set in CI.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

import gitsm

REGION = "us-east-1"
ACCESS_KEY, SECRET_KEY = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
"""Dummy credentials (AWS's documentation example): a test-mode server checks no signature."""
READY_TIMEOUT = 30.0
SERVER_ENV = "GITSM_TEST_SERVER"
_URL = re.compile(r"https?://[^\s'\"]+")


@dataclass
class Server:
    """A running server process and its endpoint."""

    kind: str  # "gitsm" or "moto"
    url: str
    process: subprocess.Popen[bytes]
    repo: Path | None = None
    stderr_lines: list[str] = field(default_factory=list)

    def client(self, region: str = REGION, **config: Any) -> Any:
        """A boto3 secretsmanager client on this endpoint (dummy credentials, no retries, so a
        refused call fails at once rather than being retried)."""
        retries = config.pop("retries", {"max_attempts": 1, "mode": "standard"})
        return boto3.session.Session().client(
            "secretsmanager",
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(retries=retries, **config),
        )

    def reset(self) -> None:
        """``POST /moto-api/reset``: empty the store (test mode only)."""
        request = urllib.request.Request(self.url + "/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()

    def stop(self, grace: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after ``grace`` seconds; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log(self) -> str:
        """What the server printed on stderr so far."""
        return "".join(self.stderr_lines)


def server_env(home: Path) -> dict[str, str]:
    """The environment of a server process: this one's, with a private key ring under ``home``,
    fsync off, a git identity and no AWS settings of the user's."""
    drop = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITSM_LOCAL_KEYS", "AWS_PROFILE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(GITSM_HOME=str(home), GITSM_FSYNC="0", PYTHONUNBUFFERED="1")
    for who in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{who}_NAME"], env[f"GIT_{who}_EMAIL"] = "gitsm serve", "serve@example.com"
    return env


def new_store(path: Path, home: Path, **init: Any) -> Path:
    """A fresh store at ``path`` made with the key ring ``home`` (``gitsm.init`` keywords)."""
    old = os.environ.get("GITSM_HOME")
    os.environ["GITSM_HOME"] = str(home)
    try:
        gitsm.init(path, fsync=False, **init)
    finally:
        if old is None:
            del os.environ["GITSM_HOME"]
        else:
            os.environ["GITSM_HOME"] = old
    return path


def _drain(process: subprocess.Popen[bytes], lines: list[str], seen: threading.Event) -> None:
    """Keep reading the server's stderr (so it never blocks on a full pipe); note the first URL."""
    assert process.stderr is not None
    for raw in process.stderr:
        line = raw.decode(errors="replace")
        lines.append(line)
        if _URL.search(line):
            seen.set()
    seen.set()  # EOF: the process ended


def _gitsm_command() -> list[str]:
    return [sys.executable, "-m", "gitsm"]


def start_gitsm(
    repo: Path, home: Path, *args: str, test_reset: bool = True, timeout: float = READY_TIMEOUT
) -> Server:
    """``gitsm serve --port 0 --repo REPO [--test-reset] ARGS``, ready (its URL printed)."""
    command = [*_gitsm_command(), "serve", "--host", "127.0.0.1", "--port", "0", "--repo",
               str(repo), *(["--test-reset"] if test_reset else []), *args]  # fmt: skip
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=server_env(home),
    )  # fmt: skip
    lines: list[str] = []
    seen = threading.Event()
    threading.Thread(target=_drain, args=(process, lines, seen), daemon=True).start()
    url = None
    deadline = time.monotonic() + timeout
    while url is None and time.monotonic() < deadline:
        seen.wait(0.05)
        found = [m.group(0) for line in list(lines) for m in [_URL.search(line)] if m]
        url = found[0].rstrip("/.,;") if found else None
        if url is None and process.poll() is not None:
            break
    server = Server("gitsm", url or "", process, repo, lines)
    if url is None:
        server.stop()
        raise RuntimeError(f"gitsm serve printed no URL within {timeout:.0f}s:\n{server.log()}")
    return server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (moto_server cannot pick one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def moto_server_command() -> list[str]:
    """moto_server beside this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name("moto_server")
    found = str(beside) if beside.exists() else shutil.which("moto_server")
    if found is None:
        raise RuntimeError("moto_server is not installed (pip install 'moto[server]')")
    return [found]


def start_moto(home: Path, timeout: float = READY_TIMEOUT) -> Server:
    """``moto_server -H 127.0.0.1 -p PORT`` on a free port, ready (it answers HTTP)."""
    port = free_port()
    process = subprocess.Popen(
        [*moto_server_command(), "-H", "127.0.0.1", "-p", str(port)], stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=server_env(home),
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=_drain, args=(process, lines, threading.Event()), daemon=True).start()
    server = Server("moto", f"http://127.0.0.1:{port}", process, None, lines)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(server.url + "/moto-api/", timeout=1) as answer:
                answer.read()
            return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"moto_server did not answer within {timeout:.0f}s:\n{server.log()}")


def start(workdir: Path, **init: Any) -> Server:
    """The server under test: gitsm serve on a fresh store in ``workdir`` (``gitsm.init``
    keywords), or moto_server when ``$GITSM_TEST_SERVER`` is ``moto``."""
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    if os.environ.get(SERVER_ENV) == "moto":
        return start_moto(home)
    return start_gitsm(new_store(workdir / "store", home, **init), home)


@contextlib.contextmanager
def serving(workdir: Path | None = None, **init: Any) -> Iterator[Server]:
    """:func:`start`, stopped (SIGTERM) on the way out; a temporary ``workdir`` by default."""
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gitsm-serve-")))
        server = start(workdir, **init)
        try:
            yield server
        finally:
            server.stop()
