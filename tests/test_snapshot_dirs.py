"""A snapshot keeps the folders it walked (gitrepo/snapshot.py): every lookup answers as a walk
from the root would, in any order, for paths that exist, that do not, that pass through a file,
that have empty components or are deeper than Python's recursion limit."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitsm.gitrepo import GitRepo
from tests.conftest import git

FILES = {
    "a/b/c/f1": b"one",
    "a/b/g": b"two",
    "a/h": b"three",
    "top": b"four",
    "x/y/z/w/v": b"five",
}
DEEP = "d/" * (sys.getrecursionlimit() // 2 + 50) + "leaf"  # two frames a folder would overflow


def make_repo(path: Path, files: dict[str, bytes]) -> GitRepo:
    git(path.parent, "init", "-q", "-b", "main", str(path))
    for name, data in files.items():
        file = path / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data)
    git(path, "add", "-A")
    git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "files")
    return GitRepo.open(path, branch="main")


def expected(path: str) -> tuple[bytes | None, bool]:
    """(content, is a directory) as a walk from the root finds them."""
    everything = FILES
    dirs = {"/".join(p.split("/")[:i]) for p in everything for i in range(1, p.count("/") + 1)}
    return everything.get(path), path in dirs


COMPONENTS = st.sampled_from(["a", "b", "c", "f1", "g", "h", "top", "x", "y", "z", "w", "v", ""])
PATHS = st.lists(COMPONENTS, min_size=1, max_size=6).map("/".join)


@pytest.fixture(scope="module")
def files_repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    return make_repo(tmp_path_factory.mktemp("snap") / "repo", FILES)


@settings(max_examples=200, deadline=None)
@given(queries=st.lists(PATHS, min_size=1, max_size=25))
def test_lookups_in_any_order_answer_as_a_walk_from_the_root(
    files_repo: GitRepo, queries: list[str]
) -> None:
    snap = files_repo.tip()  # a new snapshot: its kept folders carry from one query to the next
    for path in [*queries, *reversed(queries)]:
        content, is_dir = expected(path)
        assert snap.read(path) == content, path
        assert snap.is_dir(path) == is_dir, path


def test_a_path_deeper_than_the_recursion_limit(tmp_path: Path) -> None:
    snap = make_repo(tmp_path / "repo", {**FILES, DEEP: b"deep"}).tip()
    assert snap.read(DEEP) == b"deep"
    assert snap.is_dir(DEEP.rpartition("/")[0])
    assert snap.read(DEEP + "/more") is None
    assert snap.read(DEEP.replace("d/d/", "d//d/", 1)) is None
    assert snap.read("a/b/g/inside-a-file") is None and not snap.is_dir("a/b/g")
