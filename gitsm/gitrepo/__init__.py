"""The git layer: the only package that talks to pygit2.

Writes build blobs, nested trees (TreeBuilder, touching only the changed directories) and a commit
directly in the object database, then advance the branch with a compare-and-swap. Writers serialize
on an advisory lock (``<gitdir>/gitsm.lock``) held from reading the tip to moving the ref, which is
what keeps concurrent writers from losing commits; the CAS is the second line against writers that
do not take the lock (plain ``git``). A killed writer can leave ``refs/heads/<branch>.lock`` or
``index.lock`` behind: the next writer, holding the advisory lock, waits briefly for a live owner and
then removes the stale file. Objects and refs are fsynced unless the store was opened without fsync.

When the branch is checked out in a work tree, the touched paths in the index and work tree follow
the commit; a journal (``<gitdir>/gitsm-worktree.json``) written before the ref moves lets the next
writer finish a sync that a crash interrupted.

Commits carry the author and committer that ``git commit`` would record (``git var``; see
``identity``), and are signed as ``git commit -S`` signs when git's config asks for it (see
``signing``).

Modules: ``snapshot`` (read-only tree views, environments for git subprocesses), ``repo`` (opening,
locking, committing), ``identity`` (who a commit is by), ``signing`` (signed commits),
``worktree`` (keeping a checkout in step), ``views`` (other revisions, the index, history).
"""

from __future__ import annotations

from gitsm.gitrepo.repo import LOCK_NAME, STALE_LOCK_WAIT, GitRepo
from gitsm.gitrepo.snapshot import (
    CommitInfo,
    RefConflict,
    Snapshot,
    TreeFile,
    clean_git_env,
    conflicted_paths,
    git_cli_env,
)
from gitsm.gitrepo.views import GITLINK_MODE
from gitsm.gitrepo.worktree import JOURNAL_NAME

__all__ = [
    "GITLINK_MODE",
    "JOURNAL_NAME",
    "LOCK_NAME",
    "STALE_LOCK_WAIT",
    "CommitInfo",
    "GitRepo",
    "RefConflict",
    "Snapshot",
    "TreeFile",
    "clean_git_env",
    "conflicted_paths",
    "git_cli_env",
]
