"""Views other than the branch tip: other revisions, the staged index, and history."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pygit2

from gitsm.errors import StoreError
from gitsm.gitenv import run_git
from gitsm.gitrepo import splitindex
from gitsm.gitrepo.base import RepoBase
from gitsm.gitrepo.failures import translating
from gitsm.gitrepo.snapshot import CommitInfo, Snapshot, conflicted_paths

GITLINK_MODE = 0o160000


@translating
class RepoViews(RepoBase):
    """Snapshots of any revision or of the index, and walks over the branch's history."""

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

    def _index(self, index_file: str | None) -> pygit2.Index:
        """The repository's index, fresh from disk, or the index file ``index_file``."""
        if self.workdir is None and index_file is None:
            raise StoreError(f"{self.gitdir} is a bare repository: it has no staged changes.")
        source = Path(index_file) if index_file else self.gitdir / "index"
        merged = splitindex.merged_bytes(source, self.gitdir)
        if merged is not None:  # a split index, which libgit2 cannot read: a merged copy
            handle, copy = tempfile.mkstemp(prefix="gitsm-index-view-")
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(merged)
                return pygit2.Index(copy)  # read now; the copy is not needed afterwards
            finally:
                os.unlink(copy)
        if index_file:
            return pygit2.Index(index_file)
        index: pygit2.Index = self.repo.index
        index.read(False)
        return index

    def index_file_from_env(self) -> str | None:
        """The index that ``GIT_INDEX_FILE`` names (git sets it for hooks), if it belongs to this
        repository (a file inside its git directory)."""
        value = os.environ.get("GIT_INDEX_FILE")
        if not value:
            return None
        path = (Path.cwd() / value).resolve()
        return str(path) if path.is_relative_to(self.gitdir.resolve()) and path.is_file() else None

    def unmerged_paths(self, index_file: str | None = None) -> list[str]:
        """Paths with unmerged (conflict) entries in the index (or ``index_file``), sorted; none in
        a bare repository, which has no index."""
        if self.workdir is None and index_file is None:
            return []
        return conflicted_paths(self._index(index_file))

    def staged_snapshot(self, index_file: str | None = None) -> Snapshot:
        """The staged tree: the index (or ``index_file``, as git's GIT_INDEX_FILE names in hooks).

        Writes the index's tree objects to the object database, as ``git write-tree`` does. An
        unmerged path is taken at its "ours" stage (left out if ours has none), read from a copy
        of the index that is never written back, so that the rest of a conflicted index can be
        checked; :meth:`unmerged_paths` names those paths.
        """
        index = self._index(index_file)
        if index.conflicts is not None:
            index = self._index(index_file or str(self.gitdir / "index"))
            for ancestor, ours, theirs in list(index.conflicts or []):
                path = next(e.path for e in (ours, theirs, ancestor) if e is not None)
                del index.conflicts[path]
                if ours is not None:
                    index.add(pygit2.IndexEntry(path, ours.id, ours.mode))
        try:
            tree = cast(pygit2.Tree, self.repo[index.write_tree(self.repo)])
        except pygit2.GitError as exc:
            raise StoreError(
                f"The index cannot be read as a tree ({exc}). Resolve merge conflicts first."
            ) from None
        return Snapshot(self.repo, None, tree, None)

    def staged_changes(self, index_file: str | None = None) -> dict[str, str | None]:
        """Files the index adds, modifies or removes relative to HEAD: path -> staged blob id, or
        None when removed (submodules left out; :meth:`staged_entries` has them)."""
        return {
            path: None if entry is None else entry[1]
            for path, entry in self.staged_entries(index_file).items()
            if entry is None or entry[0] != GITLINK_MODE
        }

    def staged_entries(self, index_file: str | None = None) -> dict[str, tuple[int, str] | None]:
        """Entries the index adds, modifies or removes relative to HEAD: path -> (git file mode,
        staged object id), or None when removed; gitlinks (mode 160000) included.

        Asks ``git diff-index --cached``, which skips unchanged directories through the index's
        cache tree (libgit2 compares every entry: about 8x slower on a 3,000-file index).
        """
        if self.workdir is None and index_file is None:
            raise StoreError(f"{self.gitdir} is a bare repository: it has no staged changes.")
        base = self.head_snapshot().commit_id or str(self.repo.TreeBuilder().write())
        proc = run_git(
            ["diff-index", "--cached", "--no-renames", "-z", base, "--"],
            git_dir=self.gitdir, work_tree=self.workdir, index_file=index_file or None,
        )  # fmt: skip
        if proc.returncode != 0:
            raise StoreError(f"git diff-index failed: {proc.stderr.decode(errors='replace')}")
        fields = proc.stdout.split(b"\0")
        out: dict[str, tuple[int, str] | None] = {}
        for meta, path in zip(fields[0:-1:2], fields[1::2], strict=False):
            _, mode, _, blob, status = meta.decode().split(" ")
            if status == "D":
                out[os.fsdecode(path)] = None
            elif blob.strip("0"):  # not unmerged
                out[os.fsdecode(path)] = (int(mode, 8), blob)
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
        """The branch's commits, newest first, with message, author and committer (``gitsm log``)."""
        ref = self.repo.references.get(self.ref)
        if ref is None:
            return
        order = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME
        for commit in self.repo.walk(ref.target, order):
            author, committer = commit.author, commit.committer
            yield CommitInfo(
                commit_id=str(commit.id),
                message=str(commit.message),
                author_name=author.name,
                author_email=author.email,
                author_time=datetime.fromtimestamp(author.time, UTC),
                committer_name=committer.name,
                committer_email=committer.email,
            )
