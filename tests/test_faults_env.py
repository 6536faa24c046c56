"""Failures tell the truth, when the environment is at fault: a damaged repository (a corrupted or
missing loose object, a truncated pack, made on a copy of a store), git's index lock held by another
program (a running ``git commit``, a file another process made), and an unusable key source
(``GITSM_LOCAL_KEYS``, ``GITSM_AGE_IDENTITY_FILE``): each an environment error (exit 253) that says
what to do, nothing written, ``git status`` clean, ``git fsck`` clean, no value in any output.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import gitsm
from gitsm.errors import GitLockHeld, KeySourceError
from tests.conftest import git
from tests.faultseam import (
    NOT_WRITTEN,
    VALUE,
    count,
    fsck,
    gitsm_,
    leftovers,
    make_store,
    no_value,
    put,
    status,
)


@pytest.fixture(autouse=True)
def _no_store_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITSM_REPO", raising=False)


@pytest.fixture(autouse=True)
def _short_lock_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A held index.lock is waited for 0.2 s instead of 1 s (the tests' time, not the outcome)."""
    monkeypatch.setattr("gitsm.gitrepo.worktree.INDEX_LOCK_WAIT", 0.2)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A checkout store holding one secret, ``app/db``."""
    return make_store(tmp_path)


# -- a damaged repository (made on a copy of a store) ----------------------------------------------


def damaged(store: Path, tmp_path: Path, how: str) -> Path:
    copy = tmp_path / f"damaged-{how}"
    shutil.copytree(store, copy, symlinks=True)
    if how == "pack":
        git(copy, "gc", "--quiet", "--prune=now")
        pack = next((copy / ".git/objects/pack").glob("*.pack"))
        pack.chmod(0o644)
        data = pack.read_bytes()
        pack.write_bytes(data[: len(data) // 2])
        return copy
    oid = git(copy, "rev-parse", "HEAD:secrets/app/db/~secret.yaml").strip()
    loose = copy / ".git/objects" / oid[:2] / oid[2:]
    loose.chmod(0o644)
    if how == "missing":
        loose.unlink()
    else:  # corrupted: bytes overwritten in the middle of the compressed object
        data = bytearray(loose.read_bytes())
        data[12:20] = b"XXXXXXXX"
        loose.write_bytes(bytes(data))
    return copy


def branch_file(store: Path) -> str:
    """The branch's commit as its ref file (or packed-refs) says, read without git."""
    loose = store / ".git/refs/heads/main"
    if loose.exists():
        return loose.read_text().strip()
    packed = (store / ".git/packed-refs").read_text().splitlines()
    return next(line.split()[0] for line in packed if line.endswith(" refs/heads/main"))


@pytest.mark.parametrize("how", ["corrupted", "missing", "pack"])
def test_a_damaged_repository_is_an_environment_error(
    store: Path, tmp_path: Path, how: str
) -> None:
    copy = damaged(store, tmp_path, how)
    tip = branch_file(copy)
    for args in (["get-secret-value", "--secret-id", "app/db"],
                 ["describe-secret", "--secret-id", "app/db"],
                 ["put-secret-value", "--secret-id", "app/db", "--secret-string", VALUE + "-9"]):  # fmt: skip
        done = gitsm_(copy, *args)
        assert done.exit_code == 253, (args, done.stderr)
        assert "is damaged" in done.stderr and "git fsck" in done.stderr, done.stderr
        assert "Internal error" not in done.stderr
        debug = gitsm_(copy, "--debug", *args)
        assert debug.exit_code == 253 and "RepositoryError" in debug.stderr
        no_value(done, debug)
    assert branch_file(copy) == tip  # nothing written


