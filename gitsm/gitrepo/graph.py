"""The commit graph: ranges of commits, what a commit changed, and commits off the branch.

Sync replays local commits onto an upstream tip. It reads each commit (parents, message, author) and
the files it changed relative to its first parent, builds the replayed commits without moving any
ref, and moves the branch only once the remote has accepted them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import pygit2

from gitsm.errors import StoreError
from gitsm.gitrepo import loose
from gitsm.gitrepo.base import RepoBase
from gitsm.gitrepo.failures import translating
from gitsm.gitrepo.snapshot import Snapshot
from gitsm.gitrepo.treediff import TreeChange, tree_changes

_TREE = pygit2.enums.FileMode.TREE


@dataclass(frozen=True)
class Person:
    """A commit's author or committer: who, and when (seconds since the epoch, UTC offset)."""

    name: str
    email: str
    time: int
    offset: int


@dataclass(frozen=True)
class CommitData:
    """One commit as sync reads it: no tree content, only identity and message."""

    commit_id: str
    parents: tuple[str, ...]
    message: str
    author: Person
    committer: Person


@dataclass(frozen=True)
class FileChange:
    """A file a commit changed relative to its first parent (blob ids; None when absent)."""

    path: str
    old: str | None
    new: str | None
    old_mode: int
    new_mode: int


@dataclass(frozen=True)
class BlobRef:
    """A change that puts an existing blob, with its file mode, at a path (see ``_build``)."""

    blob_id: str
    mode: int


@dataclass(frozen=True)
class SignedData:
    """A commit's signature (its ``gpgsig`` header, unfolded) and the data it signs (the commit
    object without that header), with the committer's time, when signatures are checked."""

    commit_id: str
    signature: bytes
    payload: bytes
    committer_time: int


def _person(sig: pygit2.Signature) -> Person:
    return Person(str(sig.name), str(sig.email), int(sig.time), int(sig.offset))


