"""A split index (``core.splitIndex``, gitrepo/splitindex.py): gitsm writes change only the split
file, git reads back exactly the committed tree, a new shared index is written once the split file
grows, and the readers libgit2 serves (the hooks' staged changes, a sync's read-tree copy) see the
merged index. libgit2 itself cannot read a split index at all."""

from __future__ import annotations

import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

import pygit2
import pytest

import gitsm
from gitsm.awsclient import SecretsManagerClient
from gitsm.errors import GitsmError
from gitsm.gitrepo import ewah, indexfile, indexmeta, sharedindex, splitindex
from gitsm.store import SecretStore
from tests.conftest import git


def status(path: Path) -> str:
    return git(path, "status", "--porcelain", "--untracked-files=all")


def index_matches_head(path: Path) -> None:
    """git reads the index as exactly HEAD's tree: same paths, modes and blob ids."""
    tree = sorted(
        (line.split()[0], line.split()[2], line.split("\t")[1])
        for line in git(path, "ls-tree", "-r", "HEAD").splitlines()
    )
    index = sorted(
        (line.split()[0], line.split()[1], line.split("\t")[1])
        for line in git(path, "ls-files", "--stage").splitlines()
    )
    assert index == tree
    assert git(path, "--no-optional-locks", "diff-files", "--name-only") == ""  # stat data true
    subprocess.run(["git", "fsck", "--no-progress"], cwd=path, check=True, capture_output=True)


def shared_files(gitdir: Path) -> list[str]:
    return sorted(p.name for p in gitdir.glob("sharedindex.*"))


def split_on(path: Path, *, settled: bool = False) -> None:
    """Turn git's split index on; ``settled``: with every file older than the index first, so
    that git's first split file replaces no racily clean entry and starts empty."""
    if settled:
        past = time.time() - 100
        for name in git(path, "ls-files").splitlines():
            os.utime(path / name, (past, past))
        git(path, "update-index", "--really-refresh")
    git(path, "config", "core.splitIndex", "true")
    git(path, "update-index", "--split-index")


@pytest.mark.parametrize("seed", range(5))
def test_ewah_round_trip(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice([1, 63, 64, 65, 200, 5000])
    bits = sorted(rng.sample(range(size), rng.randint(0, min(size, 40))))
    if seed == 4:
        bits = [*range(64, 64 * 5), 1000]  # whole words set: still literal words
    data = ewah.ewah_bytes(bits)
    assert ewah.ewah_bits(data, 0) == (bits, len(data))


def test_git_written_bitmaps_are_read(repo_path: Path) -> None:
    """Deletions and replacements that git itself wrote into the split file are applied as git
    applies them: the merged entries are git's ``ls-files --stage``."""
    for name in ("a", "b", "c", "d"):
        (repo_path / f"{name}.txt").write_text(name)
    for n in range(150):
        (repo_path / f"many{n:03}.txt").write_text(str(n))
    git(repo_path, "add", ".")
    git(repo_path, "commit", "-qm", "many")
    split_on(repo_path)
    git(repo_path, "rm", "-q", "b.txt", *(f"many{n:03}.txt" for n in range(5, 140)))
    (repo_path / "c.txt").write_text("changed")
    (repo_path / "e.txt").write_text("new")
    git(repo_path, "add", "c.txt", "e.txt")
    gitdir = repo_path / ".git"
    image = splitindex.resolve(gitdir, indexfile.load(gitdir))
    assert isinstance(image, splitindex.SplitImage)
    assert image.deleted and image.replaced and image.added  # all three kinds are in play
    merged = splitindex.merged_bytes(gitdir / "index", gitdir)
    assert merged is not None
    copy = repo_path / "merged-index"
    copy.write_bytes(merged)
    ours = {(e.path, str(e.id)) for e in pygit2.Index(str(copy))}
    theirs = {
        (line.split("\t")[1], line.split()[1])
        for line in git(repo_path, "ls-files", "--stage").splitlines()
    }
    assert ours == theirs


def test_writes_change_only_the_split_file(repo_path: Path) -> None:
    client = gitsm.client(repo=repo_path)
    for i in range(30):
        client.create_secret(Name=f"app/s{i}", SecretString=f"v{i}")
    split_on(repo_path, settled=True)
    gitdir = repo_path / ".git"
    client.put_secret_value(SecretId="app/s2", SecretString="new")
    shared = shared_files(gitdir)  # 62 shared entries: the writes below stay under 20 percent
    size_before = (gitdir / "index").stat().st_size
    client.put_secret_value(SecretId="app/s3", SecretString="new")
    client.update_secret(SecretId="app/s4", Description="described")
    client.delete_secret(SecretId="app/s5", ForceDeleteWithoutRecovery=True)
    client.create_secret(Name="app/zz", SecretString="added")
    assert shared_files(gitdir) == shared  # the shared index was not rewritten
    assert b"link" in (gitdir / "index").read_bytes()  # still split
    assert (gitdir / "index").stat().st_size < size_before + 2000
    assert indexmeta.known_clean(gitdir)
    assert status(repo_path) == ""
    index_matches_head(repo_path)
    git(repo_path, "status")  # git rewrites the index as it likes; gitsm reads what it wrote
    client.put_secret_value(SecretId="app/zz", SecretString="again")
    assert status(repo_path) == ""
    index_matches_head(repo_path)


def one_secret_split(repo_path: Path, name: str) -> tuple[SecretsManagerClient, Path]:
    """A store with secret ``name`` whose index git keeps split: its client and git dir."""
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name=name, SecretString="x")
    split_on(repo_path)
    return client, repo_path / ".git"


def test_a_new_shared_index_once_the_split_file_grows(repo_path: Path) -> None:
    client, gitdir = one_secret_split(repo_path, "first")
    first = shared_files(gitdir)
    for i in range(4):  # 4 entries in the shared index: the second write passes 20 percent
        client.put_secret_value(SecretId="first", SecretString=f"v{i}")
    now = shared_files(gitdir)
    assert len(now) > len(first)
    image = splitindex.resolve(gitdir, indexfile.load(gitdir))
    assert isinstance(image, splitindex.SplitImage)
    assert image.shared_name.hex() != first[0].removeprefix("sharedindex.")
    assert status(repo_path) == ""
    index_matches_head(repo_path)


def test_a_damaged_shared_index_is_refused_and_nothing_written(repo_path: Path) -> None:
    client, gitdir = one_secret_split(repo_path, "a")
    (gitdir / sharedindex.SHARED_META).unlink(missing_ok=True)
    shared = gitdir / shared_files(gitdir)[0]
    data = bytearray(shared.read_bytes())
    data[20] ^= 1
    shared.write_bytes(bytes(data))
    with pytest.raises(indexfile.Unsupported, match="does not match its name"):
        splitindex.resolve(gitdir, indexfile.load(gitdir))
    head = git(repo_path, "rev-parse", "HEAD")
    with pytest.raises(GitsmError, match=r"split index .* Rebuild it"):
        client.put_secret_value(SecretId="a", SecretString="y")
    assert git(repo_path, "rev-parse", "HEAD") == head


def test_racily_clean_entries_in_a_split_index_are_smudged(repo_path: Path) -> None:
    """As for a whole index: an entry as new as the split index it was read from, whose file
    changed since, is smudged, so git still sees the edit."""
    git(repo_path, "config", "core.trustctime", "false")
    file = repo_path / "f.txt"
    file.write_text("aaaa\n")
    git(repo_path, "add", "f.txt")
    git(repo_path, "commit", "-qm", "f")
    split_on(repo_path)
    index = repo_path / ".git" / "index"
    past = int(file.stat().st_mtime) - 100
    os.utime(file, (past, past))
    git(repo_path, "update-index", "--really-refresh")
    os.utime(index, (past, past))  # the index is as old as the entry: the entry is racy
    with open(file, "r+b") as edit:
        edit.write(b"bbbb\n")
    os.utime(file, (past, past))
    gitsm.client(repo=repo_path).create_secret(Name="a", SecretString="x")
    assert status(repo_path) == " M f.txt\n"


def test_staged_changes_read_through_a_split_index(
    repo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hooks' view of the index (libgit2) gets the merged index, through a copy that is
    removed at once."""
    copies = tmp_path / "tmp"
    copies.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(copies))
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="a", SecretString="x")
    split_on(repo_path)
    (repo_path / "plain.txt").write_text("hello")
    git(repo_path, "add", "plain.txt")
    repo = SecretStore.open(repo_path).repo
    changes = repo.staged_changes()
    assert set(changes) == {"plain.txt"}
    assert repo.unmerged_paths() == []
    assert repo.staged_snapshot().blob_id("plain.txt") == changes["plain.txt"]
    assert not list(copies.iterdir())  # every merged copy is gone


def test_extended_flags_survive_in_a_split_index(repo_path: Path) -> None:
    """An intent-to-add entry (extended flags: a version 3 index) in the shared index stays as
    git wrote it through gitsm's writes, the new shared index of a resplit included."""
    client, gitdir = one_secret_split(repo_path, "a")
    (repo_path / "later.txt").write_text("intent\n")
    git(repo_path, "add", "-N", "later.txt")
    before = git(repo_path, "ls-files", "--stage", "later.txt")
    for i in range(6):  # past 20 percent: a new shared index is written
        client.put_secret_value(SecretId="a", SecretString=f"v{i}")
    assert git(repo_path, "ls-files", "--stage", "later.txt") == before
    assert status(repo_path) == " A later.txt\n"
    assert len(shared_files(gitdir)) > 1
    subprocess.run(["git", "fsck", "--no-progress"], cwd=repo_path, check=True, capture_output=True)
