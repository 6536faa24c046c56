"""git's split index (``core.splitIndex``), read and changed entry by entry as :mod:`.indexfile`
changes a whole one.

In split mode ``<gitdir>/index`` holds only what changed since a shared index
``<gitdir>/sharedindex.<sha1>`` (which git never rewrites: its name is its checksum): a ``link``
extension names the shared index and carries two EWAH bitmaps over its entries (deleted ones,
replaced ones), the file's first entries replace the marked ones in order (with empty names: the
shared entry's name stands), and the rest are added. libgit2 cannot read such an index at all
(``unsupported mandatory extension: 'link'``), so gitsm reads it itself:

* a write changes only the split file: the changed paths become replacements, deletions or added
  entries (:meth:`SplitImage.patched`), so it costs the same at 20,000 entries as at 2,000; once
  the split file holds more than :data:`MAX_PERCENT_CHANGE` percent of the shared index's entries
  (git's ``splitIndex.maxPercentChange`` default), the merged entries become a new shared index,
  as git does, and git removes the old one when it expires (``splitIndex.sharedIndexExpire``);
* a shared index is verified against its name once; its entry lengths and offsets are kept in
  ``<gitdir>/gitsm-sharedindex.meta`` (:data:`.sharedindex.SHARED_META`) under its name, size
  and inode, and it is mapped, not read, so the next write neither hashes nor walks its
  megabytes; it is freshened (its mtime touched) whenever an index that uses it is written, as
  git freshens it;
* readers that go through libgit2 (the hooks' staged changes) get the merged index as a plain
  file (:func:`merged_bytes`).

An index gitsm writes stays in the form it found (split or not): git decides the form when it
writes the index itself, from ``core.splitIndex``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gitsm.gitrepo import racy, sharedindex
from gitsm.gitrepo.ewah import ewah_bits, ewah_bytes
from gitsm.gitrepo.indexfile import (
    _EXTENDED,
    _FIXED,
    _HEADER,
    _NAME_MASK,
    _STAGE_MASK,
    _TRAILER,
    IndexImage,
    NewEntry,
    Patched,
    Unsupported,
    _encode,
    entry_key,
    load_file,
)
from gitsm.gitrepo.sharedindex import LINK, SHARED_PREFIX

MAX_PERCENT_CHANGE = 20
Key = tuple[bytes, int]
"""(path, stage): an entry's place in git's order."""


def _stage_of(raw: bytes | memoryview) -> int:
    return (int.from_bytes(raw[60:62], "big") & _STAGE_MASK) >> 12


def _stripped(raw: bytes | memoryview) -> bytes:
    """The entry ``raw`` with an empty name (how the split file stores a replacement)."""
    flags = int.from_bytes(raw[60:62], "big")
    fixed = _FIXED + (2 if flags & _EXTENDED else 0)
    head = bytes(raw[:60]) + (flags & ~_NAME_MASK).to_bytes(2, "big") + bytes(raw[62:fixed])
    return head + b"\0" * (((fixed + 8) & ~7) - fixed)


def _named(stripped: bytes, name: bytes) -> bytes:
    """A replacement ``stripped`` given back the shared entry's ``name``."""
    flags = int.from_bytes(stripped[60:62], "big")
    fixed = _FIXED + (2 if flags & _EXTENDED else 0)
    flags = (flags & ~_NAME_MASK) | min(len(name), _NAME_MASK)
    raw = stripped[:60] + flags.to_bytes(2, "big") + stripped[62:fixed] + name
    return raw + b"\0" * (((fixed + len(name) + 8) & ~7) - fixed - len(name))


def _smudged(raw: bytes) -> bytes:
    """The entry with its size set to 0 (git's mark of a racily clean entry that changed)."""
    return raw[:36] + b"\0\0\0\0" + raw[40:]


