"""Shared by the fault tests (tests/test_faults.py, tests/test_faults_env.py): a store, the
in-process CLI, what to check from the outside, and the seam that injects disk faults.

The seam replaces one low-level call (an object write, the ref update, the journal, a work-tree
file, the index) by one that raises what the system or libgit2 raises for a full, read-only or
failing disk, leaving behind what a real failure leaves (half a file).
"""

from __future__ import annotations

import errno
import os
import pathlib
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2
import pytest
from typer.testing import CliRunner, Result

from gitsm.cli.app import app
from gitsm.errors import ReadOnlyStore, StorageFull
from gitsm.gitrepo import JOURNAL_NAME
from gitsm.gitrepo.indexlock import IndexLock
from tests.conftest import git

VALUE = "fault-value-7f3a9c"
"""Every value a test writes starts with this; none may ever be printed."""
NOT_WRITTEN = "othing was written"
LANDED_NOTE = "the next gitsm command run there finishes it"
SYSTEM_WORDS = {
    errno.ENOSPC: ("No space left on the device", StorageFull),
    errno.EROFS: ("The store cannot be written", ReadOnlyStore),
    errno.EIO: ("The disk or file system failed", None),
}


def make_store(tmp_path: Path) -> Path:
    """A checkout store holding one secret, ``app/db``."""
    path = tmp_path / "store"
    assert CliRunner().invoke(app, ["init", str(path)]).exit_code == 0
    made = gitsm_(path, "create-secret", "--name", "app/db", "--secret-string", VALUE + "-0")
    assert made.exit_code == 0, made.stderr
    return path


def gitsm_(store: Path, *args: str) -> Result:
    """``gitsm --repo STORE ARGS...`` in-process."""
    return CliRunner().invoke(app, ["--repo", str(store), *args])


def count(store: Path) -> int:
    return int(git(store, "rev-list", "--count", "HEAD"))


def status(store: Path) -> str:
    return git(store, "status", "--porcelain", "--untracked-files=all")


def staged(store: Path) -> str:
    return git(store, "ls-files", "--stage")


def leftovers(store: Path) -> list[str]:
    """Temporary files of gitsm's in the work tree, and its (or anyone's) locks in the git dir."""
    found = [str(p) for p in store.rglob("*.gitsm-tmp")]
    names = ("index.lock", "gitsm-index.lock", "gitsm-index.new", "gitsm-index.new.lock",
             JOURNAL_NAME + ".tmp")  # fmt: skip
    return found + [n for n in names if (store / ".git" / n).exists()]


def fsck(store: Path) -> None:
    done = subprocess.run(["git", "fsck", "--no-dangling", "--no-progress"], cwd=store,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and "error" not in done.stdout + done.stderr, done.stderr


def no_value(*results: Result | subprocess.CompletedProcess[bytes]) -> None:
    for result in results:
        out = result.stdout + result.stderr
        text = out.decode(errors="replace") if isinstance(out, bytes) else out
        assert VALUE not in text, "a value was printed"


def put(store: Path, n: int, *extra: str) -> Result:
    return gitsm_(store, *extra, "put-secret-value", "--secret-id", "app/db",
                  "--secret-string", f"{VALUE}-{n}")  # fmt: skip


# -- the seam --------------------------------------------------------------------------------------


def system_error(code: int, path: object = None) -> OSError:
    return OSError(code, os.strerror(code), None if path is None else str(path))


def libgit2_error(code: int) -> OSError:
    """What pygit2 raises when libgit2 meets ``code``: the system's words, no errno."""
    return OSError(f"failed to write out file: {os.strerror(code)}")


def fail_writes(monkeypatch: pytest.MonkeyPatch, method: str, code: int,
                match: Callable[[Path], bool]) -> None:  # fmt: skip
    """``Path.<method>`` writes half of what it is given to the files ``match`` picks, then fails
    with ``code`` (what a disk that fills up mid-write leaves)."""
    original = getattr(pathlib.Path, method)

    def failing(self: Path, data: Any, *args: Any, **kwargs: Any) -> Any:
        if not match(self):
            return original(self, data, *args, **kwargs)
        original(self, data[: len(data) // 2], *args, **kwargs)
        raise system_error(code, self)

    monkeypatch.setattr(pathlib.Path, method, failing)


class FailingRef:
    """The branch's reference, whose update fails as libgit2's does on a full disk."""

    def __init__(self, ref: Any, error: Exception) -> None:
        self._ref, self._error = ref, error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ref, name)

    def set_target(self, *args: Any, **kwargs: Any) -> None:
        raise self._error


def inject(monkeypatch: pytest.MonkeyPatch, step: str, code: int) -> None:
    """Make ``step`` of a write fail with ``code``."""
    if step == "object":

        def blob(self: pygit2.Repository, data: bytes) -> None:
            raise libgit2_error(code)

        monkeypatch.setattr(pygit2.Repository, "create_blob", blob)
    elif step == "index lock":

        def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            raise system_error(code, dst)

        monkeypatch.setattr(os, "link", link)
    elif step == "journal":
        fail_writes(monkeypatch, "write_text", code, lambda p: p.name == JOURNAL_NAME + ".tmp")
    elif step == "ref":
        lookup = pygit2.Repository.lookup_reference

        def failing(self: pygit2.Repository, name: str) -> Any:
            ref = lookup(self, name)
            return FailingRef(ref, libgit2_error(code)) if name == "refs/heads/main" else ref

        monkeypatch.setattr(pygit2.Repository, "lookup_reference", failing)
    elif step == "work-tree file":
        fail_writes(monkeypatch, "write_bytes", code, lambda p: p.name.endswith(".gitsm-tmp"))
    elif step == "index":

        def write(self: pygit2.Index) -> None:
            raise libgit2_error(code)

        def commit_data(self: IndexLock, data: object, **_: object) -> None:  # a patched index
            raise system_error(code, self.lock)

        monkeypatch.setattr(pygit2.Index, "write", write)
        monkeypatch.setattr(IndexLock, "commit_data", commit_data)
    else:
        raise AssertionError(step)
