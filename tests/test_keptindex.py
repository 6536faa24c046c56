"""The index a process wrote, kept in its memory for its next write (gitrepo/keptindex.py): the kept
buffer is byte for byte the file after every kind of write, it is used only while the file is the
one it was kept for, and a buffer something else still views is never changed or kept."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2

import gitsm
from gitsm.gitrepo import indexfile, indexmeta, keptindex
from tests.conftest import git


def kept_bytes(repo_path: Path) -> bytes | None:
    kept = keptindex._KEPT.get(str(repo_path / ".git" / "index"))
    return None if kept is None else bytes(kept[1])


def index_bytes(repo_path: Path) -> bytes:
    return (repo_path / ".git" / "index").read_bytes()


def checked(repo_path: Path) -> None:
    """git reads the index (its trailer included) and finds the checkout clean."""
    subprocess.run(["git", "fsck", "--no-progress"], cwd=repo_path, check=True, capture_output=True)
    pygit2.Index(str(repo_path / ".git" / "index"))
    assert git(repo_path, "status", "--porcelain", "--untracked-files=all") == ""


def test_the_kept_index_is_the_file_after_each_write(repo_path: Path) -> None:
    client = gitsm.client(repo=repo_path)
    writes = [
        lambda: client.create_secret(Name="app/a", SecretString="1"),
        lambda: client.create_secret(Name="app/b", SecretString="2"),
        lambda: client.put_secret_value(SecretId="app/a", SecretString="3"),
        lambda: client.update_secret(SecretId="app/b", Description="a longer description"),
        lambda: client.create_secret(Name="app/0-first", SecretString="4"),  # sorts before all
        lambda: client.create_secret(Name="zzz/last", SecretString="5"),  # and after all
        lambda: client.delete_secret(SecretId="app/b", ForceDeleteWithoutRecovery=True),
        lambda: client.put_secret_value(SecretId="app/a", SecretString="6"),
    ]
    for write in writes:
        write()
        assert kept_bytes(repo_path) == index_bytes(repo_path)
        data = index_bytes(repo_path)  # and the record kept with it is the one written beside it
        on_disk = indexmeta.load(repo_path / ".git", data, int.from_bytes(data[8:12], "big"))
        assert on_disk is not None
        assert keptindex._KEPT[str(repo_path / ".git" / "index")][2] == on_disk
        checked(repo_path)


def test_the_kept_record_spares_reading_the_file(repo_path: Path) -> None:
    """The next write of the same process takes the record kept with the index: its file gone,
    the entries are still found without a walk (a walk finds no suspects), and the write is right."""
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app/a", SecretString="1")
    (repo_path / ".git" / indexmeta.META_NAME).unlink()
    assert indexfile.load(repo_path / ".git").suspects is not None  # taken, no longer kept
    client.put_secret_value(SecretId="app/a", SecretString="2")  # reads the file and walks it
    (repo_path / ".git" / indexmeta.META_NAME).unlink()
    client.put_secret_value(SecretId="app/a", SecretString="3")  # takes the kept record
    assert kept_bytes(repo_path) == index_bytes(repo_path)
    checked(repo_path)
    keptindex._KEPT.clear()  # as another process: the file written by the last write is right
    assert indexfile.load(repo_path / ".git").suspects is not None


def test_a_kept_index_is_used_only_while_the_file_is_that_one(repo_path: Path) -> None:
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app/a", SecretString="1")
    assert kept_bytes(repo_path) == index_bytes(repo_path)
    # git writes the index anew (a staged file of the user's): the kept one is stale and unused
    (repo_path / "notes.txt").write_text("mine\n")
    git(repo_path, "add", "notes.txt")
    path = repo_path / ".git" / "index"
    with open(path, "rb") as file:
        assert keptindex.take(file, path, os.fstat(file.fileno())) is None
    client.put_secret_value(SecretId="app/a", SecretString="2")
    assert "notes.txt" in git(repo_path, "ls-files", "--stage")  # kept by the write
    assert git(repo_path, "status", "--porcelain") == "A  notes.txt\n"
    assert kept_bytes(repo_path) == index_bytes(repo_path)
    git(repo_path, "commit", "-q", "-m", "notes")  # git writes the index again (its cache tree)
    client.put_secret_value(SecretId="app/a", SecretString="3")
    assert "notes.txt" in git(repo_path, "ls-files", "--stage")
    assert kept_bytes(repo_path) is None  # git's index had extensions: the write dropped them
    checked(repo_path)
    client.put_secret_value(SecretId="app/a", SecretString="4")  # gitsm's own index: kept again
    assert kept_bytes(repo_path) == index_bytes(repo_path)
    checked(repo_path)


def test_the_trailer_read_from_the_file_must_match(repo_path: Path) -> None:
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app/a", SecretString="1")
    path = repo_path / ".git" / "index"
    st = os.stat(path)
    with open(path, "rb") as file:
        assert keptindex.take(file, path, st) is not None  # the file it was kept for
    client.put_secret_value(SecretId="app/a", SecretString="2")
    data = keptindex._KEPT[str(path)][1]
    data[-1] ^= 0xFF  # the same file by its stat data, another trailer
    with open(path, "rb") as file:
        assert keptindex.take(file, path, os.stat(path)) is None
    assert str(path) not in keptindex._KEPT  # handed over or refused, it is no longer kept


def test_a_buffer_still_viewed_is_neither_changed_nor_kept(repo_path: Path) -> None:
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app/a", SecretString="1")
    gitdir = repo_path / ".git"
    image = indexfile.load(gitdir)
    assert isinstance(image.data, bytearray)
    before = bytes(image.data)
    view = memoryview(image.data)  # someone still reads the old index's bytes
    new = image.patched({"secrets/app/a/~secret.yaml": None}, repo_path)
    keptindex.keep(gitdir, image.data, image.offsets()[-1], new.parts, new.edits)
    assert bytes(view) == before and str(gitdir / "index") not in keptindex._KEPT
    view.release()