@dataclass
class SplitImage:
    """A split index: the shared index's entries (``shared``), and what the split file changes:
    shared positions ``deleted``, shared positions ``replaced`` (stripped entries), entries
    ``added`` (by path and stage). ``racy_before``, ``suspects``, ``verified`` and ``index_ns``
    as for :class:`IndexImage`."""

    gitdir: Path
    version: int
    shared_name: bytes
    shared: IndexImage
    deleted: set[int]
    replaced: dict[int, bytes]
    added: dict[Key, bytes]
    racy_before: int
    suspects: list[str] | None
    trailer: bytes
    fsync: bool = False
    verified: frozenset[str] = frozenset()
    index_ns: int = 0
    _conflicted: bool | None = field(default=None, repr=False)

    @property
    def conflicted(self) -> bool:
        """Some entry of the merged index has a stage."""
        if self._conflicted is None:
            staged = any(_stage_of(raw) for raw in [*self.replaced.values(), *self.added.values()])
            self._conflicted = (staged or self.shared.conflicted) and bool(self.unmerged_paths())
        return self._conflicted

    def unmerged_paths(self) -> list[str]:
        """The paths with conflict entries in the merged index, sorted."""
        found = {os.fsdecode(path) for (path, stage), _ in self._entries() if stage}
        return sorted(found)

    def _shared_at(self, path: bytes) -> Iterator[int]:
        """The shared positions holding entries of ``path``."""
        offsets = self.shared.offsets()
        position = self.shared.position(os.fsdecode(path))
        while position < len(self.shared.lengths):
            if self.shared.path_at(offsets[position])[0] != path:
                return
            yield position
            position += 1

    def _shared_raw(self, position: int) -> bytes | memoryview:
        return _entry_at(self.shared, position)

    def stages(self, path: str) -> dict[int, str]:
        """Stage -> blob id of the entries of ``path`` (stage 0 alone when it is merged)."""
        key, out = os.fsencode(path), {}
        for position in self._shared_at(key):
            if position in self.deleted:
                continue
            raw = self.replaced.get(position) or self._shared_raw(position)
            out[_stage_of(raw)] = bytes(raw[40:60]).hex()
        for (name, stage), raw in self.added.items():
            if name == key:
                out[stage] = raw[40:60].hex()
        return out

    def _entries(self) -> Iterator[tuple[Key, bytes | memoryview]]:
        """Every entry of the merged index, in git's order (only for rare whole walks)."""
        return _merged(self.shared, self.deleted, self.replaced, self.added)

    def patched(self, changes: dict[str, NewEntry | None], workdir: Path) -> Patched:
        """The new split file: ``changes`` applied (see :meth:`IndexImage.patched`), racily clean
        entries that changed smudged; a new shared index instead once the split file would hold
        more than :data:`MAX_PERCENT_CHANGE` percent of the shared one's entries."""
        deleted, replaced, added = set(self.deleted), dict(self.replaced), dict(self.added)
        still_racy, verified = self._smudge(workdir, set(changes), replaced, added)
        for path, entry in changes.items():
            key = os.fsencode(path)
            stage0: int | None = None
            for position in self._shared_at(key):
                replaced.pop(position, None)
                deleted.add(position)
                if self.shared.path_at(self.shared.offsets()[position])[1] == 0:
                    stage0 = position
            for found in [k for k in added if k[0] == key]:
                del added[found]
            if entry is None:
                continue
            raw = _encode(entry)
            if stage0 is not None:
                deleted.discard(stage0)
                replaced[stage0] = _stripped(raw)
            else:
                added[(key, 0)] = raw
        written = [p for p, e in changes.items() if e is not None] + still_racy
        changed = len(replaced) + len(added)
        if changed * 100 > MAX_PERCENT_CHANGE * max(len(self.shared.lengths), 1):
            merged = _merged(self.shared, deleted, replaced, added)
            parts = sharedindex.resplit(self.gitdir, self.version, merged, self.fsync)
            return Patched(parts, array("I"), written, verified)
        sharedindex.freshen(self.gitdir / (SHARED_PREFIX + self.shared_name.hex()))
        entries = [replaced[p] for p in sorted(replaced)] + [added[k] for k in sorted(added)]
        lengths = array("I", map(len, entries))
        link = self.shared_name + ewah_bytes(sorted(deleted)) + ewah_bytes(sorted(replaced))
        body = b"".join([_HEADER.pack(b"DIRC", self.version, changed), *entries, LINK,
                         len(link).to_bytes(4, "big"), link])  # fmt: skip
        return Patched([body, hashlib.sha1(body).digest()], lengths, written, verified)

    def _smudge(
        self, workdir: Path, skip: set[str], replaced: dict[int, bytes], added: dict[Key, bytes]
    ) -> tuple[list[str], list[str]]:
        """Smudge (in ``replaced``/``added``) the racily clean entries whose file changed, as
        :meth:`IndexImage.patched` does; the paths of those racily clean but unchanged, and of
        those among them verified (:mod:`.racy`)."""
        unchanged: list[str] = []
        verified: list[str] = []
        for key, position, raw in self._racy_candidates(skip):
            mtime, size = struct.unpack_from(">I24xI", raw, 8)
            if mtime < self.racy_before or not size or _stage_of(raw):
                continue
            path = os.fsdecode(key)
            same, checked = racy.look(raw, workdir / path, verified=path in self.verified,
                                      index_ns=self.index_ns)  # fmt: skip
            if same:
                unchanged.append(path)
                if checked:
                    verified.append(path)
            elif position is None:
                added[(key, 0)] = _smudged(added[(key, 0)])
            else:
                replaced[position] = _smudged(replaced.get(position) or _stripped(raw))
        return unchanged, verified

    def _racy_candidates(
        self, skip: set[str]
    ) -> Iterator[tuple[bytes, int | None, bytes | memoryview]]:
        """(path, shared position or None when added, entry) of every entry that may be racily
        clean: all of them in an index another program wrote, else those gitsm wrote."""
        if self.suspects is None:
            keys: list[bytes] | None = None
        else:
            keys = [os.fsencode(p) for p in self.suspects if p not in skip]
        if keys is None:
            offsets = self.shared.offsets()
            for position in range(len(self.shared.lengths)):
                if position not in self.deleted:
                    key = self.shared.path_at(offsets[position])[0]
                    if os.fsdecode(key) not in skip:
                        raw = self.replaced.get(position) or self._shared_raw(position)
                        yield key, position, raw
            yield from (
                (k, None, raw) for (k, _), raw in self.added.items() if os.fsdecode(k) not in skip
            )
            return
        for key in keys:
            if (key, 0) in self.added:
                yield key, None, self.added[(key, 0)]
                continue
            for position in self._shared_at(key):
                if position not in self.deleted:
                    yield key, position, self.replaced.get(position) or self._shared_raw(position)


