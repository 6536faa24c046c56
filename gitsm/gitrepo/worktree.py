"""Keeping a checked-out work tree and index in step with the commits gitsm makes.

The touched paths are checked clean against the old tip before a commit (local edits abort with
LocalChangesError, nothing written). A journal written before the ref moves lists them, so that the
next writer can finish a sync that a crash interrupted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import pygit2

from gitsm.errors import LocalChangesError
from gitsm.gitrepo.base import RepoBase
from gitsm.gitrepo.snapshot import Snapshot

JOURNAL_NAME = "gitsm-worktree.json"
_LINK = int(pygit2.enums.FileMode.LINK)
_EXECUTABLE = int(pygit2.enums.FileMode.BLOB_EXECUTABLE)


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

    def _check_clean(self, parent: Snapshot, paths: list[str]) -> None:
        assert self.workdir is not None
        index = self.repo.index
        index.read(False)
        dirty = []
        for path in paths:
            expected = parent.blob_id(path)
            entry = index[path] if path in index else None  # noqa: SIM401
            staged = str(entry.id) if entry is not None else None
            file = self.workdir / path
            on_disk = str(pygit2.hashfile(str(file))) if file.is_file() else None
            if staged != expected or on_disk != expected or self._blocked(path):
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
        current = self.workdir
        *dirs, last = path.split("/")
        for part in dirs:
            current = current / part
            if current.is_symlink() or (current.exists() and not current.is_dir()):
                return True
        target = current / last
        return target.is_symlink() or (target.exists() and not target.is_file())

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
