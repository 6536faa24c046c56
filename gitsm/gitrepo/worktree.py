"""Keeping a checked-out work tree and index in step with the commits gitsm makes.

No write starts while a merge, rebase, cherry-pick or revert is in progress in the checkout, or
while its index holds unmerged (conflict) entries (MergeInProgressError, nothing written). The
touched paths are checked clean against the old tip before a commit (local edits abort with
LocalChangesError, nothing written). A journal written before the ref moves lists them, so that the
next writer can finish a sync that a crash interrupted.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pygit2

from gitsm.errors import LocalChangesError, MergeInProgressError
from gitsm.gitrepo.base import RepoBase
from gitsm.gitrepo.snapshot import Snapshot, conflicted_paths, git_cli_env

JOURNAL_NAME = "gitsm-worktree.json"
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

    def _check_clean(self, parent: Snapshot, paths: list[str]) -> None:
        assert self.workdir is not None
        index = self.repo.index
        index.read(False)
        unmerged = set(conflicted_paths(index))
        dirty = []
        for path in paths:
            expected = parent.blob_id(path)
            try:
                staged: str | None = str(index[path].id)
            except KeyError:  # not in the index, or only as conflict stages (no stage 0 entry)
                staged = None
            file = self.workdir / path
            on_disk = str(pygit2.hashfile(str(file))) if file.is_file() else None
            if path in unmerged or staged != expected or on_disk != expected or self._blocked(path):
                dirty.append(path)
        if dirty:
            shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
            raise LocalChangesError(
                f"The work tree or index has local changes to {shown}, which this operation must "
                "change. Commit, stash or restore them (git restore --staged --worktree <path>) "
                "and try again; nothing was written."
            )

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

    def _read_tree(self, old: str, new: str, *, dry_run: bool) -> bool:
        """``git read-tree -m -u old new``: bring the index and work tree from ``old`` to ``new``
        as a fast-forward does, keeping local changes to other paths; with ``dry_run``, refresh
        the index's file stat data (as ``git merge`` does first) and only check that it would
        succeed. False when git refused (or is missing)."""
        assert self.workdir is not None
        git = ["git", "--git-dir", str(self.gitdir), "--work-tree", str(self.workdir)]
        steps = [["update-index", "-q", "--refresh"]] if dry_run else []  # as git merge does
        steps.append(["read-tree", "-m", "-u", *(["-n"] if dry_run else []), old, new])
        for step in steps:  # a refresh reports modified files by its status: read-tree decides
            try:
                done = subprocess.run([*git, *step], env=git_cli_env(), capture_output=True,
                                      check=False, stdin=subprocess.DEVNULL, cwd=self.workdir)  # fmt: skip
            except OSError:
                return False
        return done.returncode == 0

    def _write_journal(self, paths: list[str]) -> None:
        tmp = self.gitdir / (JOURNAL_NAME + ".tmp")
        tmp.write_text(json.dumps({"paths": paths}))
        os.replace(tmp, self.gitdir / JOURNAL_NAME)

    def _sync_worktree(self, snap: Snapshot, paths: list[str]) -> None:
        assert self.workdir is not None
        index = self.repo.index
        index.read(False)
        for path in paths:
            file = self.workdir / path
            entry = snap.entry(path)
            if entry is None:
                if file.is_symlink() or file.is_file():
                    file.unlink()
                if path in index:
                    index.remove(path)
                self._prune_dirs(file.parent)
                continue
            mode, data = entry
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_name(file.name + ".gitsm-tmp")
            tmp.unlink(missing_ok=True)
            if mode == _LINK:
                os.symlink(os.fsdecode(data), tmp)
            else:
                tmp.write_bytes(data)
                if mode == _EXECUTABLE:
                    tmp.chmod(tmp.stat().st_mode | ((tmp.stat().st_mode & 0o444) >> 2))
            os.replace(tmp, file)
            index.add(path)
        index.write()

    def _prune_dirs(self, directory: Path) -> None:
        assert self.workdir is not None
        while directory != self.workdir and directory.is_dir():
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent
