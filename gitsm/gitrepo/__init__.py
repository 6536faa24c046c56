"""The git layer: the only package that talks to pygit2.

Writes build blobs, nested trees (TreeBuilder, touching only the changed directories) and a commit
directly in the object database, then advance the branch with a compare-and-swap. Writers serialize
on an advisory lock (``<gitdir>/gitsm.lock``) held from reading the tip to moving the ref, which is
what keeps concurrent writers from losing commits; the CAS is the second line against writers that
do not take the lock (plain ``git``). A killed writer can leave ``refs/heads/<branch>.lock`` behind:
the next writer, holding the advisory lock, waits briefly for a live owner and then removes the
stale file. git's ``index.lock`` is taken as git takes it; the next writer removes one a killed
gitsm writer left and never another program's (``indexlock``). Objects and refs are fsynced unless the store was opened without fsync.

When the branch is checked out in a work tree, the touched paths in the index and work tree follow
the commit; a journal (``<gitdir>/gitsm-worktree.json``) written before the ref moves lets the next
writer finish a sync that a crash, a full disk or a read-only work tree interrupted.

Commits carry the author and committer that ``git commit`` would record (``git var``; see
``identity``), and are signed as ``git commit -S`` signs when git's config asks for it (see
``signing``).

Every public method of these classes raises gitsm errors only: pygit2's and the system's errors are
translated once, at this boundary (``failures``): a damaged repository is a RepositoryError, a
full, read-only or failing disk a StorageError; a write that fails before its ref moves says that
nothing was written, and one whose ref moved stands (a checkout that could not follow is finished
by the next command). git's index lock is taken as git takes it (``indexlock``). git subprocesses
run through :func:`gitsm.gitenv.run_git`.

Modules: ``snapshot`` (read-only tree views), ``repo`` (opening, locking, committing), ``identity``
(who a commit is by), ``signing`` (signed commits), ``worktree`` (keeping a checkout in step),
``indexlock`` (git's index lock), ``indexfile`` and ``indexmeta`` (the index changed entry by
entry, and the record of the one gitsm wrote), ``prehash`` (the start of the new index's
checksum hashed, and the spare filled, beside the commit), ``spareindex`` (the previous index file filled again),
``keptindex`` (the index a process wrote, kept in its memory for its next write),
``failures`` (translating errors), ``loose`` (loose objects vetted before libgit2 reads them),
``views`` (other revisions, the index, history).
"""

from __future__ import annotations

from gitsm.gitrepo.repo import LOCK_NAME, STALE_LOCK_WAIT, GitRepo
from gitsm.gitrepo.snapshot import CommitInfo, RefConflict, Snapshot, TreeFile, conflicted_paths
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
    "conflicted_paths",
]