@pytest.mark.parametrize("what", ["HEAD", "HEAD:secrets/app", "HEAD:secrets/app/db/~secret.yaml"])
def test_a_truncated_loose_object_fails_instead_of_hanging(
    store: Path, tmp_path: Path, what: str
) -> None:
    """libgit2 1.9 loops forever inflating a truncated loose object; gitsm vets the objects it
    reads first. Run as a process with a time limit, so that a regression fails, not hangs."""
    from tests.cli.conftest import GITSM_BIN

    copy = tmp_path / "truncated"
    shutil.copytree(store, copy, symlinks=True)
    oid = git(copy, "rev-parse", what).strip()
    loose = copy / ".git/objects" / oid[:2] / oid[2:]
    loose.chmod(0o644)
    loose.write_bytes(loose.read_bytes()[:20])
    done = subprocess.run([str(GITSM_BIN), "--repo", str(copy), "get-secret-value",
                           "--secret-id", "app/db"], capture_output=True, timeout=60)  # fmt: skip
    assert done.returncode == 253, done.stderr
    assert f"{oid}: the loose object".encode() in done.stderr and b"is truncated" in done.stderr
    assert b"git fsck" in done.stderr
    no_value(done)
    assert leftovers(copy) == []


# -- git's index lock, held by another program -----------------------------------------------------


def test_an_index_lock_held_by_a_running_git_fails_the_write_first(
    store: Path, tmp_path: Path
) -> None:
    (store / "notes.txt").write_text("a file of the team's own\n")
    git(store, "add", "notes.txt")
    git(store, "commit", "-q", "-m", "notes")
    (store / "notes.txt").write_text("edited\n")
    go = tmp_path / "go"
    editor = tmp_path / "editor.sh"
    editor.write_text(f'#!/bin/sh\nwhile [ ! -e "{go}" ]; do sleep 0.02; done\necho done > "$1"\n')
    editor.chmod(0o755)
    env = {**os.environ, "GIT_EDITOR": str(editor)}
    committing = subprocess.Popen(["git", "commit", "-q", "-a"], cwd=store, env=env)
    try:
        lock = store / ".git" / "index.lock"
        while not lock.exists():  # git holds it while its editor is open
            assert committing.poll() is None
        before = count(store)
        done = put(store, 1)
        assert done.exit_code == 253, done.stderr
        assert str(lock) in done.stderr and "wait for it to finish" in done.stderr
        assert NOT_WRITTEN in done.stderr
        assert count(store) == before and lock.exists()  # theirs, left alone
        no_value(done)
    finally:
        go.write_text("")
        assert committing.wait(timeout=30) == 0
    assert count(store) == before + 1 and status(store) == "" and leftovers(store) == []
    assert put(store, 2).exit_code == 0 and status(store) == ""
    fsck(store)


@pytest.mark.parametrize("version", [2, 4])
def test_git_add_while_gitsm_updates_the_index_is_refused_not_lost(
    store: Path, monkeypatch: pytest.MonkeyPatch, version: int
) -> None:
    """The race that lost a concurrent ``git add``: it runs while gitsm writes the index, and
    must find git's lock held (and then succeed), never succeed and be overwritten. Version 2:
    gitsm patches the changed entries (gitrepo/indexfile.py); version 4: libgit2 rewrites it."""
    from gitsm.gitrepo.indexfile import IndexImage
    from gitsm.gitrepo.indexlock import IndexLock

    git(store, "update-index", "--index-version", str(version))
    (store / "mine.txt").write_text("staged by hand\n")
    tries: list[subprocess.CompletedProcess[str]] = []

    def git_add() -> None:
        if not tries:
            tries.append(subprocess.run(["git", "add", "mine.txt"], cwd=store,
                                        capture_output=True, text=True))  # fmt: skip

    copy_entry, patched = IndexLock.copy_entry, IndexImage.patched

    def copy_meanwhile(source: object, target: object, path: str) -> None:
        git_add()
        copy_entry(source, target, path)  # type: ignore[arg-type]

    def patch_meanwhile(
        image: IndexImage, changes: dict[str, object], workdir: Path, *rest: object
    ) -> object:
        git_add()
        return patched(image, changes, workdir, *rest)  # type: ignore[arg-type]

    with monkeypatch.context() as seam:
        seam.setattr(IndexLock, "copy_entry", staticmethod(copy_meanwhile))
        seam.setattr(IndexImage, "patched", patch_meanwhile)
        assert put(store, 1).exit_code == 0
    assert tries and tries[0].returncode != 0 and "index.lock" in tries[0].stderr
    git(store, "add", "mine.txt")  # once gitsm is done, git add works
    second = put(store, 2)
    assert second.exit_code == 0, second.stderr
    assert "mine.txt" in git(store, "ls-files", "--stage", "mine.txt")
    assert status(store) == "A  mine.txt\n"
    fsck(store)


