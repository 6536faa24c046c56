"""The index changed entry by entry (gitrepo/indexfile.py): what git and libgit2 read back is what
a full rewrite would give, entries of other paths are kept, racily clean entries are smudged, and an
index that module leaves alone (version 4) still follows every write through libgit2."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2
import pytest

import gitsm
from gitsm.gitrepo import indexfile, indexmeta, keptindex
from tests.conftest import git


def status(path: Path) -> str:
    return git(path, "status", "--porcelain", "--untracked-files=all")


def staged(path: Path) -> list[str]:
    """``git ls-files --stage`` lines of the secrets' files, as git reads the index."""
    return [line for line in git(path, "ls-files", "--stage").splitlines() if "secrets/" in line]


def fsck_index(path: Path) -> None:
    """``git fsck`` checks the index's SHA-1 trailer, as libgit2 does on every read."""
    subprocess.run(["git", "fsck", "--no-progress"], cwd=path, check=True, capture_output=True)
    pygit2.Index(str(path / ".git" / "index"))  # libgit2 refuses a bad trailer


def test_writes_patch_the_index_and_record_its_entries(repo_path: Path) -> None:
    client = gitsm.client(repo=repo_path)
    for i in range(5):
        client.create_secret(Name=f"app/s{i}", SecretString=f"v{i}")
    client.put_secret_value(SecretId="app/s2", SecretString="new")
    client.delete_secret(SecretId="app/s4", ForceDeleteWithoutRecovery=True)
    gitdir = repo_path / ".git"
    assert indexmeta.known_clean(gitdir)  # gitsm's own index: the record of its entries matches
    image = indexfile.load(gitdir)
    assert image.suspects is not None and not image.conflicted  # the record was used, no walk
    tree = {
        line.split("\t")[1]: line.split()[2]
        for line in git(repo_path, "ls-tree", "-r", "HEAD").splitlines()
    }
    in_index = {line.split("\t")[1]: line.split()[1] for line in staged(repo_path)}
    assert in_index == {p: oid for p, oid in tree.items() if p.startswith("secrets/")}
    assert len(in_index) == 9  # 4 secrets x (manifest + 1 envelope), and s2's second envelope
    assert status(repo_path) == ""
    # The entries carry the files' stat data: git's plumbing, which compares stat data without
    # refreshing the index first (diff-files, read-tree -m), finds them up to date.
    assert git(repo_path, "--no-optional-locks", "diff-files", "--name-only") == ""
    fsck_index(repo_path)


def test_other_entries_and_flags_are_kept(repo_path: Path) -> None:
    """A file staged by hand and an intent-to-add entry (extended flags: a version 3 index) stay
    as git wrote them; the first write after git wrote the index walks it."""
    (repo_path / "notes.txt").write_text("staged\n")
    (repo_path / "later.txt").write_text("intent\n")
    past = int((repo_path / "notes.txt").stat().st_mtime) - 100
    os.utime(repo_path / "notes.txt", (past, past))  # older than the index: not racy, kept as is
    git(repo_path, "add", "notes.txt")
    git(repo_path, "add", "-N", "later.txt")
    before = git(repo_path, "ls-files", "--stage", "--debug", "notes.txt")
    assert not indexmeta.known_clean(repo_path / ".git")
    gitsm.client(repo=repo_path).create_secret(Name="a", SecretString="x")
    assert git(repo_path, "ls-files", "--stage", "--debug", "notes.txt") == before
    assert status(repo_path) == " A later.txt\nA  notes.txt\n"
    assert len(staged(repo_path)) == 2
    fsck_index(repo_path)


def test_a_racily_clean_entry_is_smudged_so_git_still_sees_the_edit(repo_path: Path) -> None:
    """git trusts an entry's stat data only when the file is older than the index; an entry as
    new as the index it was read from must be smudged in the new index, or an edit made in the
    same clock tick (same size, same mtime) would vanish from git status."""
    git(repo_path, "config", "core.trustctime", "false")
    file, index = repo_path / "f.txt", repo_path / ".git" / "index"
    file.write_text("aaaa\n")
    past = int(file.stat().st_mtime) - 100
    os.utime(file, (past, past))
    git(repo_path, "add", "f.txt")
    os.utime(index, (past, past))  # the index is as old as the entry: the entry is racy
    with open(file, "r+b") as edit:  # same inode, same size, same mtime: only the content moves
        edit.write(b"bbbb\n")
    os.utime(file, (past, past))
    looked = git(repo_path, "--no-optional-locks", "status", "--porcelain")  # index unchanged
    assert looked == "AM f.txt\n"  # git compares the content of a racy entry
    gitsm.client(repo=repo_path).create_secret(Name="a", SecretString="x")
    assert status(repo_path) == "AM f.txt\n"
    assert git(repo_path, "diff", "--name-only") == "f.txt\n"


