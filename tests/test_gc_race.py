"""A write beside a ``git gc``: when the gc's prune-packed removes the empty fan-out directory a
new loose object is moving into, libgit2 fails the move ("failed to rename lockfile ... No such
file or directory") where git would create the directory again. gitsm writes the commit's
objects again (they are named by their content). The stress run of four processes and a
background gc (tests/test_concurrency.py, slow) met this; here the failure libgit2 reports is
injected at the commit write, once and for good."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from gitsm.errors import GitsmError
from gitsm.gitrepo import GitRepo
from gitsm.gitrepo.repo import OBJECT_WRITE_TRIES
from gitsm.store import SecretStore
from tests.conftest import git

RAISED = [OSError, pygit2.GitError]
"""What pygit2 raises for it: an OSError (pygit2 1.21, as a race beside ``git prune-packed`` showed:
tests/test_quickbatch.py); a GitError with the same words is taken alike."""


def gc_raced(gitdir: Path, kind: type[Exception]) -> Exception:
    """What libgit2 raises when the fan-out directory went away before its rename."""
    target = gitdir / "objects" / "c4" / ("1" * 38)
    return kind(f"failed to rename lockfile to '{target}': No such file or directory")


def racing(monkeypatch: pytest.MonkeyPatch, failures: int, kind: type[Exception]) -> dict[str, int]:
    real = GitRepo._create_commit
    calls = {"n": 0}

    def create(self: GitRepo, *args: object) -> str:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise gc_raced(self.gitdir, kind)
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(GitRepo, "_create_commit", create)
    return calls


@pytest.mark.parametrize("kind", RAISED, ids=lambda k: k.__name__)
def test_the_commit_is_written_again(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch, kind: type[Exception]
) -> None:
    store = SecretStore.open(repo_path)
    store.create_secret("a", secret_string="first")
    before = int(git(repo_path, "rev-list", "--count", "HEAD"))
    calls = racing(monkeypatch, failures=1, kind=kind)
    store.update_secret("a", secret_string="second")
    assert calls["n"] == 2
    assert store.get_secret_value("a").secret_string == "second"
    assert int(git(repo_path, "rev-list", "--count", "HEAD")) == before + 1
    assert git(repo_path, "status", "--porcelain") == ""
    git(repo_path, "fsck", "--no-progress")


@pytest.mark.parametrize("kind", RAISED, ids=lambda k: k.__name__)
def test_a_directory_that_stays_gone_fails_with_nothing_written(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch, kind: type[Exception]
) -> None:
    store = SecretStore.open(repo_path)
    store.create_secret("a", secret_string="first")
    head = git(repo_path, "rev-parse", "HEAD")
    calls = racing(monkeypatch, failures=OBJECT_WRITE_TRIES, kind=kind)
    with pytest.raises(GitsmError, match="nothing was written"):
        store.update_secret("a", secret_string="second")
    assert calls["n"] == OBJECT_WRITE_TRIES
    assert git(repo_path, "rev-parse", "HEAD") == head
    assert store.get_secret_value("a").secret_string == "first"
