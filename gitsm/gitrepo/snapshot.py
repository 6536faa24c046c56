"""Read-only views of trees: :class:`Snapshot` and :class:`CommitInfo`, and shared helpers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import pygit2

from gitsm.gitenv import REDIRECTING_GIT_VARS, clean_git_env, git_cli_env

__all__ = ["REDIRECTING_GIT_VARS", "CommitInfo", "RefConflict", "Snapshot", "clean_git_env",
           "conflicted_paths", "git_cli_env"]  # fmt: skip


class RefConflict(Exception):
    """The branch moved between reading the tip and updating it; retry the operation."""


def conflicted_paths(index: pygit2.Index) -> list[str]:
    """The paths that have unmerged (conflict) entries in ``index``, sorted."""
    conflicts = index.conflicts
    if conflicts is None:
        return []
    return sorted({e.path for stages in conflicts for e in stages if e is not None})


@dataclass(frozen=True)
class Snapshot:
    """A read-only view of the tree at one commit of the store's branch."""

    repo: pygit2.Repository
    commit_id: str | None
    tree: pygit2.Tree | None
    commit_time: datetime | None

    def _obj(self, path: str) -> pygit2.Object | None:
        if self.tree is None:
            return None
        try:
            return self.tree[path]
        except KeyError:
            return None

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

    def find_dirs_with(self, root: str, entry: str, skip: str) -> Iterator[tuple[str, bytes]]:
        """Walk ``root``; yield (dir path, content of ``entry``) for every dir holding that file.

        Directories named ``skip`` are not descended into.
        """
        top = self._obj(root)
        if top is None or top.type != pygit2.enums.ObjectType.TREE:
            return
        stack: list[tuple[str, pygit2.Tree]] = [(root, cast(pygit2.Tree, top))]
        while stack:
            path, tree = stack.pop()
            for e in tree:
                if e.type == pygit2.enums.ObjectType.TREE:
                    if e.name != skip:
                        stack.append((f"{path}/{e.name}", cast(pygit2.Tree, self.repo[e.id])))
                elif e.name == entry:
                    yield path, bytes(cast(pygit2.Blob, self.repo[e.id]).data)

    def files_under(self, path: str) -> list[str]:
        """Every file path at or below ``path`` (the path itself if it is a file)."""
        obj = self._obj(path)
        if obj is None:
            return []
        if obj.type != pygit2.enums.ObjectType.TREE:
            return [path]
        out: list[str] = []
        stack = [(path, cast(pygit2.Tree, obj))]
        while stack:
            base, tree = stack.pop()
            for e in tree:
                sub = f"{base}/{e.name}"
                if e.type == pygit2.enums.ObjectType.TREE:
                    stack.append((sub, cast(pygit2.Tree, self.repo[e.id])))
                else:
                    out.append(sub)
        return out

    def blob_entry(self, path: str) -> pygit2.Object | None:
        """The tree entry at ``path`` when it is a blob (a file or a symlink), else None."""
        obj = self._obj(path)
        return obj if obj is not None and obj.type == pygit2.enums.ObjectType.BLOB else None

    def entry(self, path: str) -> tuple[int, bytes] | None:
        """(file mode, content) of the blob at ``path`` (symlinks hold their target), or None."""
        item = self.blob_entry(path)
        if item is None:
            return None
        return int(item.filemode), bytes(cast(pygit2.Blob, self.repo[item.id]).data)

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
