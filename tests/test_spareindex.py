"""The index's previous file overwritten by the next write (gitrepo/spareindex.py): the index git
reads is always whole and right, and a file someone may still be reading is never overwritten."""

from __future__ import annotations

import fcntl
import mmap
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gitsm
from gitsm.awsclient import SecretsManagerClient
from gitsm.gitrepo import indexlock, spareindex
from tests.conftest import git
from tests.test_indexfile import fsck_index, staged, status


def index_matches_head(path: Path, changes: str = "") -> None:
    """The index holds HEAD's secrets, git finds the checkout clean but for ``changes``, fsck and
    libgit2 accept it."""
    tree = {
        line.split("\t")[1]: line.split()[2]
        for line in git(path, "ls-tree", "-r", "HEAD").splitlines()
        if "secrets/" in line
    }
    assert {line.split("\t")[1]: line.split()[1] for line in staged(path)} == tree
    assert status(path) == changes
    fsck_index(path)


def write(client: SecretsManagerClient, n: int) -> None:
    client.put_secret_value(SecretId="app/db", SecretString=f"v{n}")


Store = tuple[Path, SecretsManagerClient]


def needs_leases(where: Path) -> None:
    """Skip, saying why, where the system grants no write lease (the spare is then never filled:
    every write makes a new index file, as the other tests here check)."""
    probe = where / "lease-probe"
    probe.write_bytes(b"")
    fd = os.open(probe, os.O_RDWR)
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
    except (OSError, AttributeError) as exc:
        pytest.skip(
            f"NO WRITE LEASE ON {where}'S FILE SYSTEM ({exc}): the spare index is never filled here"
        )
    finally:
        os.close(fd)
        probe.unlink()


@pytest.fixture
def store(repo_path: Path) -> Store:
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app/db", SecretString="v0")
    return repo_path, client


def test_the_old_index_becomes_the_spare_and_the_next_write_fills_it(store: Store) -> None:
    path, client = store
    needs_leases(path)
    gitdir = path / ".git"
    write(client, 1)
    spare, index = gitdir / spareindex.SPARE_NAME, gitdir / "index"
    assert spare.exists() and spare.stat().st_nlink == 1
    reused = spare.stat().st_ino
    write(client, 2)
    assert index.stat().st_ino == reused  # the spare's file was filled and became the index
    assert spare.stat().st_ino != reused and spare.stat().st_nlink == 1
    assert not (gitdir / spareindex.OLD_NAME).exists()
    index_matches_head(path)
    for n in range(3, 8):  # sizes up and down: a delete makes the index shorter than the spare
        write(client, n)
        client.create_secret(Name=f"x/{n}", SecretString="v")
        if n % 2:
            client.delete_secret(SecretId=f"x/{n}", ForceDeleteWithoutRecovery=True)
        index_matches_head(path)


def test_a_spare_someone_still_reads_is_left_alone(store: Store) -> None:
    """A reader that opened the index two writes ago (read, or mapped and closed) still holds the
    spare's file: the lease is refused, the write makes a new file, the reader's bytes stay."""
    path, client = store
    gitdir = path / ".git"
    write(client, 1)
    spare = gitdir / spareindex.SPARE_NAME
    with open(spare, "rb") as held:
        before = held.read()
        write(client, 2)
        held.seek(0)
        assert held.read() == before
        assert (gitdir / "index").stat().st_ino != os.fstat(held.fileno()).st_ino
    index_matches_head(path)
    spare = gitdir / spareindex.SPARE_NAME
    with open(spare, "rb") as file:
        mapped = mmap.mmap(file.fileno(), 0, prot=mmap.PROT_READ)
    try:
        before = bytes(mapped)
        write(client, 3)
        assert bytes(mapped) == before
    finally:
        mapped.close()
    index_matches_head(path)


