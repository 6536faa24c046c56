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
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from gitsm.cli.app import app

GITSM_BIN = Path(sys.executable).with_name("gitsm")
REGION, ACCOUNT = "us-west-2", "123456789012"

Invoke = Callable[..., Result]


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
