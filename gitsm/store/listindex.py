"""The listing index: what ListSecrets and BatchGetSecretValue by Filters read of every secret.

Parsing every manifest of a tree costs about 0.5 s at 10,000 secrets. Instead, a listing reads the
index of the tip's tree (:mod:`gitsm.store.listcodec`): ``<git dir>/gitsm/list-index/<tree id>``
in the git dir shared by every work tree, never committed and never in a work tree. Keyed by the
tree, it serves every commit with that tree. It is a cache, rebuilt whenever it is missing, stale
(another format) or damaged (its checksum does not match): a listing answers exactly what parsing
the manifests answers.

A missing index is built from the newest index kept for another tree when that tree is still in
the repository: only the manifests whose blob or mode differ between the two trees are parsed
(:meth:`gitsm.gitrepo.GitRepo.tree_changes`). Anything unexpected on the way (a refused or
misplaced manifest, an unreadable old index) falls back to parsing every manifest, which raises
what a listing without an index raises. The newest :data:`KEEP` indexes are kept; failing to
write one (a read-only repository) only costs the next listing the build again.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import secrets as _random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from gitsm import paths, treefiles
from gitsm.errors import GitsmError
from gitsm.gitrepo import Snapshot
from gitsm.model import Secret
from gitsm.store import listcodec, listing
from gitsm.store.core import StoreCore
from gitsm.store.listcodec import ListIndex

INDEX_DIR = "list-index"
KEEP = 3
"""Indexes kept (the newest by modification time); older ones are removed after a write."""
_DAMAGED = (ValueError, TypeError, KeyError, IndexError, OSError)


def load(directory: Path, tree: str) -> ListIndex | None:
    """The intact index of ``tree`` kept in ``directory``, or None."""
    try:
        return listcodec.parse(listcodec.FileSource(str(directory / tree)), tree)
    except (OSError, ValueError):
        return None


def save(directory: Path, index: ListIndex) -> None:
    """Keep ``index`` (written to a temporary file, renamed into place) and remove all but the
    newest :data:`KEEP`; any failure to write is ignored (the index is only a cache)."""
    tmp = directory / f"{index.tree}.{os.getpid()}.{_random.token_hex(4)}.tmp"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(index.dump())
        os.replace(tmp, directory / index.tree)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return
    stale = time.time() - 3600
    for old in _kept(directory)[KEEP:] + _kept(directory, tmp=True):
        with contextlib.suppress(OSError):
            if not old.name.endswith(".tmp") or old.stat().st_mtime < stale:
                old.unlink()


def _kept(directory: Path, *, tmp: bool = False) -> list[Path]:
    """The index files in ``directory`` (with ``tmp``: the temporary files), newest first."""
    found: list[tuple[float, Path]] = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            if entry.name.endswith(".tmp") == tmp:
                with contextlib.suppress(OSError):
                    found.append((entry.stat().st_mtime, Path(entry.path)))
    return [p for _, p in sorted(found, reverse=True)]


class ListingIndex(StoreCore):
    """The listing index of the tip's tree, and the listings answered from it."""

    list_index = True
    """False answers listings by parsing every manifest, as before the index (tests compare)."""
    _index: ListIndex | None = None
    _walk: tuple[tuple[object, ...], _Walk] | None = None

    def _index_dir(self) -> Path:
        return self.repo.private_dir(INDEX_DIR)

    def _list_index(self, snap: Snapshot) -> ListIndex:
        """The index of ``snap``'s tree: kept by this handle, read from the git dir, or built
        (and kept there). Raises what parsing a manifest raises, as a listing without it does."""
        tree = snap.tree_id or ""
        if self._index is not None and self._index.tree == tree:
            return self._index
        if not tree:  # an empty branch
            return self._built(snap)
        directory = self._index_dir()
        index = load(directory, tree)
        if index is None:
            index = self._updated(snap, directory) or self._built(snap)
            save(directory, index)
        self._index = index
        return index

    def _built(self, snap: Snapshot) -> ListIndex:
        """The index of ``snap``'s tree from every manifest (raises what a manifest raises)."""
        return listcodec.build(snap.tree_id or "", self._manifests(snap))

    def _rebuilt(self, snap: Snapshot) -> ListIndex:
        """The index of ``snap``'s tree built again from every manifest (the one read was
        damaged), kept in place of the damaged one."""
        self._index = index = self._built(snap)
        save(self._index_dir(), index)
        return index

    def _updated(self, snap: Snapshot, directory: Path) -> ListIndex | None:
        """The index of ``snap``'s tree from the newest index of another tree, parsing only the
        manifests that differ; None when there is none to start from, or anything is amiss."""
        for path in _kept(directory):
            if path.name == snap.tree_id:
                continue
            old = load(directory, path.name)
            if old is None:
                continue
            try:
                changes = self.repo.tree_changes(old.tree, snap, paths.SECRETS_ROOT)
                if changes is None:
                    continue
                return self._index_changes(snap, old, [c.path for c in changes])
            except (GitsmError, *_DAMAGED):  # the full build raises it as a listing does
                return None
        return None

    def _index_changes(self, snap: Snapshot, old: ListIndex, changed: list[str]) -> ListIndex:
        names, created, changed_at, search, records = old.columns()
        for path in changed:
            directory, _, base = path.rpartition("/")
            if base != paths.MANIFEST or f"/{paths.VERSIONS}/" in f"/{directory}/":
                continue  # not a manifest a listing reads (see treefiles.each_manifest)
            try:
                name: str | None = paths.name_from_dir(directory)
            except ValueError:
                name = None
            at = -1 if name is None else bisect.bisect_left(names, name)
            if 0 <= at < len(names) and names[at] == name:
                for column in (names, created, changed_at, search, records):
                    del column[at]
            secret = treefiles.read_manifest(snap, path)
            if secret is None:
                continue
            secret = self._placed(secret, directory)
            at = bisect.bisect_left(names, secret.name)
            if at < len(names) and names[at] == secret.name:
                raise ValueError("two manifests name one secret")
            names.insert(at, secret.name)
            created.insert(at, listcodec.micros(secret.created))
            changed_at.insert(at, listcodec.micros(secret.last_changed))
            search.insert(at, listcodec.search_entry(secret))
            records.insert(at, listcodec.stored(listcodec.encode(secret)))
        tree = snap.tree_id or ""
        return listcodec.assemble(tree, names, created, changed_at, search, records)

    def _listed(
        self, snap: Snapshot, query: tuple[object, ...], select: listing.Selection,
        sort: tuple[object, object],
    ) -> Callable[[int], list[Secret]]:  # fmt: skip
        """The live secrets a listing query selects, in its order, as a function giving the
        first ``n`` of them.

        The index of the tip's tree is read (or built) first, so a refused manifest fails the
        listing before anything else is checked, as it did when every manifest was parsed here.
        With filters, the secrets are selected from the index's summaries (names, descriptions,
        tags) and only those selected are decoded. The query's order is walked lazily and what it
        selected is kept for the same query at the same tree, so the next page costs only its own
        records. The deletion-date cut is made on each call. The Secrets returned are shared with
        later calls; callers must not change them.
        """
        if not self.list_index:
            everything = [s for s in self._manifests(snap) if select(s)]
            return self._cut(listing.sort_secrets(everything, *sort))
        index = self._list_index(snap)
        sort_by, desc = listing.check_sort(*sort)
        key = (index.tree, *query)
        if self._walk is None or self._walk[0] != key:
            try:
                walk = _Walk.start(index, sort_by, desc, select)
            except _DAMAGED:
                walk = _Walk.start(self._rebuilt(snap), sort_by, desc, select)
            walk.rebuild = lambda: self._rebuilt(snap)
            self._walk = key, walk
        return self._cut(self._walk[1])

    def _cut(self, found: Sequence[Secret] | _Walk) -> Callable[[int], list[Secret]]:
        now = self.clock()
        at = found.selected if isinstance(found, _Walk) else _item(found)

        def first(n: int) -> list[Secret]:
            out: list[Secret] = []
            i = 0
            while len(out) < n and (s := at(i)) is not None:
                if not self._expired(s, now):
                    out.append(s)
                i += 1
            return out

        return first


