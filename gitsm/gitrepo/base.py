"""The state every part of :class:`gitsm.gitrepo.GitRepo` shares."""

from __future__ import annotations

from pathlib import Path

import pygit2

# libgit2 caches no tree larger than 4 KiB by default, so every path lookup through a big folder
# re-reads and re-parses it (~2 ms for a 10,000-entry folder, ~20 us once cached).
TREE_CACHE_LIMIT = 16 << 20


class RepoBase:
    """A pygit2 repository bound to one branch of a store."""

    def __init__(self, repo: pygit2.Repository, branch: str, *, fsync: bool = True) -> None:
        self.repo = repo
        self.branch = branch
        self.ref = f"refs/heads/{branch}"
        self.fsync = fsync
        self.gitdir = Path(repo.path)
        self.workdir = Path(repo.workdir) if repo.workdir else None
        self.auto_pack = True
        pygit2.settings.cache_object_limit(pygit2.enums.ObjectType.TREE, TREE_CACHE_LIMIT)