def test_a_version_4_index_is_left_to_libgit2(repo_path: Path) -> None:
    git(repo_path, "update-index", "--index-version", "4")
    with pytest.raises(indexfile.Unsupported):
        indexfile.load(repo_path / ".git")
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="a", SecretString="x")
    client.put_secret_value(SecretId="a", SecretString="y")
    assert status(repo_path) == "" and len(staged(repo_path)) == 3
    fsck_index(repo_path)


def test_a_stale_record_is_not_trusted(repo_path: Path) -> None:
    """A record whose trailer is not the index's own is ignored: the index is walked again."""
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="a", SecretString="x")
    keptindex._KEPT.clear()  # as another process reads it: this one kept the index and its record
    meta = repo_path / ".git" / indexmeta.META_NAME
    good = meta.read_bytes()
    meta.write_bytes(good[: 19 + 4 + 20 + 4 + 8])  # the entry lengths cut short
    assert indexfile.load(repo_path / ".git").suspects is None  # walked
    meta.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # half rewritten: its CRC does not match
    assert indexmeta.known_clean(repo_path / ".git")  # (the trailer alone still names the index)
    assert indexfile.load(repo_path / ".git").suspects is None
    meta.write_bytes(good + b"\0" * 64)  # a longer record's tail, left by an interrupted write
    assert indexfile.load(repo_path / ".git").suspects is None
    meta.write_bytes(good)
    assert indexfile.load(repo_path / ".git").suspects is not None  # the record, trusted
    meta.write_bytes(good.replace(good[23:43], b"\1" * 20))  # another index's trailer
    assert not indexmeta.known_clean(repo_path / ".git")
    client.put_secret_value(SecretId="a", SecretString="y")
    assert status(repo_path) == "" and len(staged(repo_path)) == 3
    fsck_index(repo_path)


def test_a_bare_store_does_no_index_work(bare_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No-checkout mode: writes neither read nor write an index, nor take git's index lock."""
    from gitsm.gitrepo.indexlock import IndexLock

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("index work in a bare store")

    for target, name in ((indexfile, "load"), (indexmeta, "known_clean"), (IndexLock, "acquire")):
        monkeypatch.setattr(target, name, refuse)
    client = gitsm.client(repo=bare_path)
    client.create_secret(Name="a", SecretString="x")
    client.put_secret_value(SecretId="a", SecretString="y")
    client.delete_secret(SecretId="a", ForceDeleteWithoutRecovery=True)
    leftovers = ("index", "index.lock", indexmeta.META_NAME, "gitsm-worktree.json")
    assert [name for name in leftovers if (bare_path / name).exists()] == []
    assert git(bare_path, "log", "--format=%s", "-3").split("\n")[:3] == [
        "DeleteSecret a", "PutSecretValue a", "CreateSecret a"
    ]  # fmt: skip


def test_an_entry_still_racy_at_a_later_write_is_checked_again(repo_path: Path) -> None:
    """Two writes and an edit of the first one's manifest in one second (same size, same inode),
    then a write in a later second: git must still see the edit. An entry that was racily clean
    but unchanged when one write read the index stays a suspect for the next, as git re-checks
    every racily clean entry whenever it writes an index."""
    import time

    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="c0", SecretString="x")
    for attempt in range(5):
        time.sleep(1 - time.time() % 1 + 0.01)  # the start of a second
        start = time.time()
        client.create_secret(Name=f"a{attempt}", SecretString="x")
        client.create_secret(Name=f"b{attempt}", SecretString="x")
        manifest = repo_path / "secrets" / f"a{attempt}" / "~secret.yaml"
        data = manifest.read_bytes()
        edited = data.replace(b"Description", b"Descriptiom") if b"Description" in data else (
            data[:-2] + (b"Q" if data[-2:-1] != b"Q" else b"R") + data[-1:])  # fmt: skip
        with open(manifest, "r+b") as handle:  # in place: same inode, same size
            handle.write(edited)
        if int(time.time()) == int(start):
            break
    else:
        pytest.fail("five tries never fitted two writes and an edit into one second")
    time.sleep(1.2)
    client.create_secret(Name="later", SecretString="x")
    assert status(repo_path) == f" M secrets/a{attempt}/~secret.yaml\n"
    fsck_index(repo_path)