def _item(items: Sequence[Secret]) -> Callable[[int], Secret | None]:
    return lambda i: items[i] if i < len(items) else None


class _Walk:
    """One query's selection along one order of an index, taken as far as asked so far."""

    def __init__(
        self, index: ListIndex, order: Iterator[int], select: Callable[[Secret], bool] | None,
        chosen: bytes | None,
    ) -> None:  # fmt: skip
        self.index, self.order, self.select, self.chosen = index, order, select, chosen
        self.found: list[Secret] = []
        self.lock = threading.Lock()
        self.rebuild: Callable[[], ListIndex] | None = None
        """Makes the index again from the manifests when a record does not decode."""

    @classmethod
    def start(cls, index: ListIndex, sort_by: str, desc: bool, select: listing.Selection) -> _Walk:
        """A walk of ``index`` in the order of ``sort_by``: with filters, through the positions
        the summaries select; without, deciding on each decoded secret."""
        order = index.order(sort_by)
        walk = reversed(order) if desc else iter(order)
        if not select.filters:
            return cls(index, walk, select, None)
        chosen = bytes(select.selects(summary, deleted) for summary, deleted in index.summaries())
        return cls(index, walk, None, chosen)

    def selected(self, i: int) -> Secret | None:
        """The ``i``-th secret the walk selects (None past the last), walking on as far as that
        (one walk at a time: a handle may serve several threads)."""
        with self.lock:
            while len(self.found) <= i:
                position = next(self.order, None)
                if position is None:
                    return None
                if self.chosen is not None and not self.chosen[position]:
                    continue
                try:
                    secret = self.index.secret(position)
                except _DAMAGED:
                    if self.rebuild is None:
                        raise
                    self.index = self.rebuild()  # the same tree: the same positions and orders
                    secret = self.index.secret(position)
                if self.select is None or self.select(secret):
                    self.found.append(secret)
            return self.found[i]