def test_an_index_lock_another_process_left_is_never_taken(store: Path) -> None:
    lock = store / ".git" / "index.lock"
    subprocess.run(["sh", "-c", f': > "{lock}"'], check=True)  # made by another process
    before = count(store)
    done = put(store, 1)
    assert done.exit_code == 253 and "remove the file" in done.stderr
    assert count(store) == before and lock.exists() and lock.stat().st_size == 0
    with pytest.raises(GitLockHeld):
        gitsm.client(repo=store).put_secret_value(SecretId="app/db", SecretString=VALUE)
    lock.unlink()  # what the message says to do, once no git runs there
    assert put(store, 2).exit_code == 0 and count(store) == before + 1
    assert status(store) == "" and leftovers(store) == []
    no_value(done)
    fsck(store)


# -- an unusable key source -----------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["get-secret-value", "--secret-id", "app/db"],
    ["put-secret-value", "--secret-id", "app/db", "--secret-string", VALUE + "-3"],
    ["create-secret", "--name", "other", "--secret-string", VALUE + "-4"],
    ["keys", "list"],
    ["materialize", "--env", "DB=app/db", "--format", "dotenv"],
])  # fmt: skip
def test_a_malformed_local_key_source_is_an_environment_error(
    store: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    before = count(store)
    monkeypatch.setenv("GITSM_LOCAL_KEYS", "bogus")
    done = gitsm_(store, *args)
    assert done.exit_code == 253, done.stderr
    assert (
        "GITSM_LOCAL_KEYS is malformed" in done.stderr and "unset GITSM_LOCAL_KEYS" in done.stderr
    )
    assert "DecryptionFailure" not in done.stderr and "EncryptionFailure" not in done.stderr
    debug = gitsm_(store, "--debug", *args)
    assert debug.exit_code == 253 and "KeySourceError" in debug.stderr  # the traceback's end
    assert count(store) == before and status(store) == ""
    no_value(done, debug)
    fsck(store)


def test_an_unreadable_age_identity_file_is_an_environment_error(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyrage import x25519

    recipient = str(x25519.Identity.generate().to_public())
    made = gitsm_(store, "create-secret", "--name", "aged", "--kms-key-id", recipient,
                  "--secret-string", VALUE + "-5")  # fmt: skip
    assert made.exit_code == 0, made.stderr
    monkeypatch.setenv("GITSM_AGE_IDENTITY_FILE", str(tmp_path / "no-such-identity"))
    done = gitsm_(store, "get-secret-value", "--secret-id", "aged")
    assert done.exit_code == 253 and "GITSM_AGE_IDENTITY_FILE" in done.stderr, done.stderr
    with pytest.raises(KeySourceError):  # the library raises it, typed
        gitsm.client(repo=store).get_secret_value(SecretId="aged")
    monkeypatch.delenv("GITSM_AGE_IDENTITY_FILE")
    missing = gitsm_(store, "get-secret-value", "--secret-id", "aged")
    assert missing.exit_code == 254 and "DecryptionFailure" in missing.stderr  # a key not held
    no_value(done, missing)


def test_hook_install_on_a_full_disk_keeps_the_existing_hook(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.faultseam import fail_writes

    hook = store / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho the team's own hook\n")
    fail_writes(monkeypatch, "write_text", errno.ENOSPC, lambda p: p.name.endswith("gitsm-tmp"))
    done = gitsm_(store, "hook", "install")
    assert done.exit_code == 253 and "No space left on the device" in done.stderr, done.stderr
    assert hook.read_text() == "#!/bin/sh\necho the team's own hook\n"
    assert sorted(p.name for p in hook.parent.iterdir() if "pre-commit" in p.name) == [
        "pre-commit"
    ]  # no pre-commit.local, no temporary file
