"""A pytest plugin that runs moto's own Secrets Manager tests in moto's server mode against
``gitsm serve`` (``scripts/moto-suite --server``): the tests' clients speak HTTP to a real
``gitsm serve --test-reset`` process, as they would to ``moto_server``.

Loaded with ``-p gitsm_moto_server_plugin`` in place of the in-process plugin (nothing of gitsm is
patched into the test process). Each pytest process that runs tests (each xdist worker, or the one
process without xdist) starts its own server on a fresh bare store (account 123456789012, moto's
default; fsync off; a private ``GITSM_HOME``), because moto's server mode calls
``POST /moto-api/reset`` at the start of every test, which empties the whole store: two workers on
one server would empty each other's. Before moto is imported, it sets ``TEST_SERVER_MODE=true``
and ``TEST_SERVER_MODE_ENDPOINT`` to that server's URL, so that every ``boto3.client`` a test
makes goes there. The lists are those of ``deselected.txt`` and ``server_expected_failures.txt``
(``gitsm_moto_marks.py``). The server's access log is written to ``$GITSM_MOTO_SERVER_LOG_DIR``
when set (one file per process), else to a temporary directory removed at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from gitsm_moto_lists import SERVER_EXPECTED_FAILURES, server_expected_failures
from gitsm_moto_marks import ListedRun, seeded_uuid4  # noqa: F401 (an autouse fixture)

READY = "gitsm serve: ready at "
DEFAULT_FUNCTION = "gitsm-password"
DEFAULT_COMMAND = ["gitsm", "rotation", "run-lambda", "gitsm.rotation.password"]
"""The in-process plugin's default rotation function (gitsm_moto_plugin.py: not imported here,
since it imports moto), so a RotateSecret without RotationLambdaARN rotates in both runs."""
ACCOUNT = "123456789012"
LOG_DIR_ENV = "GITSM_MOTO_SERVER_LOG_DIR"

_server: subprocess.Popen[str] | None = None
_work: tempfile.TemporaryDirectory[str] | None = None


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITSM_", "GIT_"))}
    env.update(GITSM_HOME=str(home), GITSM_FSYNC="0")
    for who in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{who}_NAME"], env[f"GIT_{who}_EMAIL"] = "moto suite", "moto-suite@example.com"
    return env


def start_server(work: Path, name: str) -> tuple[subprocess.Popen[str], str]:
    """``gitsm serve --test-reset --port 0`` on a fresh bare store in ``work``; the process and
    its URL (from the ready line on stderr)."""
    home, repo = work / "home", work / "store.git"
    home.mkdir()
    env = _env(home)
    made = subprocess.run([sys.executable, "-m", "gitsm", "init", "--bare", "--account-id",
                           ACCOUNT, "--region", "us-east-1", str(repo)], env=env,
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        raise pytest.UsageError(f"gitsm init failed: {made.stderr}")
    # the in-process plugin's default rotation function (gitsm's managed rotation), kept by reset
    for args in (
        ["register-function", DEFAULT_FUNCTION, "--command", " ".join(DEFAULT_COMMAND)],
        ["set-default-function", DEFAULT_FUNCTION],
    ):
        done = subprocess.run([sys.executable, "-m", "gitsm", "rotation", *args, "--repo",
                               str(repo)], env=env, capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise pytest.UsageError(f"gitsm rotation {args[0]} failed: {done.stderr}")
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


def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    """Before moto's conftest imports moto: server mode on, and, in a process that runs tests
    (an xdist worker, or a run without xdist), this process's server as its endpoint."""
    global _server, _work
    if "moto" in sys.modules:
        raise pytest.UsageError("moto was imported before gitsm_moto_server_plugin could set "
                                "TEST_SERVER_MODE; load the plugin with -p")  # fmt: skip
    os.environ["TEST_SERVER_MODE"] = "true"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None and getattr(early_config.known_args_namespace, "numprocesses", None):
        return  # the xdist controller: its workers run the tests
    _work = tempfile.TemporaryDirectory(prefix="gitsm-moto-server-")
    _server, url = start_server(Path(_work.name), worker or "main")
    os.environ["TEST_SERVER_MODE_ENDPOINT"] = url


def pytest_configure(config: pytest.Config) -> None:
    """Apply deselected.txt and server_expected_failures.txt."""
    config.pluginmanager.register(
        ListedRun(SERVER_EXPECTED_FAILURES.name, server_expected_failures), "listed"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the server (SIGTERM) and remove its store."""
    if _server is not None and _server.poll() is None:
        _server.send_signal(signal.SIGTERM)
        try:
            _server.wait(20)
        except subprocess.TimeoutExpired:
            _server.kill()
    if _work is not None:
        _work.cleanup()


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say what runs against what."""
    import gitsm

    return [
        "gitsm_moto_server_plugin: moto's tests in server mode, every client of a test sent to "
        f"gitsm serve {gitsm.__version__} --test-reset (one server per test process)"
    ]