@translating
class RepoGraph(RepoBase):
    """Reading commits and ranges; writing commits that no ref points to yet."""

    def commit_data(self, commit_id: str) -> CommitData:
        """Parents, message, author and committer of ``commit_id``."""
        commit = cast(pygit2.Commit, self.repo[commit_id])
        return CommitData(
            str(commit.id),
            tuple(str(p) for p in commit.parent_ids),
            str(commit.message),
            _person(commit.author),
            _person(commit.committer),
        )

    def resolve_commit(self, rev: str) -> str:
        """The full id of the commit ``rev`` names (an id, a branch, any revision git reads)."""
        try:
            return str(self.repo.revparse_single(rev).peel(pygit2.Commit).id)
        except (KeyError, ValueError, TypeError, pygit2.GitError):
            raise StoreError(
                f"No commit {rev!r} in {self.workdir or self.gitdir}. Name a commit, branch or tag."
            ) from None

    def signed_data(self, commit_id: str) -> SignedData | None:
        """The signature of the commit ``commit_id`` (a full id) and what it signs; None when the
        commit is unsigned. In-process and cheap: no program runs."""
        commit = cast(pygit2.Commit, self.repo[commit_id])
        signature, payload = cast(tuple[bytes | None, bytes | None], commit.gpg_signature)
        if signature is None or payload is None:
            return None
        return SignedData(str(commit.id), bytes(signature), bytes(payload), int(commit.commit_time))

    def snapshot_of(self, commit_id: str | None) -> Snapshot:
        """A snapshot of ``commit_id`` (an empty one for None). The last one made is kept and
        given again for the same full commit id: a commit never changes, and what its snapshot
        read is then read once (gitsm serve checks a write's policies at the tip, then writes)."""
        if commit_id is None:
            return Snapshot(self.repo, None, None, None)
        last = self._last_snapshot
        if last is not None and last.commit_id == commit_id:
            return last
        loose.check(self.repo, commit_id)  # the commit and its tree, vetted (see .loose)
        commit = cast(pygit2.Commit, self.repo[commit_id])
        loose.check(self.repo, commit.tree_id)
        when = datetime.fromtimestamp(commit.commit_time, UTC)
        self._last_snapshot = Snapshot(self.repo, str(commit.id), commit.tree, when)
        return self._last_snapshot

    def ref_target(self, name: str) -> str | None:
        """The commit a reference points to, or None when it does not exist."""
        ref = self.repo.references.get(name)
        if ref is None:
            return None
        try:
            return str(ref.peel(pygit2.Commit).id)
        except (pygit2.GitError, ValueError, KeyError):
            return None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when ``ancestor`` is ``descendant`` or one of its ancestors."""
        if ancestor == descendant:
            return True
        return bool(self.repo.descendant_of(descendant, ancestor))

    def merge_base_of(self, one: str, other: str) -> str | None:
        """The best common ancestor of two commits, or None when they share none."""
        base = self.repo.merge_base(one, other)
        return None if base is None else str(base)

    def commits_between(self, hidden: str | list[str] | None, tip: str) -> list[str]:
        """Commits reachable from ``tip`` but not from ``hidden`` (one commit or several),
        oldest first (topological)."""
        order = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE
        walker = self.repo.walk(tip, order)
        for commit in [hidden] if isinstance(hidden, str) else hidden or []:
            walker.hide(commit)
        return [str(c.id) for c in walker]

    def changed_files(self, old: str | None, new: str) -> list[FileChange]:
        """Every file that differs between commit ``old`` (None: the empty tree) and ``new``."""
        new_tree = cast(pygit2.Commit, self.repo[new]).tree
        if old is None:
            diff = new_tree.diff_to_tree(swap=True)
        else:
            old_tree = cast(pygit2.Commit, self.repo[old]).tree
            diff = old_tree.diff_to_tree(new_tree)
        out: list[FileChange] = []
        for delta in diff.deltas:
            old_file, new_file = delta.old_file, delta.new_file
            old_id = None if old_file.id.raw == bytes(20) else str(old_file.id)
            new_id = None if new_file.id.raw == bytes(20) else str(new_file.id)
            path = new_file.path if new_id is not None else old_file.path
            out.append(FileChange(path, old_id, new_id, int(old_file.mode), int(new_file.mode)))
        return out

    def tree_changes(self, old_tree: str, new: Snapshot, under: str) -> list[TreeChange] | None:
        """The files at or below ``under`` that differ between the tree ``old_tree`` (an id) and
        ``new``'s tree, skipping equal subtrees (see :mod:`.treediff`); None when the old tree is
        not in the repository (any more)."""
        try:
            oid = pygit2.Oid(hex=old_tree)
        except ValueError:
            return None
        if oid not in self.repo:
            return None
        loose.check(self.repo, oid)
        old = self.repo[oid]
        if old.type != pygit2.enums.ObjectType.TREE:
            return None
        parts = [p for p in under.split("/") if p]

        def descend(tree: pygit2.Tree | None) -> pygit2.Tree | None:
            for part in parts:
                if (
                    tree is None
                    or part not in tree
                    or tree[part].type != pygit2.enums.ObjectType.TREE
                ):
                    return None
                loose.check(self.repo, tree[part].id)
                tree = cast(pygit2.Tree, self.repo[tree[part].id])
            return tree

        return tree_changes(self.repo, descend(cast(pygit2.Tree, old)), descend(new.tree), under)

    def write_commit(
        self,
        parent: Snapshot,
        changes: Mapping[str, bytes | BlobRef | None],
        message: str,
        author: Person,
        committer: Person,
    ) -> Snapshot:
        """A commit of ``changes`` on ``parent`` that no reference points to (yet), signed when
        git's config asks for signed commits (SigningError when that fails)."""
        pygit2.settings.enable_fsync_gitdir(self.fsync)
        tree_id = self._build(parent.tree, changes) or str(self.repo.TreeBuilder().write())
        sigs = [pygit2.Signature(p.name, p.email, p.time, p.offset) for p in (author, committer)]
        parents = [parent.commit_id] if parent.commit_id else []
        return self.snapshot_of(self._create_commit(sigs[0], sigs[1], message, tree_id, parents))

    def merge_blob(
        self, path: str, base: BlobRef | None, ours: BlobRef | None, theirs: BlobRef | None
    ) -> BlobRef | None:
        """A three-way merge of one file's contents, as git merges text; None when it conflicts
        (or when a side deleted the file that the other changed)."""
        if ours is None or theirs is None:
            return None

        def entry(ref: BlobRef | None) -> pygit2.IndexEntry | None:
            if ref is None:
                return None
            mode = pygit2.enums.FileMode(ref.mode)
            return pygit2.IndexEntry(path, pygit2.Oid(hex=ref.blob_id), mode)

        result = self.repo.merge_file_from_index(entry(base), entry(ours), entry(theirs))
        if isinstance(result, str) or not result.automergeable:
            return None
        mode = theirs.mode if base is not None and ours.mode == base.mode else ours.mode
        return BlobRef(str(self.repo.create_blob(result.contents.encode("utf-8"))), mode)

    def blob_at(self, snap: Snapshot, path: str) -> BlobRef | None:
        """The blob and mode at ``path`` in ``snap`` (None when no file is there)."""
        item = snap.blob_entry(path)
        return None if item is None else BlobRef(str(item.id), int(item.filemode))

    def set_ref(self, name: str, target: str, message: str) -> None:
        """Create or overwrite the reference ``name`` (not a branch: gitsm's own refs)."""
        self.repo.create_reference_direct(name, target, True, message=message)

    def delete_ref(self, name: str) -> None:
        """Delete the reference ``name`` if it exists."""
        ref = self.repo.references.get(name)
        if ref is not None:
            ref.delete()

    def _build(
        self, tree: pygit2.Tree | None, changes: Mapping[str, bytes | BlobRef | None]
    ) -> str | None:
        """Write the tree that results from applying ``changes`` (paths relative to ``tree``).

        A value is the new content (a regular file), a :class:`BlobRef` (an existing blob and its
        mode), or None to delete a file or directory.
        """
        builder = self.repo.TreeBuilder(tree) if tree is not None else self.repo.TreeBuilder()
        nested: dict[str, dict[str, bytes | BlobRef | None]] = {}
        for path, data in changes.items():
            head, _, rest = path.partition("/")
            if rest:
                nested.setdefault(head, {})[rest] = data
            elif data is None:
                if builder.get(head) is not None:
                    builder.remove(head)
            elif isinstance(data, BlobRef):
                builder.insert(head, pygit2.Oid(hex=data.blob_id), data.mode)
            else:
                builder.insert(head, self.repo.create_blob(data), pygit2.enums.FileMode.BLOB)
        for head, sub in nested.items():
            entry = builder.get(head)
            if entry is not None:
                loose.check(self.repo, entry.id)
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