def test_a_spare_with_another_name_a_link_or_not_a_file_is_not_written(
    store: Store, tmp_path: Path
) -> None:
    path, client = store
    gitdir = path / ".git"
    write(client, 1)
    spare = gitdir / spareindex.SPARE_NAME
    other = tmp_path / "other-name"
    os.link(spare, other)  # a hard link elsewhere: overwriting would change that file too
    kept = other.read_bytes()
    write(client, 2)
    assert other.read_bytes() == kept
    index_matches_head(path)
    target = tmp_path / "target"
    target.write_bytes(b"not an index")
    spare.unlink()
    spare.symlink_to(target)
    write(client, 3)
    assert target.read_bytes() == b"not an index"
    index_matches_head(path)
    spare.unlink()
    spare.mkdir()
    write(client, 4)
    index_matches_head(path)
    spare.rmdir()
    os.mkfifo(spare)  # not a plain file: never written, and opening it must not block
    write(client, 5)
    index_matches_head(path)


def test_the_index_keeps_its_mode(store: Store) -> None:
    path, client = store
    index = path / ".git" / "index"
    write(client, 1)
    index.chmod(0o640)  # as core.sharedRepository or a user's umask could have it
    for n in range(2, 5):
        write(client, n)
        assert index.stat().st_mode & 0o777 == 0o640
    index_matches_head(path)


def test_a_crash_between_the_renames_leaves_nothing_that_harms(store: Store) -> None:
    """Killed after the old index got its second name: the next write removes that name; killed
    after the spare became the index: the old file is a leftover the next write removes."""
    path, client = store
    gitdir = path / ".git"
    write(client, 1)
    old = gitdir / spareindex.OLD_NAME
    os.link(gitdir / "index", old)
    write(client, 2)
    assert not old.exists()
    index_matches_head(path)
    os.replace(gitdir / spareindex.SPARE_NAME, old)  # no spare, the old index under OLD_NAME
    write(client, 3)
    write(client, 4)
    assert not old.exists() and (gitdir / spareindex.SPARE_NAME).exists()
    index_matches_head(path)


def test_an_index_git_wrote_meanwhile(store: Store) -> None:
    """git replaced the index (git add): the spare holds an older one; the next write fills it."""
    path, client = store
    write(client, 1)
    (path / "notes.txt").write_text("staged\n")
    git(path, "add", "notes.txt")
    write(client, 2)
    write(client, 3)
    index_matches_head(path, "A  notes.txt\n")


def test_someone_opening_the_spare_during_the_write_does_not_end_the_writer(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a leased file signals the lease holder (SIGIO, which ends a process, unless asked
    otherwise): gitsm asks for SIGURG, so a backup reading .git mid-write does not kill it. The
    opener waits for the lease to be given up and then reads the whole new index."""
    path, client = store
    needs_leases(path)
    gitdir = path / ".git"
    write(client, 1)
    spare = gitdir / spareindex.SPARE_NAME
    readers: list[subprocess.Popen[bytes]] = []
    real = os.pwritev

    def pwrite_while_opened(fd: int, data: list[memoryview], at: int) -> int:
        if not readers:
            code = "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())"
            readers.append(subprocess.Popen([sys.executable, "-c", code, str(spare)],
                                            stdout=subprocess.PIPE))  # fmt: skip
            deadline = time.monotonic() + 20
            breaking = re.compile(rf"LEASE +BREAKING +\w+ +{os.getpid()} ")
            while not breaking.search(Path("/proc/locks").read_text()):
                assert time.monotonic() < deadline, "the reader never waited on the lease"
                time.sleep(0.01)
        return real(fd, data, at)

    monkeypatch.setattr(spareindex.os, "pwritev", pwrite_while_opened)
    write(client, 2)  # this process got the lease-break signal and lives on
    out, _ = readers[0].communicate(timeout=30)
    assert out == (gitdir / "index").read_bytes()  # it waited, then read the index just written
    index_matches_head(path)


def test_clear_own_removes_the_swap_leftover(repo_path: Path) -> None:
    gitdir = repo_path / ".git"
    gitsm.client(repo=repo_path).create_secret(Name="a", SecretString="x")
    (gitdir / spareindex.OLD_NAME).write_bytes(b"old")
    indexlock.clear_own(gitdir)
    assert not (gitdir / spareindex.OLD_NAME).exists()
    assert (gitdir / spareindex.SPARE_NAME).exists()  # the spare is no leftover: it is kept
