"""The state every part of :class:`gitsm.gitrepo.GitRepo` shares, and writing commit objects."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pygit2

from gitsm.gitrepo import loose, signing
from gitsm.gitrepo.signing import CONFIG_KEYS, ConfigEntries, SigningConfig

if TYPE_CHECKING:
    from gitsm.gitrepo.snapshot import Snapshot

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
        self.common_dir = loose.common_dir(self.gitdir)
        """The git dir all work trees share (the objects, gc's lock, gitsm's caches)."""
        self.auto_pack = True
        self._gc_quiet_until = 0.0  # GitRepo._maybe_pack starts no gc before this monotonic time
        self._last_snapshot: Snapshot | None = None  # see RepoGraph.snapshot_of
        pygit2.settings.cache_object_limit(pygit2.enums.ObjectType.TREE, TREE_CACHE_LIMIT)
        loose.attach(repo, self.common_dir)  # loose objects are vetted before libgit2 reads them

    def private_dir(self, name: str) -> Path:
        """``<git dir>/gitsm/<name>``: where gitsm keeps caches of its own (never committed, never
        in the work tree), in the git dir that every work tree of the repository shares. Not
        created here."""
        return self.common_dir / "gitsm" / name

    def _libgit2_signing_entries(self) -> ConfigEntries:
        """The signing keys as libgit2 reads the config (only when git is not installed)."""
        return [
            (str(entry.name).lower(), None if entry.value is None else str(entry.value))
            for entry in self.repo.config
            if str(entry.name).lower() in CONFIG_KEYS
        ]

    def signing_config(self) -> SigningConfig:
        """What git's config says about signing commits here (asked of git once per process and
        config; see :mod:`gitsm.gitrepo.signing`)."""
        return signing.signing_config(self.gitdir, self.workdir, self._libgit2_signing_entries)

    def _create_commit(
        self,
        author: pygit2.Signature,
        committer: pygit2.Signature,
        message: str,
        tree_id: str,
        parents: list[str],
    ) -> str:
        """Write a commit object, signed as ``git commit -S`` signs when git's config asks for it
        (``commit.gpgsign``; see :mod:`gitsm.gitrepo.signing`). Returns its id.

        Raises SigningError, with no commit written, when signing was asked for and failed.
        """
        config = self.signing_config()
        if not config.sign:
            return str(self.repo.create_commit(None, author, committer, message, tree_id, parents))
        ids: list[str | pygit2.Oid] = list(parents)
        # the text create_commit would write (pygit2's stub says Oid; it returns the text)
        content = str(self.repo.create_commit_string(author, committer, message, tree_id, ids))
        who = f"{committer.name} <{committer.email}>"
        signature = signing.sign_commit(
            config, content.encode("utf-8"), who, self.workdir or self.gitdir
        )
        return str(self.repo.create_commit_with_signature(content, signature))
