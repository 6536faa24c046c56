"""Cases where a quick read that parsed less than libgit2 and the strict readers would answer
although the full reader answers otherwise or fails: each builds the case on a real store and
checks that the quick read leaves it to the full reader (Doubt) or answers exactly as it does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pygit2
import pytest

import gitsm
from gitsm.cli import quickget
from tests import test_quickread as base
from tests.conftest import git
from tests.test_quickread import (
    blob,
    commit_file,
    doubted,
    full,
    gitdir_of,
    manifest_name,
    quick,
)

filled = base.filled  # the store every case starts from (a fixture)
_own_home = base._own_home  # a HOME without the user's git config (autouse)


def full_fails(path: Path, **params: Any) -> None:
    with pytest.raises(Exception):  # noqa: B017  (any refusal of the full reader)
        full(path, **params)


def quick_never_differs(path: Path, **params: Any) -> None:
    """The quick read doubts, or answers exactly what the full reader answers."""
    try:
        expected: object = full(path, **params)
    except Exception as exc:
        expected = exc
    try:
        answer = quick(path, **params)
    except gitsm.plaingit.Doubt:
        return
    assert answer == expected


def test_scalar_tags_line(filled: Path) -> None:
    """``tags: "x"`` is refused by the full reader (tags is not a list)."""
    name = manifest_name("app/db")
    original = blob(filled, name)
    for line in (b'tags: "x"', b"tags: true", b"tags: 5"):
        changed = original.replace(b"\ncreated:", b"\n" + line + b"\ncreated:", 1)
        commit_file(filled, name, changed)
        full_fails(filled, SecretId="app/db")
        doubted(filled, SecretId="app/db")


def _write_tree(repo: pygit2.Repository, raw: bytes) -> pygit2.Oid:
    return repo.odb.write(pygit2.enums.ObjectType.TREE, raw)


def _replace_dir(path: Path, where: list[str], make: Any) -> None:
    """Commit the tip with the tree at ``where`` replaced by ``make(repo, tree)``'s raw tree."""
    repo = pygit2.Repository(str(path))
    tip = repo.head.peel(pygit2.Commit)

    def rebuild(tree: pygit2.Tree, parts: list[str]) -> pygit2.Oid:
        sub = repo[tree[parts[0]].id]
        new = _write_tree(repo, make(repo, sub)) if len(parts) == 1 else rebuild(sub, parts[1:])
        builder = repo.TreeBuilder(tree)
        builder.insert(parts[0], new, pygit2.GIT_FILEMODE_TREE)
        return builder.write()

    who = pygit2.Signature("Test", "test@example.com")
    repo.create_commit(repo.head.name, who, who, "raw", rebuild(tip.tree, where), [tip.id])


def _raw_entries(tree: pygit2.Tree) -> bytes:
    return b"".join(b"%o %s\0" % (e.filemode, e.name.encode()) + e.id.raw for e in tree)


def test_tree_with_a_duplicate_entry(filled: Path) -> None:
    """Two ``~secret.yaml`` entries: libgit2's binary search takes the second, a scan the first."""

    def dup(repo: pygit2.Repository, tree: pygit2.Tree) -> bytes:
        manifest = tree["~secret.yaml"]
        text = bytes(repo[manifest.id].data)
        swapped = (text.replace(b'["AWSPREVIOUS"]', b'["X"]')
                   .replace(b'["AWSCURRENT"]', b'["AWSPREVIOUS"]')
                   .replace(b'["X"]', b'["AWSCURRENT"]'))  # fmt: skip
        other = repo.create_blob(swapped)
        versions = tree["~versions"]
        return (b"100644 ~secret.yaml\0" + manifest.id.raw + b"100644 ~secret.yaml\0" + other.raw
                + b"40000 ~versions\0" + versions.id.raw)  # fmt: skip

    before = full(filled, SecretId="app/db")["SecretString"]
    _replace_dir(filled, ["secrets", "app", "db"], dup)
    assert full(filled, SecretId="app/db")["SecretString"] != before  # the full reader moved
    quick_never_differs(filled, SecretId="app/db")


@pytest.mark.parametrize(
    "extra", [b"999999 zzz\0" + b"\1" * 20, b"100644 zzz\0" + b"\1" * 5, b" zzz\0" + b"\1" * 20]
)
def test_tree_damaged_after_the_entry_read(filled: Path, extra: bytes) -> None:
    """libgit2 parses the whole tree and refuses it; a scan that stops at the entry did not."""
    _replace_dir(filled, ["secrets", "app", "db"], lambda _repo, tree: _raw_entries(tree) + extra)
    full_fails(filled, SecretId="app/db")
    doubted(filled, SecretId="app/db")


def _commit_raw(path: Path, text: str) -> None:
    gitdir = gitdir_of(path)
    tree = git(path, "rev-parse", "HEAD^{tree}").strip()
    parent = git(path, "rev-parse", "HEAD").strip()
    raw = text.format(tree=tree, parent=parent).encode()
    oid = pygit2.Repository(str(path)).odb.write(pygit2.enums.ObjectType.COMMIT, raw)
    branch = (gitdir / "HEAD").read_text().split("refs/heads/")[1].strip()
    git(path, "update-ref", f"refs/heads/{branch}", str(oid))


@pytest.mark.parametrize(
    "text",
    [
        "tree {tree}\nparent {parent}\n\nno author\n",
        "tree {tree}\nparent {parent}\nauthor nobody\ncommitter nobody\n\nbad signatures\n",
        "tree {tree}\nparent {parent}\nauthor A <a@e> 1700000000 +0000\n"
        "committer A <a@e> 999999999999 +0000\n\na date past year 9999\n",
    ],
)
def test_commit_the_full_reader_refuses(filled: Path, text: str) -> None:
    _commit_raw(filled, text)
    full_fails(filled, SecretId="app/db")
    doubted(filled, SecretId="app/db")


