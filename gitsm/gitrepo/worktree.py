"""Keeping a checked-out work tree and index in step with the commits gitsm makes.

No write starts while a merge, rebase, cherry-pick or revert is in progress in the checkout, or
while its index holds unmerged (conflict) entries (MergeInProgressError, nothing written). A write
that must bring the checkout along takes git's index lock first (:mod:`.indexlock`; a lock held by
another program fails it, nothing written), then checks the touched paths clean against the old
tip (local edits abort with LocalChangesError, nothing written). A journal written before the ref
moves lists them, so that the next writer can finish a sync that a crash, a full disk or a
read-only work tree interrupted; work-tree files are written to a temporary name and renamed, so
none is ever left half-written, and the new index goes through the lock.

When bringing the checkout along fails after the ref moved, the write has landed: the index is left
as it was (the lock is given up), nothing half-written stays, the journal stays, and a warning on
the ``gitsm.worktree`` logger (and :attr:`WorktreeSync.pending`) says what landed and what is
left; the next gitsm command finishes it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

import pygit2

from gitsm.errors import (
    GitsmError,
    LocalChangesError,
    MergeInProgressError,
    StoreError,
    storage_error,
)
from gitsm.gitenv import run_git
from gitsm.gitrepo import indexfile, indexmeta, keptindex, splitindex
from gitsm.gitrepo.base import RepoBase
from gitsm.gitrepo.failures import errno_of
from gitsm.gitrepo.indexlock import Image, IndexLock
from gitsm.gitrepo.snapshot import Snapshot, conflicted_paths

JOURNAL_NAME = "gitsm-worktree.json"
INDEX_LOCK_WAIT = 1.0
"""How long a write waits for another program's ``index.lock`` to go (a git command that is
running finishes in milliseconds; one waiting for its editor holds it for minutes)."""
log = logging.getLogger("gitsm.worktree")
_LINK = int(pygit2.enums.FileMode.LINK)
_EXECUTABLE = int(pygit2.enums.FileMode.BLOB_EXECUTABLE)

# What git leaves in a worktree's own git dir while an operation waits for the user:
# (file or directory, the operation, how to finish it, how to abort it). A rebase comes first: one
# that replays a merge (git rebase --rebase-merges) can stop with MERGE_HEAD present too, and then
# the rebase is what to finish or abort.
_IN_PROGRESS = (
    ("rebase-merge", "A rebase", "git rebase --continue", "git rebase --abort"),
    ("rebase-apply", "A rebase", "git rebase --continue", "git rebase --abort"),
    ("CHERRY_PICK_HEAD", "A cherry-pick", "git cherry-pick --continue", "git cherry-pick --abort"),
    ("REVERT_HEAD", "A revert", "git revert --continue", "git revert --abort"),
    ("MERGE_HEAD", "A merge", "git commit", "git merge --abort"),
)


def _lmode(path: str) -> int | None:
    """The ``lstat`` mode of ``path`` (a symlink is not followed), or None when nothing is there."""
    try:
        return os.lstat(path).st_mode
    except OSError:
        return None


class WorktreeSync(RepoBase):
    """Work-tree and index synchronisation for a checked-out store branch."""

    def _syncs_worktree(self) -> bool:
        if self.workdir is None:
            return False
        target = self.repo.references["HEAD"].target
        return isinstance(target, str) and target == self.ref

    @staticmethod
    def _touched(parent: Snapshot, changes: Mapping[str, bytes | None]) -> list[str]:
        out: list[str] = []
        for path, data in changes.items():
            if data is None:
                out.extend(parent.files_under(path))
            else:
                out.append(path)
        return sorted(set(out))

    def _check_no_operation(self) -> None:
        """Refuse to write while git waits for the user to finish an operation in the checkout.

        The markers live in the worktree's own git dir (``repo.path``, not the common one), which
        is where git puts them for linked worktrees too. A bare repository has none of them.
        """
        if self.workdir is None:
            return
        where = self.workdir
        for marker, what, finish, abort in _IN_PROGRESS:
            found = self.gitdir / marker
            if not found.exists():
                continue
            if marker == "rebase-apply" and (found / "applying").exists():
                what, finish, abort = "A git am", "git am --continue", "git am --abort"
            shown = marker + ("/" if found.is_dir() else "")
            raise MergeInProgressError(
                f"{what} is in progress in {where} ({shown} exists). Finish it (resolve the "
                f"conflicts, git add, {finish}) or abort it ({abort}), then run this again; "
                "nothing was written."
            )
        if indexmeta.known_clean(self.gitdir):  # the index gitsm wrote last: no conflicts
            return
        image = self._index_image()
        if image is not None and not image.conflicted:
            return
        if isinstance(image, splitindex.SplitImage):  # libgit2 cannot read a split index
            unmerged = image.unmerged_paths()
        else:
            index = self.repo.index
            index.read(False)
            unmerged = conflicted_paths(index)
        if unmerged:
            shown = ", ".join(unmerged[:5]) + (" ..." if len(unmerged) > 5 else "")
            raise MergeInProgressError(
                f"The index of {where} has unmerged paths (conflicts that a merge, rebase, stash "
                f"or checkout left): {shown}. Resolve them (edit the files, then git add them) or "
                "take HEAD's version back (git restore --staged --worktree -- <path>), then run "
                "this again; nothing was written."
            )

    def _index_image(self) -> Image | None:
        """The index file as :mod:`.indexfile` (or, split, :mod:`.splitindex`) changes it, or
        None when libgit2 must (a form those modules leave alone, or a file that cannot be read:
        libgit2 says why)."""
        try:
            image = indexfile.load(self.gitdir)
        except (indexfile.Unsupported, OSError):
            return None
        try:
            return splitindex.resolve(self.gitdir, image, fsync=self.fsync)
        except (indexfile.Unsupported, OSError) as exc:  # and libgit2 reads no split index
            raise StoreError(
                f"The index of {self.workdir} is a split index (core.splitIndex) that cannot be "
                f"read: {exc}. Rebuild it from HEAD (git read-tree HEAD, then git status to see "
                "what is left to stage again) and run this again; nothing was written."
            ) from None

    def _staged(
        self, paths: list[str], lock: IndexLock | None
    ) -> dict[str, tuple[str | None, bool]]:
        """path -> (its stage-0 blob id in the index or None, whether it has conflict entries)."""
        image = lock.image if lock is not None else None
        image = image or self._index_image()
        if lock is not None:
            lock.image = image
        if image is not None:
            out = {}
            for path in paths:
                stages = image.stages(path)
                out[path] = stages.get(0), any(stage != 0 for stage in stages)
            return out
        index = self.repo.index
        index.read(False)
        unmerged = set(conflicted_paths(index))
        found: dict[str, tuple[str | None, bool]] = {}
        for path in paths:
            try:
                staged: str | None = str(index[path].id)
            except KeyError:  # not in the index, or only as conflict stages (no stage 0 entry)
                staged = None
            found[path] = staged, path in unmerged
        return found

    def _check_clean(
        self, parent: Snapshot, paths: list[str], lock: IndexLock | None = None
    ) -> None:
        assert self.workdir is not None
        dirty = []
        for path, (staged, unmerged) in self._staged(paths, lock).items():
            expected = parent.blob_id(path)
            file = self.workdir / path
            on_disk = str(pygit2.hashfile(str(file))) if file.is_file() else None
            if unmerged or staged != expected or on_disk != expected or self._blocked(path):
                dirty.append(path)
        if dirty:
            shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
            raise LocalChangesError(
                f"The work tree or index has local changes to {shown}, which this operation must "
                "change. Commit, stash or restore them (git restore --staged --worktree <path>) "
                "and try again; nothing was written."
            )

    @staticmethod
    def _foresee(changes: Mapping[str, bytes | None], touched: list[str], lock: IndexLock) -> None:
        """Start hashing the index this write will patch, and filling the spare with what it
        keeps of the old one (:mod:`.prehash`): each touched path keeps one entry when the change
        writes it, none when it goes."""
        if isinstance(lock.image, indexfile.IndexImage):
            present = {path: changes.get(path) is not None for path in touched}
            lock.prehash = lock.image.prehash(present, lock.early_spare())

    def _blocked(self, path: str) -> bool:
        """True when a symlink, or a file where a directory belongs (or the reverse), is in the way."""
        assert self.workdir is not None
        current = str(self.workdir)
        *dirs, last = path.split("/")
        for part in dirs:
            current = os.path.join(current, part)
            mode = _lmode(current)
            if mode is not None and not stat.S_ISDIR(mode):  # a symlink or a file in the way
                return True
        mode = _lmode(os.path.join(current, last))
        return mode is not None and not stat.S_ISREG(mode)

    def _read_tree(self, old: str, new: str, lock: IndexLock, *, dry_run: bool) -> bool:
        """``git read-tree -m -u old new`` on the lock's working index: bring it and the work tree
        from ``old`` to ``new`` as a fast-forward does, keeping local changes to other paths; with
        ``dry_run``, refresh the index's file stat data (as ``git merge`` does first) and only
        check that it would succeed. False when git refused (or is missing)."""
        assert self.workdir is not None
        if dry_run or not lock.work.exists():
            lock.working_index()  # a fresh copy; the run proper uses the one the check refreshed
        steps = [["update-index", "-q", "--refresh"]] if dry_run else []  # as git merge does
        steps.append(["read-tree", "-m", "-u", *(["-n"] if dry_run else []), old, new])
        for step in steps:  # a refresh reports modified files by its status: read-tree decides
            try:
                done = run_git(step, git_dir=self.gitdir, work_tree=self.workdir,
                               index_file=lock.work, cwd=self.workdir)  # fmt: skip
            except OSError:
                return False
        return done.returncode == 0

    def _index_lock(self, outcome: str = "nothing was written") -> IndexLock:
        """git's index lock of this checkout (:mod:`.indexlock`); GitLockHeld or a StorageError,
        ending with ``outcome``, when it cannot be taken."""
        assert self.workdir is not None
        try:
            return IndexLock.acquire(
                self.gitdir, self.workdir, fsync=self.fsync, wait=INDEX_LOCK_WAIT, outcome=outcome
            )
        except OSError as exc:
            raise storage_error(exc, f"taking git's index lock in {self.gitdir}", outcome) from None

    def _write_journal(self, paths: list[str]) -> None:
        """Name the paths a sync must bring along, before the ref moves (a StorageError, nothing
        left behind, when it cannot be written)."""
        tmp = self.gitdir / (JOURNAL_NAME + ".tmp")
        try:
            tmp.write_text(json.dumps({"paths": paths}))
            os.replace(tmp, self.gitdir / JOURNAL_NAME)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise storage_error(exc, f"writing the journal {tmp}", "nothing was written") from None

    def _sync_worktree(self, snap: Snapshot, paths: list[str], lock: IndexLock) -> None:
        """Bring ``paths`` of the work tree and the index to ``snap``; the index is written through
        ``lock`` and committed. On failure no temporary file stays and the index is unchanged.

        The index changes entry by entry (:mod:`.indexfile`); libgit2 rewrites it when it is in a
        form that module leaves alone."""
        assert self.workdir is not None
        lock.image = lock.image or self._index_image()
        if lock.image is not None:
            self._patch_index(snap, paths, lock, lock.image)
            return
        index = self.repo.index
        index.read(False)
        try:
            work = lock.working_index()
            for path in paths:
                file = self.workdir / path
                entry = snap.entry(path)
                if entry is None:
                    if file.is_symlink() or file.is_file():
                        file.unlink()
                    if path in work:
                        work.remove(path)
                    self._prune_dirs(file.parent)
                    continue
                self._place(file, *entry)
                index.add(path)
                lock.copy_entry(index, work, path)
            work.write()
            lock.commit()
        finally:
            index.read(True)  # drop what was staged in memory only; read what is on disk

    def _patch_index(self, snap: Snapshot, paths: list[str], lock: IndexLock, image: Image) -> None:
        """:meth:`_sync_worktree` through :mod:`.indexfile`: place the files, then write the old
        index with only their entries changed."""
        assert self.workdir is not None
        changes: dict[str, indexfile.NewEntry | None] = {}
        for path in paths:
            file = self.workdir / path
            item = snap.blob_entry(path)
            if item is None:
                if file.is_symlink() or file.is_file():
                    file.unlink()
                changes[path] = None
                self._prune_dirs(file.parent)
                continue
            mode = int(item.filemode)
            self._place(file, mode, snap.read(path) or b"")
            changes[path] = indexfile.NewEntry(path, mode, str(item.id), os.lstat(file))
        if isinstance(image, indexfile.IndexImage):
            new = image.patched(changes, self.workdir, lock.prehash)
        else:
            new = image.patched(changes, self.workdir)
        lock.commit_data(new.parts, early=new.spare, written=new.early)
        lock.image = None
        record = new.save_meta(self.gitdir)
        if isinstance(image, indexfile.IndexImage) and image.link is None:
            keptindex.keep(self.gitdir, image.data, image.offsets()[-1], new.parts, new.edits,
                           record)  # fmt: skip

    @staticmethod
    def _place(file: Path, mode: int, data: bytes) -> None:
        """Write ``file`` through a temporary name, renamed into place; removed on failure."""
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(file.name + ".gitsm-tmp")
        tmp.unlink(missing_ok=True)
        try:
            if mode == _LINK:
                os.symlink(os.fsdecode(data), tmp)
            else:
                tmp.write_bytes(data)
                if mode == _EXECUTABLE:
                    tmp.chmod(tmp.stat().st_mode | ((tmp.stat().st_mode & 0o444) >> 2))
            os.replace(tmp, file)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def _prune_dirs(self, directory: Path) -> None:
        assert self.workdir is not None
        while directory != self.workdir and directory.is_dir():
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    # -- after the ref moved -------------------------------------------------------------------

    pending: str | None = None
    """Why the checkout is behind the branch after a write that landed (None when it is not)."""

    def _bring_along(
        self, old: Snapshot, new: Snapshot, touched: list[str], lock: IndexLock,
        sync: Callable[[], None],
    ) -> None:  # fmt: skip
        """Run ``sync`` (the ref has moved: the write landed) and remove the journal. A failure is
        not raised: the checkout is left consistent (index as it was, nothing half-written), the
        journal stays for the next gitsm command, and a warning says what is left."""
        try:
            sync()
        except Exception as exc:
            lock.release()
            self._scrub(old, new, touched)
            self.pending = self._behind(new, exc)
            log.warning("%s", self.pending)
            return
        with contextlib.suppress(OSError):
            (self.gitdir / JOURNAL_NAME).unlink(missing_ok=True)
        self.pending = None

    def _scrub(self, old: Snapshot, new: Snapshot, touched: list[str]) -> None:
        """Remove what a failed sync left half-written: a touched file that is neither its old
        nor its new version (git writes files in place; both versions are in the repository)."""
        assert self.workdir is not None
        for path in touched:
            file = self.workdir / path
            with contextlib.suppress(OSError):
                if not file.is_file() or file.is_symlink():
                    continue
                have = str(pygit2.hashfile(str(file)))
                if have not in (old.blob_id(path), new.blob_id(path)):
                    file.unlink()

    def _behind(self, new: Snapshot, exc: BaseException) -> str:
        """The warning of a write that landed while its checkout could not follow."""
        assert self.workdir is not None and new.commit_id is not None
        where = self.workdir
        code = getattr(exc, "errno", None)
        if isinstance(exc, GitsmError):
            reason = exc.message
        elif isinstance(exc, OSError) and code is not None:
            reason = f"{exc.strerror}" + (f" ({exc.filename})" if exc.filename else "") + "."
        elif isinstance(exc, OSError | pygit2.GitError):
            reason, code = f"{exc}.", errno_of(str(exc))
        else:
            reason = f"{type(exc).__name__}."
        fix = {
            errno.ENOSPC: "Free space on that disk",
            errno.EDQUOT: "Free space on that disk (or raise the quota)",
            errno.EROFS: f"Make {where} writable",
            errno.EACCES: f"Make {where} writable",
        }.get(code if isinstance(code, int) else -1, "Fix that")
        return (
            f"the write landed: commit {new.commit_id[:12]} is on branch {self.branch}. Only the "
            f"work tree and index of {where} could not be brought up to date: {reason} {fix}; "
            "the next gitsm command run there finishes it (the paths are listed in "
            f"{self.gitdir / JOURNAL_NAME}). Until then 'git status' shows the write undone: do "
            "not commit in that checkout before it is finished. Do not repeat the write."
        )