def _entry_at(image: IndexImage, position: int) -> memoryview:
    """The bytes of entry number ``position`` of ``image``, not copied."""
    offsets = image.offsets()
    return memoryview(image.data)[offsets[position] : offsets[position + 1]]


def _merged(
    shared: IndexImage, deleted: set[int], replaced: dict[int, bytes], added: dict[Key, bytes]
) -> Iterator[tuple[Key, bytes | memoryview]]:
    """Every entry of the index ``shared`` with ``deleted``, ``replaced`` and ``added`` applied,
    in git's order."""
    out: list[tuple[Key, bytes | memoryview]] = []
    offsets = shared.offsets()
    for position in range(len(shared.lengths)):
        if position in deleted:
            continue
        name, stage = shared.path_at(offsets[position])
        stripped = replaced.get(position)
        raw = _named(stripped, name) if stripped else _entry_at(shared, position)
        out.append(((name, stage), raw))
    out += added.items()
    if added:
        out.sort(key=lambda item: item[0])
    return iter(out)


def resolve(gitdir: Path, image: IndexImage, *, fsync: bool = False) -> SplitImage | IndexImage:
    """``image`` as the index it stands for: itself, or with its link extension read, the split
    index over its shared index (Unsupported when either cannot be read as git reads it);
    ``fsync``: whether a new shared index it writes is synced to disk."""
    link = image.link
    if link is None:
        return image
    name = link[:_TRAILER]
    if len(name) < _TRAILER or name == bytes(_TRAILER):
        raise Unsupported("a link extension without a shared index")
    deleted: list[int] = []
    replaced_at: list[int] = []
    if len(link) > _TRAILER:
        deleted, end = ewah_bits(link, _TRAILER)
        replaced_at, end = ewah_bits(link, end)
        if end != len(link):
            raise Unsupported("garbage at the end of the link extension")
    shared = sharedindex.load_shared(gitdir, name)
    total = len(shared.lengths)
    if (deleted and deleted[-1] >= total) or (replaced_at and replaced_at[-1] >= total):
        raise Unsupported("the link extension names entries past the shared index's end")
    if set(deleted) & set(replaced_at) or len(replaced_at) > len(image.lengths):
        raise Unsupported("the link extension's bitmaps do not fit the split file")
    offsets = image.offsets()
    added: dict[Key, bytes] = {}
    data = image.data if isinstance(image.data, bytes) else bytes(image.data)  # load_file: bytes
    count = len(replaced_at)
    starts = offsets[:count]
    foreign = image.suspects is None  # a split file gitsm wrote has nameless replacements
    if foreign and any(data[at + 61] or data[at + 60] & 0x0F for at in starts):
        raise Unsupported("a replacement entry with a name in the split file")
    ends = offsets[1 : count + 1]
    spans = [data[a:b] for a, b in zip(starts, ends, strict=True)]
    replaced = dict(zip(replaced_at, spans, strict=True))
    for n in range(count, len(image.lengths)):
        raw = data[offsets[n] : offsets[n + 1]]
        key = entry_key(raw)
        if not key[0]:
            raise Unsupported("an added entry without a name in the split file")
        added[key] = raw
    version = max(image.version, shared.version)  # 3 when either holds extended flags
    return SplitImage(gitdir, version, name, shared, set(deleted), replaced, added,
                      image.racy_before, image.suspects, image.trailer, fsync, image.verified,
                      image.index_ns)  # fmt: skip


def merged_bytes(index_file: Path, gitdir: Path) -> bytes | None:
    """The index file ``index_file`` as a plain (unsplit) index when it is a split one (for
    readers such as libgit2 that cannot follow a link extension), else None."""
    try:
        if not any(name.startswith(SHARED_PREFIX) for name in os.listdir(gitdir)):
            return None  # no shared index: no split index can be read here (a quick look)
        split = resolve(gitdir, load_file(index_file, None))
    except (Unsupported, OSError):
        return None
    if not isinstance(split, SplitImage):
        return None
    entries = list(split._entries())
    body = _HEADER.pack(b"DIRC", split.version, len(entries)) + b"".join(r for _, r in entries)
    return body + hashlib.sha1(body).digest()


def plain_copy(source: Path, target: Path, gitdir: Path) -> None:
    """Copy the index file ``source`` to ``target``, merged into a plain index when it is split
    (libgit2 reads the copy); nothing is written when ``source`` does not exist."""
    merged = merged_bytes(source, gitdir)
    if merged is not None:
        target.write_bytes(merged)
        return
    with contextlib.suppress(FileNotFoundError):
        shutil.copyfile(source, target)
