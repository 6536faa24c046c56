"""Failures tell the truth: disk faults injected at each step of a write and of a sync, and the
real thing on a tiny tmpfs, each checked from the outside: the exit code and message, whether the
commit landed (``git rev-list --count``), the work tree and ``git status`` (clean, or made clean by
the next command when the write had landed), ``git fsck``, and that no value appears in any output,
``--debug`` included. The seam is tests/faultseam.py; tests/test_faults_env.py has a damaged
repository, git's index lock held by another program, and an unusable key source.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import gitsm
from gitsm.gitrepo import JOURNAL_NAME
from tests.conftest import git
from tests.faultseam import (
    LANDED_NOTE,
    NOT_WRITTEN,
    SYSTEM_WORDS,
    VALUE,
    count,
    fsck,
    gitsm_,
    inject,
    leftovers,
    make_store,
    no_value,
    put,
    staged,
    status,
    system_error,
)


@pytest.fixture(autouse=True)
def _no_store_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITSM_REPO", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A checkout store holding one secret, ``app/db``."""
    return make_store(tmp_path)


# -- disk faults during a write --------------------------------------------------------------------


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EIO])
@pytest.mark.parametrize("step", ["object", "index lock", "journal", "ref"])
def test_a_fault_before_the_ref_moves_changes_nothing(
    store: Path, monkeypatch: pytest.MonkeyPatch, step: str, code: int
) -> None:
    before, index = count(store), staged(store)
    with monkeypatch.context() as seam:
        inject(seam, step, code)
        done = put(store, 1)
    words, kind = SYSTEM_WORDS[code]
    assert done.exit_code == 253, done.stderr
    assert (
        words in done.stderr
        and NOT_WRITTEN in done.stderr
        and "run the command again" in (done.stderr)
    )
    assert "Internal error" not in done.stderr and "OSError" not in done.stderr
    assert count(store) == before and staged(store) == index
    assert status(store) == "" and leftovers(store) == []
    assert not (store / ".git" / JOURNAL_NAME).exists()
    fsck(store)
    no_value(done)
    if kind is not None:  # the library raises the same, typed
        with monkeypatch.context() as seam:
            inject(seam, step, code)
            with pytest.raises(kind):
                gitsm.client(repo=store).put_secret_value(SecretId="app/db", SecretString=VALUE)
    assert put(store, 2).exit_code == 0 and count(store) == before + 1 and status(store) == ""


