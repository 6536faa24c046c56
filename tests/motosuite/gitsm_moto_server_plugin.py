"""A pytest plugin that runs moto's own Secrets Manager tests in moto's server mode against
``gitsm serve`` (``scripts/moto-suite --server``): the tests' clients speak HTTP to a real
``gitsm serve --test-reset`` process, as they would to ``moto_server``.

Loaded with ``-p gitsm_moto_server_plugin`` in place of the in-process plugin (nothing of gitsm is
patched into the test process). Each pytest process that runs tests (each xdist worker, or the one
process without xdist) starts its own servers, because moto's server mode calls
``POST /moto-api/reset`` at the start of every test, which empties everything: two workers on one
server would empty each other's. They are:

- ``gitsm serve --test-reset`` on a fresh bare store (account 123456789012, moto's default; fsync
  off; a private ``GITSM_HOME``), for Secrets Manager;
- moto's own server (``moto.server.ThreadedMotoServer`` on 127.0.0.1, in this process), for every
  other AWS service a test uses (IAM, Lambda, DynamoDB, STS), as the in-process run leaves them to
  moto;
- the router in front of both (``gitsm_moto_router.py``): ``TEST_SERVER_MODE_ENDPOINT``, so that
  every ``boto3.client`` a test makes goes there, and a reset resets both. A client a test points
  at moto's default server address (``http://localhost:5000``, as ``test_cancel_rotate_secret``
  does for its Lambda client) is sent to the router too, since that address means moto's server;
- the bridge (``gitsm_moto_bridge.py``), named in gitsm serve's environment: before a RotateSecret
  naming one of moto's Lambda functions reaches gitsm serve, the router registers a rotation
  function of that name in the store, which hands each step to the bridge: the function's code,
  which moto runs only in docker, runs in a local process with its SDK pointed at the router
  (``gitsm_moto_bridge.Runtime``); when it fails, the step is done with gitsm's generic password
  function, as moto's Secrets Manager goes on when an invocation fails.

``TEST_SERVER_MODE=true`` is set before moto is imported (moto reads it at import). The lists are
those of ``deselected.txt`` and ``server_expected_failures.txt`` (``gitsm_moto_marks.py``).
gitsm serve's access log is written to ``$GITSM_MOTO_SERVER_LOG_DIR`` when set (one file per
process), else to a temporary directory removed at the end.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3.session
import pytest
from gitsm_moto_bridge import (
    BRIDGE_ENV,
    DEFAULT_COMMAND,
    DEFAULT_FUNCTION,
    Runtime,
    bridge_command,
    moto_function_exists,
    start_bridge,
)
from gitsm_moto_lists import SERVER_EXPECTED_FAILURES, server_expected_failures
from gitsm_moto_marks import ListedRun, seeded_uuid4  # noqa: F401 (an autouse fixture)
from gitsm_moto_router import Router

READY = "gitsm serve: ready at "
ACCOUNT = "123456789012"
LOG_DIR_ENV = "GITSM_MOTO_SERVER_LOG_DIR"
MOTO_DEFAULT_ENDPOINT = "http://localhost:5000"
"""moto's server's default address (``TEST_SERVER_MODE_ENDPOINT``'s default), which a test may
name outright: its clients are sent to this process's endpoint instead."""


@dataclass
class Running:
    """What a test process started: the bridge, gitsm serve, moto's server and the router."""

    work: tempfile.TemporaryDirectory[str]
    bridge: ThreadingHTTPServer | None = None
    gitsm: subprocess.Popen[str] | None = None
    moto: Any = None  # moto.server.ThreadedMotoServer (moto is imported late)
    router: Router | None = None


_running: Running | None = None
_original_client = boto3.session.Session.client


def _env(home: Path, bridge: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITSM_", "GIT_"))}
    env.update(GITSM_HOME=str(home), GITSM_FSYNC="0")
    env[BRIDGE_ENV] = bridge  # for the rotation functions of moto's Lambda functions
    for who in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{who}_NAME"], env[f"GIT_{who}_EMAIL"] = "moto suite", "moto-suite@example.com"
    return env


def gitsm_cli(env: dict[str, str], *args: str) -> None:
    """Run ``gitsm ARGS`` with ``env``; RuntimeError with its standard error when it fails."""
    done = subprocess.run([sys.executable, "-m", "gitsm", *args], env=env, capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"gitsm {' '.join(args[:2])} failed: {done.stderr.strip()}")


@dataclass
class Registrar:
    """Registers, in gitsm serve's store, a rotation function for each moto Lambda function a
    RotateSecret names (the router calls it before forwarding the request), as the in-process
    plugin's client does: the name is the ARN's function name, as the store resolves it
    (``gitsm.rotationstate.function_name``), and the command invokes the moto function through the
    bridge (``gitsm_moto_bridge.bridge_command``). Reset keeps rotation functions, so each ARN is
    registered once per process."""

    repo: Path
    env: dict[str, str]
    done: set[str] = field(default_factory=set)

    def __call__(self, arn: str) -> None:
        """Register ``arn``'s function unless moto has no such function or it is done."""
        if arn in self.done or not moto_function_exists(arn):
            return
        from gitsm.rotationstate import function_name

        command = shlex.join(bridge_command(arn))
        gitsm_cli(self.env, "rotation", "register-function", function_name(arn), "--command",
                  command, "--repo", str(self.repo))  # fmt: skip
        self.done.add(arn)


def start_server(work: Path, name: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """``gitsm serve --test-reset --port 0`` on a fresh bare store ``work``/store.git, with
    ``env``; the process and its URL (from the ready line on stderr)."""
    repo = work / "store.git"
    try:
        gitsm_cli(env, "init", "--bare", "--account-id", ACCOUNT, "--region", "us-east-1",
                  str(repo))  # fmt: skip
        # the in-process plugin's default rotation function (gitsm's managed rotation), kept by
        # reset
        gitsm_cli(env, "rotation", "register-function", DEFAULT_FUNCTION, "--command",
                  shlex.join(DEFAULT_COMMAND), "--repo", str(repo))  # fmt: skip
        gitsm_cli(env, "rotation", "set-default-function", DEFAULT_FUNCTION, "--repo", str(repo))
    except RuntimeError as exc:
        raise pytest.UsageError(str(exc)) from None
    log_dir = Path(os.environ.get(LOG_DIR_ENV) or work)
    log_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "gitsm", "serve", "--test-reset", "--port", "0", "--repo",
         str(repo), "--access-log", str(log_dir / f"access-{name}.log")],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stderr is not None
    deadline, seen = time.monotonic() + 60, []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith(READY):
            return process, line[len(READY) :].strip()
    process.kill()
    raise pytest.UsageError(f"gitsm serve did not start: {''.join(seen)}")


def _start(running: Running, worker: str) -> None:
    """Into ``running``: the bridge, gitsm serve (its environment naming the bridge), moto's own
    server and the router in front of both; ``TEST_SERVER_MODE_ENDPOINT`` is the router."""
    work = Path(running.work.name)
    running.bridge, bridge = start_bridge()
    home = work / "home"
    home.mkdir()
    env = _env(home, bridge)
    running.gitsm, url = start_server(work, worker, env)
    from moto.server import ThreadedMotoServer  # TEST_SERVER_MODE is set

    running.moto = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
    running.moto.start()
    gitsm = urlsplit(url)
    assert gitsm.hostname is not None and gitsm.port is not None, url
    running.router = Router(("127.0.0.1", 0), (gitsm.hostname, gitsm.port),
                            running.moto.get_host_and_port(),
                            Registrar(work / "store.git", env))  # fmt: skip
    running.router.start()
    os.environ["TEST_SERVER_MODE_ENDPOINT"] = running.router.url
    Runtime.endpoint = running.router.url  # moto's Lambda functions run their code (no docker)


def _client(self: boto3.session.Session, service_name: str, *args: Any, **kwargs: Any) -> Any:
    """``Session.client``, with moto's default server address replaced by this process's
    endpoint."""
    if kwargs.get("endpoint_url") == MOTO_DEFAULT_ENDPOINT:
        kwargs["endpoint_url"] = os.environ["TEST_SERVER_MODE_ENDPOINT"]
    return _original_client(self, service_name, *args, **kwargs)


def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    """Before moto's conftest imports moto: server mode on, and, in a process that runs tests
    (an xdist worker, or a run without xdist), this process's servers behind its endpoint."""
    global _running
    if "moto" in sys.modules:
        raise pytest.UsageError("moto was imported before gitsm_moto_server_plugin could set "
                                "TEST_SERVER_MODE; load the plugin with -p")  # fmt: skip
    os.environ["TEST_SERVER_MODE"] = "true"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None and getattr(early_config.known_args_namespace, "numprocesses", None):
        return  # the xdist controller: its workers run the tests
    _running = Running(tempfile.TemporaryDirectory(prefix="gitsm-moto-server-"))
    _start(_running, worker or "main")
    boto3.session.Session.client = _client  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    """Apply deselected.txt and server_expected_failures.txt."""
    config.pluginmanager.register(
        ListedRun(SERVER_EXPECTED_FAILURES.name, server_expected_failures), "listed"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop what this process started (gitsm serve with SIGTERM) and remove its store."""
    boto3.session.Session.client = _original_client  # type: ignore[method-assign]
    running = _running
    if running is None:
        return
    for server in (running.router, running.bridge):
        if server is not None:
            server.shutdown()
    if running.moto is not None:
        running.moto.stop()
    process = running.gitsm
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
    running.work.cleanup()


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say what runs against what."""
    import gitsm

    return [
        "gitsm_moto_server_plugin: moto's tests in server mode, Secrets Manager served by gitsm "
        f"serve {gitsm.__version__} --test-reset, other services by moto's own server (one of "
        "each per test process, behind one endpoint)"
    ]
