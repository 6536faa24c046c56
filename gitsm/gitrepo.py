"""The git layer: the only module that talks to pygit2.

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
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pygit2

from gitsm.errors import LocalChangesError, StoreError

LOCK_NAME = "gitsm.lock"
JOURNAL_NAME = "gitsm-worktree.json"
STALE_LOCK_WAIT = 1.0
_BLOB = pygit2.enums.FileMode.BLOB
_TREE = pygit2.enums.FileMode.TREE
# libgit2 caches no tree larger than 4 KiB by default, so every path lookup through a big folder
# re-reads and re-parses it (~2 ms for a 10,000-entry folder, ~20 us once cached).
TREE_CACHE_LIMIT = 16 << 20


class RefConflict(Exception):
    """The branch moved between reading the tip and updating it; retry the operation."""


def clean_git_env() -> dict[str, str]:
    """The environment for git subprocesses, without GIT_* variables that would redirect them."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


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

    def blob_id(self, path: str) -> str | None:
        """The blob id at ``path``, or None."""
        obj = self._obj(path)
        if obj is None or obj.type != pygit2.enums.ObjectType.BLOB:
            return None
        return str(obj.id)


class GitRepo:
    """A git repository used as a store, bound to one branch."""

    def __init__(self, repo: pygit2.Repository, branch: str, *, fsync: bool = True) -> None:
        self.repo = repo
        self.branch = branch
        self.ref = f"refs/heads/{branch}"
        self.fsync = fsync
        self.gitdir = Path(repo.path)
        self.workdir = Path(repo.workdir) if repo.workdir else None
        self.auto_pack = True
        pygit2.settings.cache_object_limit(pygit2.enums.ObjectType.TREE, TREE_CACHE_LIMIT)

    @classmethod
    def open(cls, path: str | Path, *, branch: str | None = None, fsync: bool = True) -> GitRepo:
        """Open the repository at ``path`` (a work tree or a bare repository)."""
        try:
            repo = pygit2.Repository(str(path), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
        except pygit2.GitError:
            raise StoreError(
                f"No git repository at {path}. Run 'gitsm init {path}' to create a store."
            ) from None
        return cls(repo, branch or cls._head_branch(repo), fsync=fsync)

    @classmethod
    def init(cls, path: str | Path, *, bare: bool = False, branch: str = "main") -> GitRepo:
        """Open the repository at ``path``, creating it (``git init``) when there is none."""
        try:
            return cls.open(path)
        except StoreError:
            pass
        Path(path).mkdir(parents=True, exist_ok=True)
        repo = pygit2.init_repository(str(path), bare=bare, initial_head=branch)
        return cls(repo, branch)

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
        commit = cast(pygit2.Commit, self.repo[ref.target])
        when = datetime.fromtimestamp(commit.commit_time, UTC)
        return Snapshot(self.repo, str(commit.id), commit.tree, when)

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the store's advisory write lock (blocks until it is free)."""
        fd = os.open(self.gitdir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._recover()
            yield
        finally:
            os.close(fd)

    def _clear_stale(self, lock: Path) -> None:
        """Remove ``lock`` if it outlives a short wait unchanged (its owner is gone)."""
        deadline = time.monotonic() + STALE_LOCK_WAIT
        try:
            seen = lock.stat().st_mtime_ns
        except FileNotFoundError:
            return
        while time.monotonic() < deadline:
            time.sleep(0.02)
            try:
                now = lock.stat().st_mtime_ns
            except FileNotFoundError:
                return
            if now != seen:
                seen, deadline = now, time.monotonic() + STALE_LOCK_WAIT
        lock.unlink(missing_ok=True)

    def _recover(self) -> None:
        """Under the write lock: clear stale git locks and finish an interrupted work-tree sync."""
        self._clear_stale(self.gitdir / f"{self.ref}.lock")
        if self._syncs_worktree():
            self._clear_stale(self.gitdir / "index.lock")
        journal = self.gitdir / JOURNAL_NAME
        if journal.exists():
            try:
                paths = json.loads(journal.read_text())["paths"]
            except (OSError, ValueError, KeyError):
                paths = []
            if self._syncs_worktree():
                self._sync_worktree(self.tip(), [str(p) for p in paths])
            journal.unlink(missing_ok=True)

    def _signature(self, when: datetime) -> pygit2.Signature:
        try:
            name = str(self.repo.config["user.name"])
            email = str(self.repo.config["user.email"])
        except KeyError:
            name, email = "gitsm", "gitsm@localhost"
        return pygit2.Signature(name, email, int(when.timestamp()), 0)

    def _build(self, tree: pygit2.Tree | None, changes: Mapping[str, bytes | None]) -> str | None:
        """Write the tree that results from applying ``changes`` (paths relative to ``tree``)."""
        builder = self.repo.TreeBuilder(tree) if tree is not None else self.repo.TreeBuilder()
        nested: dict[str, dict[str, bytes | None]] = {}
        for path, data in changes.items():
            head, _, rest = path.partition("/")
            if rest:
                nested.setdefault(head, {})[rest] = data
            elif data is None:
                if builder.get(head) is not None:
                    builder.remove(head)
            else:
                builder.insert(head, self.repo.create_blob(data), _BLOB)
        for head, sub in nested.items():
            entry = builder.get(head)
            subtree = (
                cast(pygit2.Tree, self.repo[entry.id])
                if entry is not None and entry.type == pygit2.enums.ObjectType.TREE
                else None
            )
            oid = self._build(subtree, sub)
            if oid is None:
                if entry is not None:
                    builder.remove(head)
            else:
                builder.insert(head, oid, _TREE)
        if len(builder) == 0:
            return None
        return str(builder.write())

    def commit(
        self, parent: Snapshot, changes: Mapping[str, bytes | None], message: str, when: datetime
    ) -> Snapshot:
        """Commit ``changes`` (path -> bytes, or None to delete a file or directory) on ``parent``.

        Must be called under :meth:`write_lock`. Raises RefConflict if the branch moved, and
        LocalChangesError (changing nothing) if checked-out paths have local edits.
        """
        pygit2.settings.enable_fsync_gitdir(self.fsync)
        sync = self._syncs_worktree()
        touched = self._touched(parent, changes) if sync else []
        if sync:
            self._check_clean(parent, touched)
        tree_id = self._build(parent.tree, changes)
        if tree_id is None:
            tree_id = str(self.repo.TreeBuilder().write())
        sig = self._signature(when)
        parents = [parent.commit_id] if parent.commit_id else []
        oid = self.repo.create_commit(None, sig, sig, message, tree_id, parents)
        if sync:
            self._write_journal(touched)
        self._move_ref(parent, oid, message)
        new = self.tip()
        if sync:
            self._sync_worktree(new, touched)
            (self.gitdir / JOURNAL_NAME).unlink(missing_ok=True)
        self._maybe_pack()
        return new

    def _move_ref(self, parent: Snapshot, oid: pygit2.Oid, message: str) -> None:
        reflog = message.splitlines()[0] if message else "gitsm"
        try:
            if parent.commit_id is None:
                self.repo.create_reference_direct(self.ref, oid, False, message=reflog)
                return
            ref = self.repo.references.get(self.ref)
            if ref is None or str(ref.target) != parent.commit_id:
                raise RefConflict(self.ref)
            ref.set_target(oid, reflog)
        except (pygit2.GitError, ValueError, OSError) as exc:  # a held ref lock is an OSError
            if "lock" in str(exc).lower():
                self._clear_stale(self.gitdir / f"{self.ref}.lock")
            raise RefConflict(self.ref) from None

    # -- work-tree synchronisation -------------------------------------------------------------

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
            data = snap.read(path)
            if data is None:
                file.unlink(missing_ok=True)
                if path in index:
                    index.remove(path)
                self._prune_dirs(file.parent)
                continue
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_name(file.name + ".gitsm-tmp")
            tmp.write_bytes(data)
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

    # -- maintenance ---------------------------------------------------------------------------

    def _maybe_pack(self) -> None:
        """Start ``git gc --auto`` in the background when loose objects pile up (as git estimates).

        Like git, estimate from ``objects/17`` against the repository's ``gc.auto`` (default 6700;
        0 turns automatic packing off).
        """
        if not self.auto_pack:
            return
        try:
            auto = self.repo.config.get_int("gc.auto") if "gc.auto" in self.repo.config else 6700
        except (pygit2.GitError, ValueError):
            auto = 6700
        if auto <= 0:
            return
        try:
            loose = len(os.listdir(self.gitdir / "objects" / "17"))
        except OSError:
            return
        if loose <= (auto + 255) // 256 or shutil.which("git") is None:
            return
        subprocess.Popen(
            ["git", "--git-dir", str(self.gitdir), "gc", "--auto", "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=clean_git_env(),
            start_new_session=True,
        )

    def pack(self) -> None:
        """Pack the repository now (``git gc``), waiting for it to finish."""
        subprocess.run(
            ["git", "--git-dir", str(self.gitdir), "gc", "--quiet"],
            check=True,
            env=clean_git_env(),
            capture_output=True,
        )

    # -- verification: trees other than the branch tip -----------------------------------------

    def snapshot_at(self, rev: str) -> Snapshot:
        """A snapshot of the commit that ``rev`` names (any revision git understands)."""
        try:
            commit = self.repo.revparse_single(rev).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError):
            raise StoreError(
                f"No commit {rev!r} in {self.workdir or self.gitdir}. Name a commit, branch or tag."
            ) from None
        return Snapshot(
            self.repo, str(commit.id), commit.tree, datetime.fromtimestamp(commit.commit_time, UTC)
        )

    def head_snapshot(self) -> Snapshot:
        """A snapshot of the commit HEAD names (empty on an unborn branch)."""
        try:
            return self.snapshot_at("HEAD")
        except StoreError:
            return Snapshot(self.repo, None, None, None)

    def staged_snapshot(self, index_file: str | None = None) -> Snapshot:
        """The staged tree: the index (or ``index_file``, as git's GIT_INDEX_FILE names in hooks).

        Writes the index's tree objects to the object database, as ``git write-tree`` does.
        """
        if self.workdir is None and index_file is None:
            raise StoreError(f"{self.gitdir} is a bare repository: it has no staged changes.")
        index = pygit2.Index(index_file) if index_file else self.repo.index
        if not index_file:
            index.read(False)
        try:
            tree = cast(pygit2.Tree, self.repo[index.write_tree(self.repo)])
        except pygit2.GitError as exc:
            raise StoreError(
                f"The index cannot be read as a tree ({exc}). Resolve merge conflicts first."
            ) from None
        return Snapshot(self.repo, None, tree, None)

    def staged_changes(self, index_file: str | None = None) -> dict[str, str | None]:
        """Files the index adds, modifies or removes relative to HEAD: path -> staged blob id, or
        None when removed (submodules left out).

        Asks ``git diff-index --cached``, which skips unchanged directories through the index's
        cache tree (libgit2 compares every entry: about 8x slower on a 3,000-file index).
        """
        if self.workdir is None and index_file is None:
            raise StoreError(f"{self.gitdir} is a bare repository: it has no staged changes.")
        base = self.head_snapshot().commit_id or str(self.repo.TreeBuilder().write())
        env = clean_git_env()
        if index_file:
            env["GIT_INDEX_FILE"] = index_file
        git = ["git", "--git-dir", str(self.gitdir)]
        if self.workdir is not None:
            git += ["--work-tree", str(self.workdir)]
        proc = subprocess.run(
            [*git, "diff-index", "--cached", "--no-renames", "-z", base, "--"],
            env=env, capture_output=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise StoreError(f"git diff-index failed: {proc.stderr.decode(errors='replace')}")
        fields = proc.stdout.split(b"\0")
        out: dict[str, str | None] = {}
        for meta, path in zip(fields[0:-1:2], fields[1::2], strict=False):
            _, mode, _, blob, status = meta.decode().split(" ")
            if status == "D":
                out[os.fsdecode(path)] = None
            elif mode != "160000" and blob.strip("0"):  # not a submodule, not unmerged
                out[os.fsdecode(path)] = blob
        return out

    def read_blob(self, blob_id: str) -> bytes:
        """The content of the blob ``blob_id``."""
        return bytes(cast(pygit2.Blob, self.repo[blob_id]).data)

    # -- history -------------------------------------------------------------------------------

    def history(self) -> Iterator[Snapshot]:
        """A snapshot of every commit reachable from the branch tip, newest first."""
        ref = self.repo.references.get(self.ref)
        if ref is None:
            return
        order = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME
        for commit in self.repo.walk(ref.target, order):
            when = datetime.fromtimestamp(commit.commit_time, UTC)
            yield Snapshot(self.repo, str(commit.id), commit.tree, when)

    def history_files(
        self, root: str, want: Callable[[str], bool] = lambda path: True
    ) -> Iterator[tuple[str, str, bytes]]:
        """Every distinct file under ``root`` in the branch's history: (commit id, path, content).

        Each (path, content) pair is yielded once, with the newest commit that holds it; ``want``
        filters paths before a blob is read. A subtree already visited at the same path is not
        walked again, so the cost grows with the number of distinct trees, not commits x files.
        """
        seen: set[tuple[str, str]] = set()
        for snap in self.history():
            top = snap._obj(root)
            if top is None:
                continue
            stack: list[tuple[str, pygit2.Object]] = [(root, top)]
            while stack:
                path, obj = stack.pop()
                if (path, str(obj.id)) in seen:
                    continue
                seen.add((path, str(obj.id)))
                if obj.type == pygit2.enums.ObjectType.TREE:
                    for e in cast(pygit2.Tree, obj):
                        stack.append((f"{path}/{e.name}", self.repo[e.id]))
                elif obj.type == pygit2.enums.ObjectType.BLOB and want(path):
                    assert snap.commit_id is not None
                    yield snap.commit_id, path, bytes(cast(pygit2.Blob, obj).data)

    def log(self) -> Iterator[CommitInfo]:
        """The branch's commits, newest first, with message and author (``gitsm log``)."""
        ref = self.repo.references.get(self.ref)
        if ref is None:
            return
        order = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME
        for commit in self.repo.walk(ref.target, order):
            author = commit.author
            when = datetime.fromtimestamp(author.time, UTC)
            yield CommitInfo(str(commit.id), str(commit.message), author.name, author.email, when)


@dataclass(frozen=True)
class CommitInfo:
    """One commit of the branch as :meth:`GitRepo.log` reads it: message and author, no tree."""

    commit_id: str
    message: str
    author_name: str
    author_email: str
    author_time: datetime
