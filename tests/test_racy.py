"""git's racy-clean rule without hashing a file at every write (gitrepo/racy.py): a racily clean
entry is read until one look came after its file's clock tick, then its full stat data tells any
change, and an edit that keeps the mtime and size is still caught (its ctime moved)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import gitsm
from gitsm.gitrepo import indexfile, racy
from gitsm.gitrepo.indexfile import NewEntry, _encode
from tests.conftest import git

MS = 1_000_000


def entry_for(file: Path) -> bytes:
    """The index entry gitsm would write for ``file`` (its content's blob id, its stat data)."""
    blob = racy.blob_id(file)
    assert blob is not None
    return _encode(NewEntry(file.name, 0o100644, blob.hex(), os.lstat(file)))


def newest_ns(file: Path) -> int:
    st = os.lstat(file)
    return max(st.st_mtime_ns, st.st_ctime_ns)


def test_a_look_soon_after_the_write_reads_the_file_and_does_not_verify(tmp_path: Path) -> None:
    file = tmp_path / "v.json"
    file.write_bytes(b"one")
    entry = entry_for(file)
    soon = newest_ns(file) + MS  # the index was written 1 ms after the file: the same tick
    assert racy.look(entry, file, verified=False, index_ns=soon) == (True, False)
    later = newest_ns(file) + racy.MARGIN_NS + MS
    assert racy.look(entry, file, verified=False, index_ns=later) == (True, True)


def test_a_verified_entry_with_the_same_stat_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "v.json"
    file.write_bytes(b"one")
    entry = entry_for(file)

    def no_read(_: Path) -> bytes:
        raise AssertionError("a verified entry with unchanged stat data was read")

    monkeypatch.setattr(racy, "blob_id", no_read)
    assert racy.look(entry, file, verified=True, index_ns=0) == (True, True)


def test_an_edit_that_keeps_mtime_and_size_is_caught(tmp_path: Path) -> None:
    file = tmp_path / "v.json"
    file.write_bytes(b"one")
    entry = entry_for(file)
    before = os.lstat(file)
    time.sleep(0.02)  # past the clock tick, so that the edit's ctime differs
    file.write_bytes(b"two")  # same size
    os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same mtime again
    assert os.lstat(file).st_mtime_ns == before.st_mtime_ns
    assert racy.look(entry, file, verified=True, index_ns=0) == (False, False)
    file.unlink()
    assert racy.look(entry, file, verified=True, index_ns=0) == (False, False)


def test_verified_paths_are_recorded_beside_the_index(repo_path: Path) -> None:
    """A burst of writes: files written earlier in the burst end up verified in the record, and
    the index still tells git the truth (git status clean, an edit seen)."""
    client = gitsm.client(repo=repo_path)
    gitdir = repo_path / ".git"
    verified: frozenset[str] = frozenset()
    for i in range(40):  # stops as soon as one write found an earlier one verified
        client.create_secret(Name=f"s{i}", SecretString="x")
        time.sleep(0.03)
        verified = indexfile.load(gitdir).verified
        if verified:
            break
    image = indexfile.load(gitdir)
    assert verified and set(verified) <= set(image.suspects or [])
    assert git(repo_path, "status", "--porcelain") == ""
    some = sorted(verified)[0]
    (repo_path / some).write_text("edited by hand")
    assert git(repo_path, "status", "--porcelain") == f" M {some}\n"