@pytest.mark.parametrize("step", ["work-tree file", "index"])
def test_a_fault_after_the_ref_moved_reports_the_landed_write(
    store: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    before, index = count(store), staged(store)
    with monkeypatch.context() as seam:
        inject(seam, step, errno.ENOSPC)
        done = put(store, 1)
        assert done.exit_code == 0, done.stderr
        version = gitsm.client(repo=store).describe_secret(SecretId="app/db")
        landed = next(v for v, s in version["VersionIdsToStages"].items() if "AWSCURRENT" in s)
        assert f'"VersionId": "{landed}"' in done.stdout  # the output is all there
        warning = done.stderr
        assert warning.startswith("gitsm: warning: PutSecretValue took effect (ARN arn:aws:")
        assert f"VersionId {landed}" in warning and "No space left on device" in warning
        assert LANDED_NOTE in warning and "Do not repeat the write" in warning
        assert count(store) == before + 1  # it landed
        # The checkout is behind, consistently: the index as it was, nothing half-written.
        assert staged(store) == index and leftovers(store) == []
        assert status(store) != "" and (store / ".git" / JOURNAL_NAME).exists()
        fsck(store)
        # A write while the disk is still full fails before writing anything, and says why.
        again = put(store, 2)
        assert again.exit_code == 253 and "An earlier write landed" in again.stderr
        assert "warning" not in again.stderr  # said once, not repeated as a warning
        assert count(store) == before + 1 and leftovers(store) == []
        no_value(done, again)
    # Space is back: the next command (a read) finishes the work tree.
    read = gitsm_(store, "describe-secret", "--secret-id", "app/db")
    assert read.exit_code == 0 and read.stderr == ""
    assert status(store) == "" and leftovers(store) == []
    assert not (store / ".git" / JOURNAL_NAME).exists()
    fsck(store)


def test_debug_shows_where_but_never_a_value(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inject(monkeypatch, "object", errno.ENOSPC)
    done = put(store, 1, "--debug")
    assert done.exit_code == 253 and "Traceback" in done.stderr and "StorageFull" in done.stderr
    no_value(done)


def test_a_read_only_store_is_read_but_not_written(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opener = os.open

    def read_only(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise system_error(errno.EROFS, path)
        return opener(path, flags, *args, **kwargs)

    before = count(store)
    with monkeypatch.context() as seam:
        seam.setattr(os, "open", read_only)
        done = put(store, 1)
        read = gitsm_(store, "get-secret-value", "--secret-id", "app/db", "--query", "VersionId")
    assert done.exit_code == 253 and "The store cannot be written" in done.stderr
    assert "gitsm.lock" in done.stderr and NOT_WRITTEN in done.stderr
    assert read.exit_code == 0 and read.stderr == ""
    assert count(store) == before and status(store) == "" and leftovers(store) == []
    no_value(done)
    fsck(store)


# -- disk full while a sync brings the checkout along ----------------------------------------------


def test_disk_full_while_a_sync_updates_the_checkout(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote, other = tmp_path / "remote.git", tmp_path / "other"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(store, "remote", "add", "origin", str(remote))
    assert gitsm_(store, "sync").exit_code == 0
    subprocess.run(["git", "clone", "-q", "-b", "main", str(remote), str(other)], check=True)
    assert put(other, 1).exit_code == 0 and gitsm_(other, "sync").exit_code == 0
    before, index = count(store), staged(store)
    rel = "secrets/app/db/~secret.yaml"  # the file the other clone's write changed
    from gitsm.gitrepo import worktree

    real = worktree.run_git

    def git_fills_the_disk(args: Any, **kwargs: Any) -> Any:
        if list(args[:1]) == ["read-tree"] and "-n" not in args:  # git writes files in place
            (store / rel).write_bytes(b"half a manifest, cut off by the full disk")
            return subprocess.CompletedProcess(args, 128, b"", b"No space left on device")
        return real(args, **kwargs)

    with monkeypatch.context() as seam:
        seam.setattr(worktree, "run_git", git_fills_the_disk)
        inject(seam, "work-tree file", errno.ENOSPC)  # and the slow way fails too
        done = gitsm_(store, "sync")
    assert done.exit_code == 0, done.stderr
    assert done.stderr.startswith("gitsm: warning: Sync took effect") and LANDED_NOTE in done.stderr
    assert count(store) == before + 1 and staged(store) == index
    assert leftovers(store) == [] and not (store / rel).exists()  # nothing half-written stays
    assert (store / ".git" / JOURNAL_NAME).exists()
    fsck(store)
    no_value(done)
    assert gitsm_(store, "list-secrets").exit_code == 0  # the next command finishes it
    assert status(store) == "" and leftovers(store) == []
    fsck(store)


def test_disk_full_while_a_sync_fetches(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(store, "remote", "add", "origin", str(remote))
    from gitsm.gitrepo import remote as remote_module

    def fetch_fails(args: Any, **kwargs: Any) -> Any:
        said = "error: unable to create temporary file: No space left on device\nfatal: index-pack failed"
        return subprocess.CompletedProcess(args, 128, "", said)

    before = count(store)
    monkeypatch.setattr(remote_module, "run_git", fetch_fails)
    done = gitsm_(store, "sync")
    assert done.exit_code == 253 and "No space left on the device while fetching" in done.stderr
    assert "nothing was changed here" in done.stderr.lower() and "network" not in done.stderr
    assert count(store) == before and status(store) == "" and leftovers(store) == []
    fsck(store)


# -- the real thing, on a tiny tmpfs ---------------------------------------------------------------


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs, unmounted afterwards; the test is skipped where mounting is refused."""
    where = tmp_path / "tmpfs"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(where)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"SKIPPED: cannot mount a tmpfs here ({done.stderr.strip()}); the seam "
                    "tests above still inject the same faults")  # fmt: skip
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(where: Path) -> Path:
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_really_full_disk(tmpfs: Path) -> None:
    from tests.cli.conftest import run_gitsm

    store = make_store(tmpfs)
    before = count(store)
    filler = fill(tmpfs)
    done = run_gitsm(
        [
            "--repo",
            str(store),
            "create-secret",
            "--name",
            "b",
            "--secret-string",
            VALUE + "-2" + "x" * 4000,
        ]
    )  # the installed script
    assert done.returncode == 253, done.stderr
    assert b"No space left on the device" in done.stderr and b"Nothing was written" in done.stderr
    assert b"OSError" not in done.stderr
    assert count(store) == before and leftovers(store) == []
    no_value(done)
    filler.unlink()
    assert status(store) == ""
    again = gitsm_(store, "create-secret", "--name", "b", "--secret-string", VALUE + "-3")
    assert again.exit_code == 0 and count(store) == before + 1 and status(store) == ""
    fsck(store)


def test_a_really_read_only_store(tmpfs: Path) -> None:
    store = make_store(tmpfs)
    before = count(store)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    try:
        done = put(store, 2)
        read = gitsm_(store, "get-secret-value", "--secret-id", "app/db", "--query", "Name")
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)
    assert done.exit_code == 253 and "The store cannot be written" in done.stderr, done.stderr
    assert "Read-only file system" in done.stderr and "Nothing was written" in done.stderr
    assert read.exit_code == 0 and read.stdout == '"app/db"\n'
    assert count(store) == before and status(store) == "" and leftovers(store) == []
    no_value(done)
    fsck(store)


def test_a_file_system_without_hard_links_still_takes_the_index_lock(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        raise system_error(errno.EPERM, dst)  # what such a file system answers

    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr("gitsm.gitrepo.worktree.INDEX_LOCK_WAIT", 0.2)
    before = count(store)
    assert put(store, 1).exit_code == 0
    assert count(store) == before + 1 and status(store) == "" and leftovers(store) == []
    lock = store / ".git" / "index.lock"
    lock.write_text("")  # held by someone: the plain O_EXCL lock fails the write as well
    held = put(store, 2)
    assert held.exit_code == 253 and "index.lock" in held.stderr and count(store) == before + 1
