"""Shared fixtures: a private key ring, fsync off for speed, fresh stores (checkout and bare), and
the seed of the run's random choices.

Randomized tests replay: one seed per run drives every test that draws at random (the ``seed``
fixture, for ``random.Random``) and every Hypothesis test (``--hypothesis-seed``). It is
``$GITSM_TEST_SEED`` when set, else a fresh one; the run's header and every failed test's report
print it, so ``GITSM_TEST_SEED=<seed> scripts/test ...`` replays a failure.
"""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import gitsm
from gitsm.awsclient import SecretsManagerClient
from gitsm.store import SecretStore

SEED_ENV = "GITSM_TEST_SEED"


def run_seed() -> int:
    """This run's seed: ``$GITSM_TEST_SEED``, set by :func:`pytest_configure` when not given."""
    return int(os.environ[SEED_ENV])


@pytest.hookimpl(tryfirst=True)  # before Hypothesis's plugin reads --hypothesis-seed
def pytest_configure(config: pytest.Config) -> None:
    """Pick the run's seed (xdist workers inherit it through the environment) and hand it to
    Hypothesis unless ``--hypothesis-seed`` was given."""
    raw = os.environ.get(SEED_ENV) or str(random.SystemRandom().randrange(1_000_000))
    try:
        seed = int(raw)
    except ValueError:
        raise pytest.UsageError(f"{SEED_ENV} must be an integer, not {raw!r}") from None
    os.environ[SEED_ENV] = str(seed)
    if getattr(config.option, "hypothesis_seed", None) is None:
        config.option.hypothesis_seed = str(seed)


def pytest_report_header(config: pytest.Config) -> str:
    """The seed, first thing in the run's output."""
    return f"{SEED_ENV}={run_seed()} (set it to replay this run's random choices)"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Name the seed in every failed test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        report.sections.append(
            ("random seed", f"{SEED_ENV}={run_seed()} replays this run's random choices")
        )


@pytest.fixture
def seed() -> int:
    """The seed of a randomized test (``random.Random(seed)``), printed with the test's output."""
    value = run_seed()
    print(f"{SEED_ENV}={value}")
    return value


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test gets its own GITSM_HOME and a git identity; fsync off (tests are throwaway); no
    warm agent of the user's runs its commands (tests/cli/conftest.py starts one of its own in the
    agent run, ``GITSM_TEST_AGENT=1``)."""
    home = tmp_path_factory.mktemp("gitsm-home")
    monkeypatch.setenv("GITSM_AGENT", "0")
    monkeypatch.delenv("GITSM_AGENT_DIR", raising=False)
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
