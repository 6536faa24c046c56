"""Shared fixtures: a private key ring, fsync off for speed, and fresh stores (checkout and bare)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import gitsm
from gitsm.awsclient import SecretsManagerClient
from gitsm.store import SecretStore


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test gets its own GITSM_HOME and a git identity; fsync off (tests are throwaway)."""
    home = tmp_path_factory.mktemp("gitsm-home")
    monkeypatch.setenv("GITSM_HOME", str(home))
    monkeypatch.setenv("GITSM_FSYNC", "0")
    monkeypatch.delenv("GITSM_LOCAL_KEYS", raising=False)
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")


@pytest.fixture
def repo_path(tmp_path: Path) -> Path:
    """A fresh store in a non-bare repository with its branch checked out."""
    path = tmp_path / "store"
    gitsm.init(path)
    return path


@pytest.fixture
def bare_path(tmp_path: Path) -> Path:
    """A fresh store in a bare repository."""
    path = tmp_path / "store.git"
    gitsm.init(path, bare=True)
    return path


@pytest.fixture(params=["checkout", "bare"])
def any_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A fresh store, once in a checkout and once bare."""
    bare = request.param == "bare"
    path = tmp_path / ("store.git" if bare else "store")
    gitsm.init(path, bare=bare)
    return path


@pytest.fixture
def store(repo_path: Path) -> SecretStore:
    """The typed core on a fresh checkout store."""
    return SecretStore.open(repo_path)


@pytest.fixture
def client(any_path: Path) -> Iterator[SecretsManagerClient]:
    """A boto3-shaped client on a fresh store (runs once for a checkout, once for a bare repo)."""
    yield gitsm.client(repo=any_path)


def git(path: Path, *args: str) -> str:
    """Run the git CLI in ``path`` and return its stdout (raises on failure)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_DIR")}
    return subprocess.run(
        ["git", *args], cwd=path, check=True, capture_output=True, text=True, env=env
    ).stdout


def commits(path: Path) -> int:
    """The number of commits on the branch checked out (or HEAD's, in a bare repository)."""
    return int(git(path, "rev-list", "--count", "HEAD"))


def error(info: pytest.ExceptionInfo[Any]) -> tuple[str, str]:
    """(Code, Message) of a client error."""
    err = info.value.response["Error"]
    return err["Code"], err["Message"]


class Clock:
    """A clock the test moves by hand (``SecretStore.open(path, clock=clock)``)."""

    def __init__(self, start: datetime = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def git_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real ``git daemon`` on 127.0.0.1 (pushes enabled), one per test process."""
    from tests.gitremote import start_daemon

    yield from start_daemon(tmp_path_factory.mktemp("daemon"))