def test_head_naming_a_ref_outside_refs_heads(filled: Path) -> None:
    """HEAD -> refs/heads/../../FOO: libgit2 refuses the name; a path join reads <gitdir>/FOO."""
    gitdir = gitdir_of(filled)
    (gitdir / "FOO").write_text(git(filled, "rev-parse", "HEAD"))
    (gitdir / "HEAD").write_text("ref: refs/heads/../../FOO\n")
    full_fails(filled, SecretId="app/db")
    doubted(filled, SecretId="app/db")


def test_packed_refs_listing_the_branch_twice(filled: Path) -> None:
    gitdir = gitdir_of(filled)
    branch = (gitdir / "HEAD").read_text().split("refs/heads/")[1].strip()
    commit_file(filled, "unrelated.txt", b"x")
    new = git(filled, "rev-parse", "HEAD").strip()
    old = git(filled, "rev-parse", "HEAD~1").strip()
    gitsm.client(repo=filled).create_secret(Name="later", SecretString="v")
    newest = git(filled, "rev-parse", "HEAD").strip()
    git(filled, "pack-refs", "--all")
    assert not (gitdir / "refs" / "heads" / branch).exists()
    (gitdir / "packed-refs").write_text(
        "# pack-refs with: peeled fully-peeled sorted \n"
        + "".join(f"{oid} refs/heads/{branch}\n" for oid in (newest, old, new))
    )
    quick_never_differs(filled, SecretId="later")


def test_pack_whose_trailer_does_not_match_its_index(filled: Path) -> None:
    git(filled, "gc", "-q", "--prune=now")
    (pack,) = (gitdir_of(filled) / "objects" / "pack").glob("*.pack")
    data = bytearray(pack.read_bytes())
    data[-1] ^= 1
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))
    full_fails(filled, SecretId="app/db")
    doubted(filled, SecretId="app/db")


def cli_never_differs(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> None:
    """The console script's quick path prints nothing (the full command runs), or exactly what
    the full command prints, exit 0. The full command runs in a fresh process: libgit2 found the
    global configuration when this one imported pygit2."""
    args = ["--repo", str(path), "get-secret-value", "--secret-id", "app/db", *extra]
    done = subprocess.run(
        [sys.executable, "-m", "gitsm", *args], capture_output=True, text=True, check=False,
        env={**os.environ, quickget.SWITCH: "0", "PYTHONIOENCODING": "utf-8"},
    )  # fmt: skip
    code = quickget.quick(args)
    out = capsys.readouterr().out
    if code is not None:
        assert (code, out) == (done.returncode, done.stdout), done.stderr


@pytest.mark.parametrize(
    "config",
    [
        "this is not valid config\n",
        "[core]\n\trepositoryformatversion = 2\n",
        "[core]\n\trepositoryformatversion = abc\n",
        "[core]\n\tbare = maybe\n",
        "[core]\n\tworktree = /nonexistent/work/tree\n",
    ],
)
def test_repository_config_libgit2_refuses(
    filled: Path, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = gitdir_of(filled) / "config"
    path.write_text(path.read_text() + config)
    cli_never_differs(filled, capsys)


def test_global_config_libgit2_cannot_parse(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (Path.home() / ".gitconfig").write_text("[user\n")
    cli_never_differs(filled, capsys)


def test_empty_version_stage_is_refused_by_parameter_validation(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The full command refuses an empty --version-stage (exit 252); it is not AWSCURRENT."""
    cli_never_differs(filled, capsys, "--version-stage", "")


@pytest.mark.parametrize("escaped", [rb"\N{DIGIT ONE}", rb"\101", rb"\q", rb"\U00110000", b"\t"])
def test_a_description_with_an_escape_gitsm_does_not_write(filled: Path, escaped: bytes) -> None:
    """Python's unicode_escape and YAML read these differently (or YAML refuses them): the quick
    read leaves them to the full reader, which reads the manifest as YAML."""
    name = manifest_name("app/db")
    original = blob(filled, name)
    line = b'description: "x' + escaped + b'"\n'
    changed = original.replace(b"\ncreated:", b"\n" + line + b"created:", 1)
    assert changed != original
    commit_file(filled, name, changed)
    doubted(filled, SecretId="app/db")
    quick_never_differs(filled, SecretId="app/db")


def test_a_path_in_a_tree_is_found_component_by_component(filled: Path) -> None:
    """PlainRepo.entry (which keeps each directory's table by its path) answers every path, odd
    ones included (empty components name nothing), as a walk of pygit2's trees one component at
    a time does: the same id, or nothing."""
    repo, tip = gitsm.quickread.open_tip(str(filled))
    tree = repo.tree_of(tip)

    def walk(path: str) -> str | None:
        node: object = pygit2.Repository(str(filled)).revparse_single("HEAD").tree
        for name in path.split("/"):
            if not isinstance(node, pygit2.Tree):
                return None
            node = {entry.name: entry for entry in node}.get(name)
            if node is None:
                return None
        return str(node.id)  # type: ignore[attr-defined]

    files = [p for p in git(filled, "ls-tree", "-r", "--name-only", "HEAD").split("\n") if p]
    paths = {p for f in files for p in (f, f.rpartition("/")[0])} | {
        "", "/", "//", "/secrets", "secrets/", "secrets//x", f"{files[0]}/x", f"/{files[0]}",
        files[0].replace("/", "//", 1), "nope", "nope/x",
    }  # fmt: skip
    found = 0
    for path in sorted(paths):
        entry = repo.entry(tree, path)
        assert (entry[1] if entry else None) == walk(path), path
        found += entry is not None
    assert found >= len(files)
