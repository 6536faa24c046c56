"""git's index file (versions 2 and 3) changed entry by entry, without rewriting it through libgit2.

libgit2 parses and re-serialises every entry of the index to change one: at 10,000 secrets (20,000
entries, 3 MB) reading and writing it cost 38 of a write's 60 ms. gitsm changes only the entries a
write touches: the new index is the old file's bytes with those entries replaced, inserted or cut
out (every other entry byte for byte as it was), a new entry count and a new SHA-1 trailer. What
remains in proportion to the index's size is copying its bytes and hashing them (C speed: about
3 ms at 3 MB) and writing the file.

Finding an entry needs the offset of every entry. A walk over all entries finds them (about 6 ms at
20,000 entries), so gitsm keeps them beside the index it wrote (:mod:`.indexmeta`). While the
index's trailer is the one recorded, the offsets are known, it has no conflict entries and its
checksum is not computed again (git checks an index's checksum only in ``git fsck``); after anyone
else wrote the index (``git add``, a ``git status`` that refreshed it) the next write checks its
checksum and walks it once.

What the patched index carries, and why it is as safe as git's own writes:

* Entries gitsm writes carry the file's stat data, as ``git add`` records it. git's racy-clean rule
  is kept as git keeps it when it rewrites an index: an entry modified in or after the second of
  the index that was read is "racily clean" (its stat data cannot tell an edit made in that second),
  so its file is hashed, and when it changed the entry's size is set to 0 ("smudged": git then
  compares content). In an index another program wrote, every entry is looked at; in one gitsm
  wrote, only the entries it wrote (the record names them): all others were looked at before.
* Extensions are dropped: the cache tree (``TREE``) is stale for the changed paths, and git rebuilds
  it on the next ``git commit`` (until then git compares the index with HEAD entry by entry); the
  others are optional caches (untracked cache, fsmonitor, offsets) or resolve-undo data, which
  libgit2 did not keep either. A split index (its ``link`` extension) is read and changed by
  :mod:`.splitindex`. An index with another mandatory extension (sparse index), of version 4
  (compressed paths), or that does not parse, is left to libgit2 (:class:`Unsupported`).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitsm.gitrepo import indexmeta, keptindex, prehash, racy
from gitsm.gitrepo.prehash import Prehash
from gitsm.gitrepo.racy import STAT as _STAT
from gitsm.gitrepo.racy import U32 as _U32
from gitsm.gitrepo.spareindex import Early

_HEADER = struct.Struct(">4sII")
_FIXED = 62  # stat data (40), object id (20), flags (2)
_EXTENDED = 0x4000
_NAME_MASK = 0x0FFF
_STAGE_MASK = 0x3000
_TRAILER = 20


class Unsupported(Exception):
    """The index is in a form this module does not change (libgit2 does it instead)."""


@dataclass(frozen=True)
class NewEntry:
    """A stage-0 entry to put into the index: the path, its git mode and blob id, and the
    ``lstat`` of the file just written there."""

    path: str
    mode: int
    oid: str
    stat: os.stat_result


def entry_key(
    data: bytes | bytearray | memoryview | mmap.mmap, offset: int = 0
) -> tuple[bytes, int]:
    """(path, stage) of the index entry at ``offset`` of ``data`` (an empty path for a split
    file's replacement)."""
    flags = int.from_bytes(data[offset + 60 : offset + 62], "big")
    start = offset + _FIXED + (2 if flags & _EXTENDED else 0)
    size = flags & _NAME_MASK
    if size == _NAME_MASK:  # a path of 4,095 bytes or more ends at its NUL
        size = bytes(data[start : start + (1 << 16)]).find(b"\0")
    return bytes(data[start : start + size]), (flags & _STAGE_MASK) >> 12


@dataclass
class IndexImage:
    """The bytes of an index file and the length of each of its entries.

    ``racy_before``: the second of the index file's mtime: entries modified at or after it are
    racily clean against it; ``suspects``: the only paths whose entries can be (those gitsm wrote
    into it), or None when every entry must be looked at (an index another program wrote);
    ``conflicted``: some entry has a stage.
    """

    data: bytes | bytearray | mmap.mmap
    """A whole index read from its file is a ``bytearray`` (:mod:`.keptindex` changes it into the
    next index once that is written); a split file is ``bytes``, a shared index mapped."""
    version: int
    lengths: array[int]
    conflicted: bool
    racy_before: int = 0
    suspects: list[str] | None = None
    link: bytes | None = None
    """The payload of a split index's ``link`` extension (:mod:`.splitindex` reads it)."""
    verified: frozenset[str] = frozenset()
    """Suspects whose stat data alone tells a change (:mod:`.racy`)."""
    index_ns: int = 0
    """The index file's mtime in nanoseconds."""
    _offsets: array[int] | None = field(default=None, repr=False)

    @property
    def trailer(self) -> bytes:
        """The SHA-1 trailer of the index (its content's name)."""
        return bytes(self.data[-_TRAILER:])

    def offsets(self) -> array[int]:
        """The byte offset of every entry, and the end of the last one."""
        if self._offsets is None:
            self._offsets = indexmeta.offsets_of(self.lengths)
        return self._offsets

    def path_at(self, offset: int) -> tuple[bytes, int]:
        """(path, stage) of the entry at ``offset``."""
        return entry_key(self.data, offset)

    def position(self, path: str) -> int:
        """The number of the first entry whose path sorts at or after ``path`` (git's order:
        bytes, then stage)."""
        key, offsets, data = os.fsencode(path), self.offsets(), self.data
        lo, hi = 0, len(self.lengths)
        while lo < hi:  # entry_key inlined: a write looks up dozens of paths, 15 probes each
            mid = (lo + hi) // 2
            at = offsets[mid]
            flags = (data[at + 60] << 8) | data[at + 61]
            size = flags & _NAME_MASK
            found: bytes | bytearray
            if size == _NAME_MASK:
                found = entry_key(data, at)[0]
            else:
                start = at + _FIXED + (2 if flags & _EXTENDED else 0)
                found = data[start : start + size]
            if found < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def entries(self, path: str) -> range:
        """The numbers of the entries of ``path`` (one per stage; empty when it has none)."""
        key, offsets = os.fsencode(path), self.offsets()
        first = last = self.position(path)
        while last < len(self.lengths) and self.path_at(offsets[last])[0] == key:
            last += 1
        return range(first, last)

    def stages(self, path: str) -> dict[int, str]:
        """Stage -> blob id of the entries of ``path`` (stage 0 alone when it is merged)."""
        offsets = self.offsets()
        return {self.path_at(offsets[n])[1]: self.data[offsets[n] + 40 : offsets[n] + 60].hex()
                for n in self.entries(path)}  # fmt: skip

    def header(self, count: int) -> bytes:
        """The header of an index written from this one with ``count`` entries."""
        return _HEADER.pack(b"DIRC", self.version if self.version in (2, 3) else 2, count)

    def prehash(self, present: Mapping[str, bool], spare: Early | None = None) -> Prehash | None:
        """Begin hashing what the index patched from this one will start with, when each path
        of ``present`` gets one stage-0 entry (True) or none (False) (:mod:`.prehash`), and with
        ``spare``, filling it with what that index takes from this one. None when this index is
        small, split, or one whose entries must all be checked for racy cleanliness when
        written."""
        if not present or self.link is not None or self.suspects is None:
            return None
        if len(self.data) < prehash.MIN_BYTES:
            return None
        offsets = self.offsets()
        layout = tuple(
            (found.start, len(found), _entry_length(path) if present[path] else 0)
            for path in sorted(present, key=os.fsencode)
            for found in (self.entries(path),)
        )
        count = len(self.lengths) + sum(int(bool(new)) - replaced for _, replaced, new in layout)
        return prehash.foresee(memoryview(self.data), offsets, self.header(count), layout, spare)

    def patched(
        self, changes: dict[str, NewEntry | None], workdir: Path, prehashed: Prehash | None = None
    ) -> Patched:
        """The new index: ``changes`` applied (a path -> its new stage-0 entry, or None to remove
        every entry of it), racily clean entries whose file (in ``workdir``) changed smudged,
        extensions dropped, a new trailer (its start hashed already when ``prehashed`` foresaw
        this index: :mod:`.prehash`)."""
        if self.link is not None:
            raise Unsupported("a split index is changed through splitindex.resolve")
        offsets, lengths = self.offsets(), array("I", self.lengths)
        cuts: list[tuple[int, int, bytes]] = []  # (first entry, entries replaced, new bytes)
        for path in sorted(changes, key=os.fsencode):
            found, entry = self.entries(path), changes[path]
            cuts.append((found.start, len(found), b"" if entry is None else _encode(entry)))
        view = memoryview(self.data)
        parts: list[bytes | memoryview] = [b""]  # the header, once the count is known
        spans: list[tuple[int, int, int]] = []  # (part, first entry, entry after the last)
        new_offsets, at, delta = array("I"), 0, 0
        for first, replaced, new in cuts:
            spans.append((len(parts), at, first))
            parts += [view[offsets[at] : offsets[first]], new]
            new_offsets += indexmeta.shifted(offsets[at:first], delta)
            if new:
                new_offsets.append(offsets[first] + delta)
            delta += len(new) - (offsets[first + replaced] - offsets[first])
            at = first + replaced
        spans.append((len(parts), at, len(lengths)))
        parts.append(view[offsets[at] : offsets[len(lengths)]])
        new_offsets += indexmeta.shifted(offsets[at:], delta)  # and where the entries end
        for first, replaced, new in reversed(cuts):
            lengths[first : first + replaced] = array("I", [len(new)] if new else [])
        parts[0] = header = self.header(len(lengths))
        changed_at = cuts[0][0] if cuts else None
        # the rest hashed in a thread while the racily clean entries are looked at
        ahead = prehash.ahead(self.data, header, parts, changed_at, prehashed)
        smudge, still_racy, verified = racy.smudged(self, offsets, workdir, set(changes))
        for number, start, stop in spans if smudge else ():
            parts[number] = self._span(offsets, start, stop, smudge)
        edits = [(offsets[n] + 36, offsets[n] + 40, b"\0\0\0\0") for n in smudge]
        edits += [(offsets[f], offsets[f + r], new) for f, r, new in cuts]
        edits.sort(key=lambda edit: edit[0])
        spare, early = None, frozenset[int]()
        if prehashed is not None and cuts:
            layout = tuple((first, replaced, len(new)) for first, replaced, new in cuts)
            spare = prehashed.filled(self.data, header, layout)
        if spare is not None:  # the header and the old bytes not smudged are in it already
            early = frozenset(n for n, part in enumerate(parts) if isinstance(part, memoryview))
            early |= {0}
        parts.append(
            prehash.trailer(self.data, header, parts, changed_at, prehashed, ahead, smudge)
        )
        # the next write checks again what it wrote and what is still racily clean here: git
        # re-checks every racily clean entry whenever it writes an index, and so must gitsm, or
        # an edit made in the same second as an earlier index would stay hidden from git
        written = [p for p, e in changes.items() if e is not None] + still_racy
        return Patched(parts, lengths, written, verified, new_offsets, edits, spare, early)

    def _span(
        self, offsets: array[int], start: int, stop: int, racy: set[int]
    ) -> bytes | memoryview:
        """The bytes of entries ``start`` to ``stop`` (excluded), racy ones smudged."""
        chunk = memoryview(self.data)[offsets[start] : offsets[stop]]
        smudge = sorted(n for n in racy if start <= n < stop)
        if not smudge:
            return chunk
        out = bytearray(chunk)
        for n in smudge:
            at = offsets[n] - offsets[start] + 36
            out[at : at + 4] = b"\0\0\0\0"
        return bytes(out)


@dataclass(frozen=True)
class Patched:
    """A new index file: its bytes in ``parts`` (the last one its trailer), the length of each of
    its entries, the paths whose entries gitsm wrote into it or found still racily clean, and
    those of them verified (:mod:`.racy`)."""

    parts: list[bytes | memoryview]
    lengths: array[int]
    written: list[str]
    verified: list[str] = field(default_factory=list)
    offsets: array[int] | None = None
    """Every entry's offset and where they end (None: added up from ``lengths`` when saved)."""
    edits: list[tuple[int, int, bytes]] | None = None
    """What changed from the old index's bytes: (start, end, new bytes), in order of start."""
    spare: Early | None = None
    """The spare filled ahead of this index (:mod:`.prehash`), holding the parts numbered in
    ``early`` already."""
    early: frozenset[int] = frozenset()

    def record(self) -> indexmeta.Record:
        """gitsm's record of this index (:mod:`.indexmeta`)."""
        offsets = self.offsets if self.offsets is not None else indexmeta.offsets_of(self.lengths)
        return indexmeta.Record(self.lengths, offsets, self.written, frozenset(self.verified))

    def save_meta(self, gitdir: Path) -> indexmeta.Record:
        """Record this index's entries and written paths beside it (:mod:`.indexmeta`); the
        record saved."""
        known = self.record()
        indexmeta.save(gitdir, bytes(self.parts[-1]), known.lengths, known.offsets, known.written,
                       self.verified)  # fmt: skip
        return known


def _entry_length(path: str) -> int:
    """The length of the stage-0 entry :func:`_encode` makes for ``path``."""
    raw = _FIXED + len(os.fsencode(path))
    return raw + 8 - raw % 8


def _encode(entry: NewEntry) -> bytes:
    """A stage-0 index entry (no extended flags) for ``entry``, with the file's stat data."""
    st = entry.stat
    name = os.fsencode(entry.path)
    fields = (
        st.st_ctime_ns // 10**9 & _U32, st.st_ctime_ns % 10**9, st.st_mtime_ns // 10**9 & _U32,
        st.st_mtime_ns % 10**9, st.st_dev & _U32, st.st_ino & _U32, entry.mode,
        st.st_uid & _U32, st.st_gid & _U32, st.st_size & _U32,
    )  # fmt: skip
    flags = min(len(name), _NAME_MASK).to_bytes(2, "big")
    raw = _STAT.pack(*fields) + bytes.fromhex(entry.oid) + flags + name
    return raw + b"\0" * (8 - len(raw) % 8)


def _walk(
    data: bytes | bytearray | mmap.mmap, version: int, count: int
) -> tuple[array[int], bool, int]:
    """Every entry's length, whether one has a stage, and where the extensions begin."""
    lengths, conflicted, offset = array("I"), False, 12
    end = len(data) - _TRAILER
    for _ in range(count):
        if offset + _FIXED > end:
            raise Unsupported("an entry runs past the end of the index")
        flags = (data[offset + 60] << 8) | data[offset + 61]
        start = offset + _FIXED + (2 if flags & _EXTENDED else 0)
        if flags & _EXTENDED and version < 3:
            raise Unsupported("extended flags in a version 2 index")
        size = flags & _NAME_MASK
        if size == _NAME_MASK:
            size = data.find(b"\0", start) - start
            if size < 0:
                raise Unsupported("an entry's path has no end")
        length = (start - offset + size + 8) & ~7
        if data[start + size : offset + length].strip(b"\0"):
            raise Unsupported("an entry is not padded with NUL bytes")
        conflicted = conflicted or bool(flags & _STAGE_MASK)
        lengths.append(length)
        offset += length
    if offset > end:
        raise Unsupported("the entries run past the end of the index")
    return lengths, conflicted, offset


def _check_extensions(data: bytes | bytearray | mmap.mmap, offset: int) -> bytes | None:
    """The payload of the split index's ``link`` extension, if there is one; Unsupported for
    any other mandatory extension (its signature starts with a lower-case letter: git refuses an
    index it does not understand, and so does this module)."""
    end, link = len(data) - _TRAILER, None
    while offset < end:
        if offset + 8 > end:
            raise Unsupported("a truncated extension header")
        signature, size = (
            data[offset : offset + 4],
            int.from_bytes(data[offset + 4 : offset + 8], "big"),
        )
        if signature == b"link" and link is None:
            link = bytes(data[offset + 8 : offset + 8 + size])
        elif not b"A" <= signature[:1] <= b"Z":
            raise Unsupported(f"the mandatory extension {signature!r}")
        offset += 8 + size
    if offset != end:
        raise Unsupported("the extensions do not end at the trailer")
    return link


def load(gitdir: Path) -> IndexImage:
    """The index of ``gitdir`` (an empty one when there is no index file). Raises Unsupported
    when it is not one this module changes, OSError when it cannot be read. A split index comes
    with its ``link`` set: :func:`.splitindex.resolve` reads the rest."""
    return load_file(gitdir / "index", gitdir)


def load_file(path: Path, gitdir: Path | None) -> IndexImage:
    """The index file ``path``, as :func:`load` reads it; ``gitdir``: where gitsm's record of the
    index it wrote is (None: look at every entry)."""
    try:
        with open(path, "rb") as file:
            st = os.fstat(file.fileno())
            mtime_ns = st.st_mtime_ns
            kept = keptindex.take(file, path, st) if gitdir is not None else None
            data: bytes | bytearray = kept[0] if kept is not None else keptindex.read(file, st)
    except FileNotFoundError:
        body = _HEADER.pack(b"DIRC", 2, 0)
        return IndexImage(body + hashlib.sha1(body).digest(), 2, array("I"), conflicted=False)
    if len(data) < 12 + _TRAILER:
        raise Unsupported("the index is shorter than its header")
    signature, version, count = _HEADER.unpack_from(data)
    if signature != b"DIRC" or version not in (2, 3):
        raise Unsupported(f"index version {version}")
    known = kept[1] if kept is not None else None
    if known is None and gitdir is not None:
        known = indexmeta.load(gitdir, data, count)
    if known is not None:  # the index gitsm wrote: its checksum was right when written
        link = _check_extensions(data, known.offsets[-1])
        if link is not None:  # a split file (splitindex): a few entries, kept as bytes
            data = bytes(data)
        return IndexImage(data, version, known.lengths, False, mtime_ns // 10**9, known.written,
                          link, known.verified, mtime_ns, known.offsets)  # fmt: skip
    trailer = data[-_TRAILER:]
    if trailer != bytes(_TRAILER) and hashlib.sha1(data[:-_TRAILER]).digest() != trailer:
        # a damaged index is never re-signed as a good one (libgit2 then refuses it)
        raise Unsupported("the index's checksum does not match its content")
    lengths, conflicted, end = _walk(data, version, count)
    link = _check_extensions(data, end)
    if link is not None:
        data = bytes(data)
    return IndexImage(data, version, lengths, conflicted, racy_before=mtime_ns // 10**9,
                      link=link, index_ns=mtime_ns)  # fmt: skip
