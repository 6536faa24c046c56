"""Read-only views of trees: :class:`Snapshot` and :class:`CommitInfo`, and shared helpers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import pygit2

from gitsm.gitrepo.failures import translating
from gitsm.gitrepo.loose import check

__all__ = ["CommitInfo", "RefConflict", "Snapshot", "TreeFile", "conflicted_paths"]

_TREE = pygit2.enums.ObjectType.TREE
_BLOB = pygit2.enums.ObjectType.BLOB
_REGULAR = 0o100644
KEPT_FILES = 16
"""Files a snapshot keeps what :meth:`Snapshot.file` found of (a write reads a few; a listing
reads its manifests another way)."""
KEPT_DIRS = 8192
"""Directories a snapshot keeps the tree of (a few hundred bytes each): reading every secret
of a large store looks each folder up once."""


def _child(repo: pygit2.Repository, tree: pygit2.Tree | None, name: str) -> pygit2.Object | None:
    """The entry ``name`` of ``tree`` (a single path component), vetted; None when there is none."""
    if tree is None:
        return None
    try:
        node = tree[name]
    except KeyError:
        return None
    check(repo, node.id)
    return node


class RefConflict(Exception):
    """The branch moved between reading the tip and updating it; retry the operation."""


def conflicted_paths(index: pygit2.Index) -> list[str]:
    """The paths that have unmerged (conflict) entries in ``index``, sorted."""
    conflicts = index.conflicts
    if conflicts is None:
        return []
    return sorted({e.path for stages in conflicts for e in stages if e is not None})


@dataclass(frozen=True)
class TreeFile:
    """A file entry of a tree (anything but a directory), as the strict readers see it.

    ``mode`` is the git file mode (100644 a regular file, 100755 an executable, 120000 a symbolic
    link, 160000 a gitlink); ``size`` is the blob's size in bytes (0 for a gitlink); ``data`` is
    the content, read only for a regular file of at most the size the caller allowed; ``oid`` is
    the object id the entry names.
    """

    path: str
    mode: int
    size: int
    data: bytes | None
    oid: str


@translating
@dataclass(frozen=True)
class Snapshot:
    """A read-only view of the tree at one commit of the store's branch."""

    repo: pygit2.Repository
    commit_id: str | None
    tree: pygit2.Tree | None
    commit_time: datetime | None
    _files: dict[tuple[str, int], TreeFile | None] = field(
        default_factory=dict, compare=False, repr=False
    )
    """What :meth:`file` found, by path and size limit (at most :data:`KEPT_FILES`)."""
    _dirs: dict[str, pygit2.Tree | None] = field(default_factory=dict, compare=False, repr=False)
    """The trees :meth:`_dir` found, by path."""

    @property
    def tree_id(self) -> str | None:
        """The id of the snapshot's root tree (None for an empty branch)."""
        return None if self.tree is None else str(self.tree.id)

    def _obj(self, path: str) -> pygit2.Object | None:
        """The object at ``path``, every object on the way vetted (see :mod:`.loose`)."""
        parent, slash, name = path.rpartition("/")
        return _child(self.repo, self._dir(parent) if slash else self.tree, name)

    def _dir(self, path: str) -> pygit2.Tree | None:
        """The tree at ``path`` (not the root: "" names none), vetted; None when there is no
        directory there.
        Every folder on the way is kept (up to :data:`KEPT_DIRS`): reading many secrets walks
        their common folders once."""
        if path in self._dirs:
            return self._dirs[path]
        start, tree = 0, self.tree  # from the deepest folder on the way already kept
        cut = len(path)
        while (cut := path.rfind("/", 0, cut)) > 0:
            if path[:cut] in self._dirs:
                start, tree = cut + 1, self._dirs[path[:cut]]
                break
        while tree is not None:  # down, one folder at a time
            end = path.find("/", start)
            end = len(path) if end < 0 else end
            node = _child(self.repo, tree, path[start:end])
            tree = cast(pygit2.Tree, node) if node is not None and node.type == _TREE else None
            if len(self._dirs) < KEPT_DIRS:
                self._dirs[path[:end]] = tree
            if end == len(path):
                break
            start = end + 1
        return tree

    def _load(self, oid: pygit2.Oid) -> pygit2.Object:
        """The object ``oid``, vetted first."""
        check(self.repo, oid)
        return self.repo[oid]

    def read(self, path: str) -> bytes | None:
        """The content of the file at ``path``, or None if there is no file there."""
        obj = self._obj(path)
        if obj is None or obj.type != pygit2.enums.ObjectType.BLOB:
            return None
        return bytes(cast(pygit2.Blob, obj).data)

    def is_dir(self, path: str) -> bool:
        """True when ``path`` is a directory in this tree."""
        obj = self._obj(path)
        return obj is not None and obj.type == pygit2.enums.ObjectType.TREE

    def list_dir(self, path: str) -> list[tuple[str, bool]]:
        """Entries of the directory ``path`` as (name, is_dir); empty if it does not exist."""
        obj = self.tree if path == "" else self._obj(path)
        if obj is None or obj.type != pygit2.enums.ObjectType.TREE:
            return []
        return [
            (str(e.name), e.type == pygit2.enums.ObjectType.TREE) for e in cast(pygit2.Tree, obj)
        ]

    def find_dirs_with(
        self, root: str, entry: str, skip: str, max_bytes: int
    ) -> Iterator[tuple[str, TreeFile]]:
        """Walk ``root``; yield (dir path, :class:`TreeFile` of ``entry``) for every directory
        holding a non-directory entry of that name (its content read as :meth:`file` does).

        Directories named ``skip`` are not descended into.
        """
        top = self._obj(root)
        if top is None or top.type != _TREE:
            return
        stack: list[tuple[str, pygit2.Tree]] = [(root, cast(pygit2.Tree, top))]
        while stack:
            path, tree = stack.pop()
            for e in tree:
                if e.type == _TREE:
                    if e.name != skip:
                        stack.append((f"{path}/{e.name}", cast(pygit2.Tree, self._load(e.id))))
                elif e.name == entry:
                    yield path, self._tree_file(f"{path}/{e.name}", e, max_bytes)

    def _tree_file(self, path: str, obj: pygit2.Object, max_bytes: int) -> TreeFile:
        mode, oid = int(obj.filemode), str(obj.id)
        if obj.type != _BLOB:  # a gitlink: the commit it names is not in this repository
            return TreeFile(path, mode, 0, None, oid)
        size = int(self.repo.odb.read_header(obj.id)[1])  # the size without reading the blob
        if mode != _REGULAR or size > max_bytes:
            return TreeFile(path, mode, size, None, oid)
        return TreeFile(path, mode, size, bytes(cast(pygit2.Blob, self._load(obj.id)).data), oid)

    def file(self, path: str, max_bytes: int) -> TreeFile | None:
        """The non-directory entry at ``path`` (None when there is none), its content read only
        when it is a regular file (mode 100644) of at most ``max_bytes`` bytes. Kept: reading
        the same file of the same snapshot again reads nothing."""
        key = (path, max_bytes)
        if key in self._files:
            return self._files[key]
        obj = self._obj(path)
        found = None if obj is None or obj.type == _TREE else self._tree_file(path, obj, max_bytes)
        if len(self._files) < KEPT_FILES:
            self._files[key] = found
        return found

    def entries_under(self, path: str) -> list[tuple[str, int]]:
        """(path, git file mode) of every non-directory entry at or below ``path`` (gitlinks and
        symbolic links included)."""
        obj = self._obj(path)
        if obj is None:
            return []
        if obj.type != _TREE:
            return [(path, int(obj.filemode))]
        out: list[tuple[str, int]] = []
        stack = [(path, cast(pygit2.Tree, obj))]
        while stack:
            base, tree = stack.pop()
            for e in tree:
                sub = f"{base}/{e.name}"
                if e.type == _TREE:
                    stack.append((sub, cast(pygit2.Tree, self._load(e.id))))
                else:
                    out.append((sub, int(e.filemode)))
        return out

    def files_under(self, path: str) -> list[str]:
        """Every file path at or below ``path`` (the path itself if it is a file)."""
        return [sub for sub, _mode in self.entries_under(path)]

    def blob_entry(self, path: str) -> pygit2.Object | None:
        """The tree entry at ``path`` when it is a blob (a file or a symlink), else None."""
        obj = self._obj(path)
        return obj if obj is not None and obj.type == pygit2.enums.ObjectType.BLOB else None

    def entry(self, path: str) -> tuple[int, bytes] | None:
        """(file mode, content) of the blob at ``path`` (symlinks hold their target), or None."""
        item = self.blob_entry(path)
        if item is None:
            return None
        return int(item.filemode), bytes(cast(pygit2.Blob, self._load(item.id)).data)

    def subtree_id(self, path: str) -> str | None:
        """The id of the directory at ``path``, or None."""
        obj = self._obj(path)
        return str(obj.id) if obj is not None and obj.type == _TREE else None

    def blob_id(self, path: str) -> str | None:
        """The blob id at ``path``, or None."""
        obj = self._obj(path)
        if obj is None or obj.type != pygit2.enums.ObjectType.BLOB:
            return None
        return str(obj.id)


@dataclass(frozen=True)
class CommitInfo:
    """One commit of the branch as :meth:`GitRepo.log` reads it: message, author and committer
    (who made the commit, often the same), no tree."""

    commit_id: str
    message: str
    author_name: str
    author_email: str
    author_time: datetime
    committer_name: str
    committer_email: str
