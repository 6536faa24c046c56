"""Servers for the tests of ``gitsm serve``'s clients and for bench/bench_serve.py: a server
process on 127.0.0.1 and boto3 clients pointed at it.

:func:`start_gitsm` runs ``gitsm serve --test-reset --port 0`` through tests/serving.py's
:class:`~tests.serving.Served` (which waits for the ready line), with the access log in a file so
that nothing fills the stderr pipe; :func:`start_moto` runs ``moto_server`` (the same wire
protocol, AWS JSON 1.1) on a free port and waits until it answers. Either way :class:`Server` has
the endpoint URL and makes clients; :meth:`Server.stop` sends SIGTERM (SIGKILL after a grace
period). Both processes get a private ``GITSM_HOME`` (key ring).

``GITSM_TEST_SERVER=moto`` makes :func:`start` run moto_server instead of gitsm serve: to develop
a client test against moto, or to see where moto and gitsm differ. It is never set in CI.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

import gitsm
from tests.serving import Served, make_store, store_env

REGION = "us-east-1"
ACCESS_KEY, SECRET_KEY = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
"""Dummy credentials (AWS's documentation example): a test-mode server checks no signature."""
READY_TIMEOUT = 30.0
SERVER_ENV = "GITSM_TEST_SERVER"


@dataclass
class Server:
    """A running server process and its endpoint."""

    kind: str  # "gitsm" or "moto"
    url: str
    process: subprocess.Popen[Any]
    repo: Path | None = None
    home: Path | None = None
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def client(self, region: str = REGION, **config: Any) -> Any:
        """A boto3 secretsmanager client on this endpoint (dummy credentials, one attempt, so a
        refused call fails at once rather than being retried)."""
        retries = config.pop("retries", {"max_attempts": 1, "mode": "standard"})
        return boto3.session.Session().client(
            "secretsmanager", endpoint_url=self.url, region_name=region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=Config(retries=retries, **config),
        )  # fmt: skip

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


def new_store(path: Path, home: Path, **init: Any) -> Path:
    """A fresh store at ``path`` whose keys go to the key ring ``home`` (``gitsm.init``
    keywords: ``bare``, ``region``, ``account_id``...)."""
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


def start_gitsm(repo: Path, home: Path, *args: str, log: Path) -> Server:
    """``gitsm serve --test-reset --port 0 --repo REPO ARGS``, ready; access log to ``log``."""
    served = Served(repo, home, "--test-reset", "--port", "0", *args, log=log)
    assert served.proc.stdout is not None and served.proc.stderr is not None
    served.proc.stdout.close()  # it prints nothing there; stderr only on a fault, after the log
    return Server("gitsm", served.url, served.proc, repo, home)


ALLOW_ALL = """\
format: 1
principals:
  bench:
    read: ["*"]
    write: ["*"]
"""
"""A server policy that lets the principal ``bench`` do everything."""


def start_gitsm_signed(
    repo: Path, home: Path, *args: str, log: Path, fsync: bool = False, key: Any = None
) -> Server:
    """``gitsm serve --port 0 --repo REPO ARGS`` in normal mode, ready: the store gets a server
    policy letting principal ``bench`` do everything (one plain commit of .gitsm/server.yaml), the
    key ring ``home`` an access key of ``bench``, and the server checks every request's SigV4
    signature against it. The returned :class:`Server`'s clients sign with that key."""
    from gitsm.serve.accesskeys import AccessKeys

    if key is not None:  # a second server on a store already set up: reuse its key
        served = Served(repo, home, "--port", "0", *args, log=log, fsync=fsync)
        assert served.proc.stdout is not None
        served.proc.stdout.close()
        return Server("gitsm", served.url, served.proc, repo, home, key[0], key[1])
    clone = repo.parent / "policy-clone"
    env = {**store_env(home), "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}  # fmt: skip
    for argv, cwd in ((["clone", "-q", str(repo), str(clone)], None),
                      (["add", ".gitsm/server.yaml"], clone),
                      (["commit", "-q", "-m", "Who may call gitsm serve"], clone),
                      (["push", "-q", "origin", "HEAD"], clone)):  # fmt: skip
        if argv[0] == "add":
            (clone / ".gitsm" / "server.yaml").write_text(ALLOW_ALL)
        subprocess.run(["git", *argv], cwd=cwd, env=env, check=True, capture_output=True)
    made = AccessKeys(env={"GITSM_HOME": str(home)}).create("bench")
    served = Served(repo, home, "--port", "0", *args, log=log, fsync=fsync)
    assert served.proc.stdout is not None and served.proc.stderr is not None
    served.proc.stdout.close()
    return Server("gitsm", served.url, served.proc, repo, home, made.access_key_id,
                  made.secret_access_key)  # fmt: skip


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
    """``moto_server -H 127.0.0.1 -p PORT`` on a free port, ready (it answers HTTP); its
    werkzeug log goes to ``home/moto.log``."""
    port = free_port()
    with open(home / "moto.log", "ab") as log:
        process = subprocess.Popen(
            [*moto_server_command(), "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=store_env(home),
        )  # fmt: skip
    server = Server("moto", f"http://127.0.0.1:{port}", process, None, home)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(server.url + "/moto-api/", timeout=1) as answer:
                answer.read()
            return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    log_text = (home / "moto.log").read_text(errors="replace")
    raise RuntimeError(f"moto_server did not answer within {timeout:.0f}s:\n{log_text}")


def start(workdir: Path, repo: Path | None = None) -> Server:
    """The server under test, with its key ring in ``workdir/home``: gitsm serve on ``repo``
    (default: a fresh bare store from tests/serving.py's make_store), or moto_server when
    ``$GITSM_TEST_SERVER`` is ``moto``."""
    if os.environ.get(SERVER_ENV) == "moto":
        home = workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        return start_moto(home)
    if repo is None:
        repo, home = make_store(workdir)
    else:
        home = workdir / "home"
    return start_gitsm(repo, home, log=workdir / "access.log")


@contextlib.contextmanager
def serving(workdir: Path | None = None, repo: Path | None = None) -> Iterator[Server]:
    """:func:`start`, stopped (SIGTERM) on the way out; a temporary ``workdir`` by default."""
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gitsm-serve-")))
        server = start(workdir, repo)
        try:
            yield server
        finally:
            server.stop()
