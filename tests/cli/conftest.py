"""Fixtures for the CLI: a store made by ``gitsm init``, an in-process runner and the installed
entry point.

The root conftest already gives each test its own GITSM_HOME, GITSM_FSYNC=0 and a git identity
through ``os.environ``, which subprocesses inherit. Here GITSM_REPO is cleared, so that only what a
test passes selects the store.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from gitsm.cli.app import app
from tests.cli import agentrun

GITSM_BIN = Path(sys.executable).with_name("gitsm")
REGION, ACCOUNT = "us-west-2", "123456789012"

Invoke = Callable[..., Result]


@pytest.fixture(scope="session")
def _agent_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This pytest process's warm agent (the agent run only: ``GITSM_TEST_AGENT=1``)."""
    directory = tmp_path_factory.mktemp("agent-run") / "agent"
    agentrun.start_agent(directory)
    yield directory
    agentrun.stop_agent(directory)


@pytest.fixture(autouse=True)
def _through_agent(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the agent run, every command of a test goes through the warm agent (agentrun.py)."""
    if not agentrun.VIA_AGENT or request.node.get_closest_marker("in_process_only"):
        return
    directory = request.getfixturevalue("_agent_dir")
    monkeypatch.setenv("GITSM_AGENT_DIR", str(directory))
    monkeypatch.setenv("GITSM_AGENT", "require")
    monkeypatch.setattr(CliRunner, "invoke", agentrun.invoke)


@pytest.fixture(autouse=True)
def _no_store_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITSM_REPO", raising=False)
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store made by ``gitsm init`` (region us-west-2, account 123456789012)."""
    path = tmp_path / "store"
    result = CliRunner().invoke(
        app, ["init", str(path), "--region", REGION, "--account-id", ACCOUNT]
    )
    assert result.exit_code == 0, result.stderr
    return path


@pytest.fixture
def cli(store: Path) -> Invoke:
    """Run ``gitsm --repo STORE ARGS...`` in-process; returns typer's Result."""

    def invoke(*args: str, input: str | bytes | None = None) -> Result:
        return CliRunner().invoke(app, ["--repo", str(store), *args], input=input)

    return invoke


def run_gitsm(
    args: Sequence[str], *, input: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed ``gitsm`` entry point (environment inherited from the test)."""
    return subprocess.run(
        [str(GITSM_BIN), *args], input=input, capture_output=True, cwd=cwd, env=dict(os.environ)
    )
