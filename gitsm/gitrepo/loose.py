"""Loose objects vetted before libgit2 reads them.

libgit2 1.9 loops forever, at full CPU, when it inflates a truncated loose object (libgit2 issue
7342, fixed upstream after the release pygit2 bundles): a store with one truncated object file would
hang every command that reads it instead of failing. So the objects gitsm's common paths read (the
branch tip, the trees along a path, the files of a snapshot, the subtrees a write rebuilds) are
checked first: when an object is loose, its file is inflated here with Python's zlib, which stops at
the end of its input, and one that is truncated or corrupt raises a GitError naming it (a
RepositoryError at the git layer's boundary) before libgit2 sees it.

It costs one ``listdir`` per fan-out directory and process (which objects are loose), and one
inflate per loose object the first time it is read; packed objects cost a set lookup. Objects read
by libgit2's own walks (history, ranges, diffs for sync) are not vetted.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from pathlib import Path

import pygit2

_ATTRIBUTE = "_gitsm_loose"


class LooseObjects:
    """Which objects of one object directory are loose, and which of them were found sound."""

    def __init__(self, objects: Path) -> None:
        self.objects = objects
        self._loose: dict[str, frozenset[str]] = {}
        self._sound: set[str] = set()

    def check(self, oid: object) -> None:
        """Raise GitError when ``oid`` is a loose object whose file is truncated or corrupt."""
        hexid = str(oid)
        if hexid in self._sound:
            return
        fan = hexid[:2]
        names = self._loose.get(fan)
        if names is None:
            try:
                names = frozenset(os.listdir(self.objects / fan))
            except OSError:
                names = frozenset()
            self._loose[fan] = names
        if hexid[2:] in names:
            self._vet(hexid, self.objects / fan / hexid[2:])
        self._sound.add(hexid)

    @staticmethod
    def _vet(hexid: str, path: Path) -> None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # packed and pruned meanwhile: libgit2 finds it in the pack
            return
        inflate = zlib.decompressobj()
        try:
            content = inflate.decompress(data)
        except zlib.error as exc:
            raise pygit2.GitError(f"{hexid}: the loose object {path} is corrupt ({exc})") from None
        header, nul, body = content.partition(b"\0")
        kind, _, size = header.partition(b" ")
        if not inflate.eof or not nul or not size.isdigit() or int(size) != len(body):
            raise pygit2.GitError(f"{hexid}: the loose object {path} is truncated")
        if kind not in (b"blob", b"tree", b"commit", b"tag"):
            raise pygit2.GitError(f"{hexid}: the loose object {path} is corrupt (no object type)")


def common_dir(gitdir: Path) -> Path:
    """The git dir that all work trees of the repository share (``gitdir`` itself, except in a
    linked work tree, whose ``commondir`` file names it)."""
    common = gitdir
    with contextlib.suppress(OSError, ValueError):
        common = (gitdir / (gitdir / "commondir").read_text().strip()).resolve()
    return common


def attach(repo: pygit2.Repository, common: Path) -> None:
    """Vet the loose objects of ``repo`` (in ``objects`` of its common git dir, ``common``: see
    :func:`common_dir`) from now on."""
    setattr(repo, _ATTRIBUTE, LooseObjects(common / "objects"))


def check(repo: pygit2.Repository, oid: object) -> None:
    """Vet ``oid`` before libgit2 reads it from ``repo`` (nothing when ``repo`` has no vetting)."""
    guard: LooseObjects | None = getattr(repo, _ATTRIBUTE, None)
    if guard is not None:
        guard.check(oid)
