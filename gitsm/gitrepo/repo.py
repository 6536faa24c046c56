"""Opening stores, the write lock, and the commit path (trees, commits, ref compare-and-swap)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pygit2

from gitsm.errors import GitsmError, LocalChangesError, StoreError, storage_error
from gitsm.gitenv import run_git, start_git
from gitsm.gitrepo import autogc, identity, signing
from gitsm.gitrepo.failures import (
    errno_of,
    fanout_vanished,
    filesystem_errno,
    translate,
    translating,
)
from gitsm.gitrepo.graph import Person, RepoGraph
from gitsm.gitrepo.identity import FALLBACK_EMAIL, FALLBACK_NAME, identities
from gitsm.gitrepo.indexlock import IndexLock, clear_own
from gitsm.gitrepo.remote import RepoRemote
from gitsm.gitrepo.snapshot import RefConflict, Snapshot
from gitsm.gitrepo.views import RepoViews
from gitsm.gitrepo.worktree import JOURNAL_NAME, WorktreeSync

LOCK_NAME = "gitsm.lock"
STALE_LOCK_WAIT = 1.0
NOT_WRITTEN = "nothing was written"
OBJECT_WRITE_TRIES = 3
"""Attempts at a commit's objects when a ``git gc`` beside the write removed the directory a new
object was moving into (each attempt is a few milliseconds; the race needs the gc's timing)."""
NOT_MOVED = "the branch was not moved (run the command again to finish)"
log = logging.getLogger("gitsm.worktree")


@translating
class GitRepo(WorktreeSync, RepoViews, RepoGraph, RepoRemote):
    """A git repository used as a store, bound to one branch."""

    @classmethod
    def open(cls, path: str | Path, *, branch: str | None = None, fsync: bool = True) -> GitRepo:
        """Open the repository at ``path`` (a work tree or a bare repository)."""
        try:
            # libgit2 reads the fsync switch when a repository's ref and object backends are
            # created (on first use), not when it writes: set it before opening, or the branch
            # ref would be renamed into place without an fsync.
            pygit2.settings.enable_fsync_gitdir(fsync)
            repo = pygit2.Repository(str(path), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
        except pygit2.GitError:
            raise StoreError(
                f"No git repository at {path}. Run 'gitsm init {path}' to create a store."
            ) from None
        return cls(repo, branch or cls._head_branch(repo), fsync=fsync)

    @classmethod
    def init(
        cls, path: str | Path, *, bare: bool = False, branch: str = "main", fsync: bool = True
    ) -> GitRepo:
        """Open the repository at ``path``, creating it (``git init``) when there is none."""
        try:
            return cls.open(path, fsync=fsync)
        except StoreError:
            pass
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
            pygit2.init_repository(str(path), bare=bare, initial_head=branch)
        except (OSError, pygit2.GitError) as exc:
            error = translate(exc, Path(path), "creating the repository", writing=True,
                              advice=NOT_WRITTEN)  # fmt: skip
            if error is None:
                raise
            raise error from None
        return cls.open(path, branch=branch, fsync=fsync)

    @staticmethod
    def _head_branch(repo: pygit2.Repository) -> str:
        configured = repo.config.get_multivar("gitsm.branch")
        for value in configured:
            return str(value)
        target = repo.references["HEAD"].target
        if isinstance(target, str) and target.startswith("refs/heads/"):
            return target[len("refs/heads/") :]
        return "main"

    def tip(self) -> Snapshot:
        """A snapshot of the branch's current commit (empty if the branch has none yet)."""
        ref = self.repo.references.get(self.ref)
        if ref is None:
            return Snapshot(self.repo, None, None, None)
        return self.snapshot_of(str(ref.target))

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the store's advisory write lock (blocks until it is free).

        Raises MergeInProgressError, before anything is touched, while a merge, rebase,
        cherry-pick or revert is in progress in the checkout or its index has conflicts; a
        StorageError (ReadOnlyStore, ...) when the lock file cannot be created; and what finishing
        an interrupted work-tree sync raised (GitLockHeld, StorageFull, ...), nothing written.
        """
        path = self.gitdir / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise storage_error(exc, f"taking gitsm's write lock {path}", NOT_WRITTEN) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._check_no_operation()
            self._recover()
            yield
        finally:
            os.close(fd)

    def _clear_stale(self, lock: Path) -> None:
        """Remove ``lock`` if it outlives a short wait unchanged (its owner is gone). The wait
        starts at a millisecond and doubles up to 20 ms: a live owner holds a ref's lock
        briefly (``git gc``'s ``pack-refs`` takes the branch's while writes go on), and a
        first wait of 20 ms cost each write that met one 20 ms."""
        deadline = time.monotonic() + STALE_LOCK_WAIT
        try:
            seen = lock.stat().st_mtime_ns
        except FileNotFoundError:
            return
        pause = 0.001
        while time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
            try:
                now = lock.stat().st_mtime_ns
            except FileNotFoundError:
                return
            if now != seen:
                seen, deadline = now, time.monotonic() + STALE_LOCK_WAIT
        lock.unlink(missing_ok=True)

    def _recover(self) -> None:
        """Under the write lock: clear stale locks a killed writer left (the branch's ref lock;
        gitsm's own index lock, never another program's) and finish an interrupted work-tree sync.
        """
        self._clear_stale(self.gitdir / f"{self.ref}.lock")
        journal = self.gitdir / JOURNAL_NAME
        if not self._syncs_worktree():
            journal.unlink(missing_ok=True)
            return
        clear_own(self.gitdir)
        if not journal.exists():
            return
        try:
            paths = [str(p) for p in json.loads(journal.read_text())["paths"]]
        except (OSError, ValueError, KeyError, TypeError):
            paths = []
        outcome = (
            f"an earlier write landed on branch {self.branch}, but the work tree of "
            f"{self.workdir} is not up to date with it yet; this command wrote nothing"
        )
        with self._index_lock(outcome) as lock:
            try:
                self._sync_worktree(self.tip(), paths, lock)
            except Exception as exc:
                doing = "bringing the work tree up to date"
                error = translate(exc, self.workdir or self.gitdir, doing, advice=outcome)
                if error is None:
                    raise
                raise error from None
        journal.unlink(missing_ok=True)
        self.pending = None

    def finish_pending(self) -> None:
        """Finish a work-tree sync that a write which landed left undone (its journal is there),
        as the next writer would; a reader calls this. When it cannot be finished now, a warning
        on the ``gitsm.worktree`` logger says why, and nothing is raised."""
        if not (self.gitdir / JOURNAL_NAME).exists() or not self._syncs_worktree():
            return
        try:
            with self.write_lock():
                pass
        except GitsmError as exc:
            self.pending = exc.message
            log.warning("the work tree is behind branch %s: %s", self.branch, exc.message)

    def committer(self, when: datetime) -> Person:
        """Who commits a write made at ``when`` (the identity gitsm's own commits get)."""
        sig = self._signatures(when)[1]
        return Person(str(sig.name), str(sig.email), int(sig.time), int(sig.offset))

    def _config_identity(self) -> tuple[str, str]:
        """user.name/user.email as libgit2 reads the config, else ``gitsm <gitsm@localhost>``."""
        try:
            return str(self.repo.config["user.name"]), str(self.repo.config["user.email"])
        except KeyError:
            return FALLBACK_NAME, FALLBACK_EMAIL

    def prepare_commit(self) -> None:
        """Start asking git what a commit here needs from it (the identities and the signing
        config), so that its answers come while the caller prepares the change: call it before
        :meth:`write_lock` and the work under it."""
        key = identity.cache_key(self.gitdir)  # what both answers depend on, looked at once
        identity.prefetch(self.gitdir, key)
        signing.prefetch(self.gitdir, key)

    def _signatures(self, when: datetime) -> tuple[pygit2.Signature, pygit2.Signature]:
        """(author, committer) of a commit made at ``when``, as ``git commit`` would record them."""
        signing.prefetch(self.gitdir)  # git's signing config, asked meanwhile
        author, committer = identities(self.gitdir, self._config_identity)
        return author.signature(when), committer.signature(when)

    def commit(
        self, parent: Snapshot, changes: Mapping[str, bytes | None], message: str, when: datetime
    ) -> Snapshot:
        """Commit ``changes`` (path -> bytes, or None to delete a file or directory) on ``parent``.

        Must be called under :meth:`write_lock`. Raises RefConflict if the branch moved, and,
        changing nothing: LocalChangesError if checked-out paths have local edits, GitLockHeld if
        another program holds git's index lock, SigningError if git's config asks for signed
        commits and signing failed, a StorageError (StorageFull, ReadOnlyStore) or
        RepositoryError when the objects, the journal or the ref cannot be written. Once the ref
        has moved the write stands: a checkout that cannot follow is left for the next command
        (:attr:`pending`, a warning), never raised.
        """
        pygit2.settings.enable_fsync_gitdir(self.fsync)
        if not self._syncs_worktree():
            oid = self._new_commit(parent, changes, message, when)
            new = self._land(parent, oid, message)
            self._maybe_pack()
            return new
        with self._index_lock() as lock:
            touched = self._touched(parent, changes)
            self._check_clean(parent, touched, lock)
            self._foresee(changes, touched, lock)
            oid = self._new_commit(parent, changes, message, when)
            self._write_journal(touched)
            new = self._land(parent, oid, message)  # the journal goes when the ref did not move

            def sync() -> None:
                self._sync_worktree(new, touched, lock)

            self._bring_along(parent, new, touched, lock, sync)
        self._maybe_pack()
        return new

    def _new_commit(
        self, parent: Snapshot, changes: Mapping[str, bytes | None], message: str, when: datetime
    ) -> str:
        """Write the objects of a commit of ``changes`` on ``parent`` (no ref moves); its id.

        A write that a ``git gc`` beside it made fail (:func:`.failures.fanout_vanished`) is made
        again, up to :data:`OBJECT_WRITE_TRIES` times."""
        for attempt in range(1, OBJECT_WRITE_TRIES + 1):
            try:
                tree_id = self._build(parent.tree, changes)
                if tree_id is None:
                    tree_id = str(self.repo.TreeBuilder().write())
                author, committer = self._signatures(when)
                parents = [parent.commit_id] if parent.commit_id else []
                oid = self._create_commit(author, committer, message, tree_id, parents)
                if oid not in self.repo:  # libgit2 was seen to return the id of a commit that a
                    code = filesystem_errno(self.gitdir) or errno.EIO  # full disk kept writing
                    raise OSError(code, "the commit object was not written")
                return oid
            except Exception as exc:
                if attempt < OBJECT_WRITE_TRIES and fanout_vanished(exc):
                    continue
                error = translate(exc, self.gitdir, "writing the commit", writing=True,
                                  advice=NOT_WRITTEN)  # fmt: skip
                if error is None or error is exc:
                    raise
                raise error from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    def advance(self, old: Snapshot, new: str, message: str, *, checked: bool = False) -> Snapshot:
        """Move the branch from ``old`` to the commit ``new`` (any commit: sync's result).

        Must be called under :meth:`write_lock`. A checked-out work tree and index follow every
        path that differs between the two commits, as ``git merge --ff-only`` brings them (``git
        read-tree -m -u`` on a private copy of the index, under git's index lock: C speed for the
        thousands of files a sync can bring); local edits in the way raise LocalChangesError
        before anything moves (``checked``: the caller already ran :meth:`check_advance`), as
        GitLockHeld does when another program holds the index lock. Raises RefConflict if the
        branch moved. Once the ref has moved, a checkout that cannot follow is left for the next
        command, as in :meth:`commit`.
        """
        if not self._syncs_worktree():
            self._land(old, new, message, outcome=NOT_MOVED)
            self._maybe_pack()
            return self.tip()
        with self._index_lock(NOT_MOVED) as lock:
            if not checked:
                self._check_advance(old, new, lock)
            touched = self.paths_to_update(old, new) or []
            self._write_journal(touched)
            tip = self._land(old, new, message, outcome=NOT_MOVED)  # (the journal too)

            def sync() -> None:
                if old.commit_id is not None and self._read_tree(
                    old.commit_id, new, lock, dry_run=False
                ):
                    lock.commit()
                else:  # what git could not do, the slow way
                    self._sync_worktree(tip, touched, lock)

            self._bring_along(old, tip, touched, lock, sync)
        self._maybe_pack()
        return self.tip()

    def check_advance(self, old: Snapshot, new: str) -> None:
        """Raise LocalChangesError when local edits in the work tree or index stand in the way of
        moving the branch from ``old`` to ``new`` (nothing when the branch is not checked out),
        GitLockHeld when another program holds git's index lock."""
        if not self._syncs_worktree():
            return
        with self._index_lock(NOT_MOVED) as lock:
            self._check_advance(old, new, lock)

    def _check_advance(self, old: Snapshot, new: str, lock: IndexLock) -> None:
        if old.commit_id is not None and self._read_tree(old.commit_id, new, lock, dry_run=True):
            return
        touched = self.paths_to_update(old, new) or []
        self._check_clean(old, touched)  # names the paths; git's own refusal if it finds none
        if old.commit_id is None:  # an unborn branch: git has nothing to compare with
            return
        raise LocalChangesError(
            "The work tree or index has local changes or untracked files that this sync must "
            "overwrite (git read-tree refused). Commit, stash or remove them and try again; "
            "nothing was written."
        )

    def paths_to_update(self, old: Snapshot, new: str) -> list[str] | None:
        """The checked-out paths that moving the branch from ``old`` to ``new`` changes (None when
        the branch is not checked out)."""
        if not self._syncs_worktree():
            return None
        gitlink = int(pygit2.enums.FileMode.COMMIT)  # submodules are left to git
        changes = self.changed_files(old.commit_id, new)
        return sorted({c.path for c in changes if gitlink not in (c.old_mode, c.new_mode)})

    def _land(
        self, parent: Snapshot, oid: str, message: str, *, outcome: str = NOT_WRITTEN
    ) -> Snapshot:
        """Move the branch from ``parent`` to ``oid`` (the write lands); the new tip. When the ref
        did not move (RefConflict, a StorageError), a journal written for this move is removed:
        there is nothing for the next command to finish."""
        try:
            self._move_ref(parent, oid, message, outcome)
        except (GitsmError, RefConflict):
            with contextlib.suppress(OSError):
                (self.gitdir / JOURNAL_NAME).unlink(missing_ok=True)
            raise
        return self.tip()

    def _move_ref(self, parent: Snapshot, oid: str, message: str, outcome: str) -> None:
        """Compare-and-swap the branch from ``parent`` to ``oid``. RefConflict when it moved (or a
        live git holds its lock), a StorageError when it cannot be written; either way it did not
        move. Landed is landed: an error reported after the ref moved (the reflog) is ignored."""
        reflog = message.splitlines()[0] if message else "gitsm"
        try:
            if parent.commit_id is None:
                self.repo.create_reference_direct(self.ref, oid, False, message=reflog)
                return
            ref = self.repo.references.get(self.ref)
            if ref is None or str(ref.target) != parent.commit_id:
                raise RefConflict(self.ref)
            ref.set_target(oid, reflog)
        except (pygit2.GitError, ValueError, OSError) as exc:
            if self.ref_target(self.ref) == oid:
                return
            error = translate(exc, self.gitdir, f"moving branch {self.branch}", advice=outcome)
            if errno_of(str(exc)) is not None and error is not None:
                raise error from None  # a full or read-only disk: retrying cannot help
            if "lock" in str(exc).lower():
                self._clear_stale(self.gitdir / f"{self.ref}.lock")
            raise RefConflict(self.ref) from None

    # -- maintenance ---------------------------------------------------------------------------

    def _maybe_pack(self) -> None:
        """Start ``git gc --auto`` in the background when git would (:mod:`.autogc`): loose
        objects over ``gc.auto`` and no gc running. Runs after a write landed: it never fails
        the write."""
        if not self.auto_pack or time.monotonic() < self._gc_quiet_until:
            return
        config, auto = self.repo.config, autogc.DEFAULT_AUTO
        with contextlib.suppress(pygit2.GitError, ValueError):
            auto = config.get_int("gc.auto") if "gc.auto" in config else auto
        common = self.common_dir
        if not autogc.due(common, auto) or autogc.running(common) or shutil.which("git") is None:
            return
        with contextlib.suppress(OSError):
            start_git(["gc", "--auto", "--quiet"], git_dir=self.gitdir, capture=False, detach=True)
            self._gc_quiet_until = time.monotonic() + autogc.SETTLE

    def pack(self) -> None:
        """Pack the repository now (``git gc``), waiting for it to finish."""
        run_git(["gc", "--quiet"], git_dir=self.gitdir, check=True)
