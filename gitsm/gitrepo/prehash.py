"""The start of the next index's checksum, hashed beside the commit that the index will follow.

A write to a checkout changes a few entries of git's index, and the new index's SHA-1 trailer is
computed over all of it (git checks it in ``git fsck``): at 10,000 secrets (3 MB) that is about
1.5 ms of a write, the one part that grows with the store. SHA-1 runs from the start of the file
to its end, and what a write changes (the entry count in the header, then its own entries) is
known before its commit is made: everything before the first changed entry is the old index's
bytes. :meth:`.IndexImage.prehash` hashes the new header and those bytes in a thread while the
objects, the commit and the ref are written (``hashlib`` lets go of the interpreter lock while it
hashes), and :meth:`Prehash.take` hands that state to :meth:`.IndexImage.patched`, which hashes
only the rest.

The state is taken only when the index patched is exactly the one foreseen: from the same bytes
of the old index, with the same header (so the same entry count), the first change at the same
entry, and no entry before it smudged as racily clean (smudging changes its bytes); otherwise the
whole index is hashed as before. Indexes
under :data:`MIN_BYTES` are hashed as before: a thread costs about what hashing them does.

The same thread then fills the spare index file (:class:`.spareindex.Early`) with everything the
new index takes unchanged from the old one: the header, and the old bytes at the places they
will have once the new entries (whose lengths are known from their paths) take theirs, zeros in
the new entries' places: one ``pwritev``, which lets go of the interpreter lock too. Once the
write's files are placed, :func:`.spareindex.write` writes only the new entries, any entry
smudged since and the trailer, and swaps the spare in. A spare filled for a write that then goes
otherwise (another layout, a failure before the ref moved) is given up, its lease released: the
spare holds no index until the next write fills it.

What follows the first change can only be hashed once the write's files are placed (the new
entries carry their stat data). A write then looks at the entries still racily clean, reading
their files (about 1 ms in a burst of writes, where the entries of the writes just before are
such); :func:`ahead` hashes the rest in a second thread meanwhile (:func:`rest`), and
:func:`trailer` takes that hash when the look smudged nothing, or hashes the index again.
"""

from __future__ import annotations

import _thread
import hashlib
from array import array
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass

from gitsm.gitrepo.spareindex import Early

MIN_BYTES = 1 << 20
"""Indexes smaller than this (about 6,000 entries) are hashed whole when written."""
REST_MIN_BYTES = 1 << 20
"""Less than this to hash once the write's files are placed, and it is hashed in the write's
path, not beside the racy look (:func:`rest`): at 0.3 MB a thread measured slower, at 1.4 MB
neither faster nor slower."""


Layout = tuple[tuple[int, int, int], ...]
"""Where a write changes the index: (first entry, entries replaced, length of the new bytes) for
each changed path, in order."""


@dataclass(frozen=True)
class Prehash:
    """The new index's header, its first changed entry, the old index's bytes the entries before
    it come from, and the hash of both running (``done`` is held until it has finished;
    ``hashed`` holds True once it hashed all of them); with ``spare``, the thread also fills the
    spare with the new index as ``layout`` foresees it (:class:`.spareindex.Early`)."""

    header: bytes
    first: int
    source: object
    digest: hashlib._Hash
    done: _thread.LockType
    hashed: list[bool]
    layout: Layout = ()
    spare: Early | None = None

    def take(
        self, source: object, header: bytes, first: int, smudged: Set[int]
    ) -> hashlib._Hash | None:
        """The SHA-1 state after the header and the entries before ``first`` of the old index
        ``source`` (none smudged), when those are what was hashed; None otherwise (the caller
        hashes everything)."""
        with self.done:  # the thread has finished
            pass
        if not self.hashed or source is not self.source:
            return None
        if header != self.header or first != self.first:
            return None
        if any(n < first for n in smudged):
            return None
        return self.digest

    def filled(self, source: object, header: bytes, layout: Layout) -> Early | None:
        """The spare filled ahead, when it was filled from ``source`` for an index with this
        ``header`` and ``layout``; None otherwise (the whole index is written)."""
        with self.done:
            pass
        if self.spare is None or self.spare.fd is None or source is not self.source:
            return None
        return self.spare if header == self.header and layout == self.layout else None

    def close(self) -> None:
        """Wait for the thread and give up the spare unless it was used (idempotent)."""
        with self.done:
            pass
        if self.spare is not None:
            self.spare.close()


def foresee(
    view: memoryview, offsets: array[int], header: bytes, layout: Layout, spare: Early | None
) -> Prehash:
    """Start the thread for an index written from the old one (``view``, its entries at
    ``offsets``) with ``header`` where ``layout`` says: hashing the start, and given a ``spare``,
    filling it (the old bytes at their new places, zeros for the new entries)."""
    first = layout[0][0]
    fill: list[bytes | memoryview] | None = None
    if spare is not None:
        fill, at = [header], 0
        for start_at, replaced, length in layout:
            fill += [view[offsets[at] : offsets[start_at]], bytes(length)]
            at = start_at + replaced
        fill.append(view[offsets[at] : offsets[-1]])
    return start(header, first, view[offsets[0] : offsets[first]], layout, spare, fill)


def start(
    header: bytes, first: int, body: memoryview, layout: Layout = (),
    spare: Early | None = None, fill: list[bytes | memoryview] | None = None,
) -> Prehash:  # fmt: skip
    """Begin hashing ``header`` and ``body`` (the entries before entry ``first``, a view of the
    old index's bytes) in a thread (started without waiting for it to run, as ``threading``
    would: 0.02 ms, not 0.12); then, given a ``spare``, filling it with ``fill`` (the new index as
    ``layout`` foresees it, placeholders for its new entries, no trailer)."""
    digest = hashlib.sha1(header)
    done, hashed = _thread.allocate_lock(), []
    done.acquire()
    parts = fill or []

    def run() -> None:
        try:
            digest.update(body)
            hashed.append(True)
            if spare is not None:
                spare.fill(parts)
        finally:
            for part in parts:  # the old index's buffer is changed in place once written
                if isinstance(part, memoryview):
                    part.release()
            parts.clear()
            done.release()

    _in_thread(run)
    return Prehash(header, first, body.obj, digest, done, hashed, layout, spare)


@dataclass(frozen=True)
class Rest:
    """The hash of the rest of a new index running in a thread (``done`` held until it has
    finished; ``hashed`` holds True once it hashed all of it)."""

    digest: hashlib._Hash
    done: _thread.LockType
    hashed: list[bool]

    def result(self) -> hashlib._Hash | None:
        """Wait for the thread; the state after all the parts, None when hashing them failed."""
        with self.done:
            pass
        return self.digest if self.hashed else None


def rest(digest: hashlib._Hash, parts: Sequence[bytes | memoryview]) -> Rest:
    """Begin hashing ``parts`` into ``digest`` in a thread: the new index once the write's files
    are placed, while the write looks at the racily clean entries (files it reads: the thread
    runs while it waits for them). The thread lets go of the parts before it ends.

    The caller waits until the thread runs: a new thread needs the interpreter lock to start, and
    the caller, running Python, would keep it from the thread for a while (0.5 ms measured: each
    time the caller lets go of it for a system call, it takes it back before the woken thread
    does)."""
    done, started = _thread.allocate_lock(), _thread.allocate_lock()
    hashed: list[bool] = []
    chunks = list(parts)
    done.acquire()
    started.acquire()

    def run() -> None:
        started.release()
        try:
            for number in range(len(chunks)):
                digest.update(chunks[number])
            hashed.append(True)
        finally:
            chunks.clear()  # a buffer still viewed cannot be kept (keptindex)
            done.release()

    _in_thread(run)
    started.acquire()  # lets go of the interpreter lock until the thread has it
    return Rest(digest, done, hashed)


def ahead(
    source: object, header: bytes, parts: Sequence[bytes | memoryview], first: int | None,
    prehashed: Prehash | None,
) -> Rest | None:  # fmt: skip
    """Start hashing the new index (``parts``, the trailer aside, from the old index ``source``,
    its first change at entry ``first``) in a thread, from the start foreseen when it is the one
    (:func:`rest`): :func:`trailer` uses it when no entry is smudged. None when there is less
    than :data:`REST_MIN_BYTES` to hash."""
    at = 1 if prehashed is None or first is None else 2
    if sum(len(part) for part in parts[at:]) < REST_MIN_BYTES:
        return None
    digest = (
        None
        if prehashed is None or first is None
        else prehashed.take(source, header, first, frozenset())
    )
    if digest is None:
        return rest(hashlib.sha1(header), parts[1:])
    return rest(digest.copy(), parts[2:])  # the state foreseen stays for a smudged index


def trailer(
    source: object, header: bytes, parts: Sequence[bytes | memoryview], first: int | None,
    prehashed: Prehash | None, hashing: Rest | None, smudged: Set[int],
) -> bytes:  # fmt: skip
    """The new index's SHA-1 trailer: from ``hashing`` when nothing was ``smudged`` since it
    started, otherwise hashed here (from the start foreseen when it holds)."""
    digest = hashing.result() if hashing is not None else None  # waited for in any case
    if smudged or digest is None:
        digest = None
        if prehashed is not None and first is not None:
            digest = prehashed.take(source, header, first, smudged)
        if digest is None:
            digest = hashlib.sha1(header)
            digest.update(parts[1])
        for part in parts[2:]:  # hashed and written in place: the old bytes never copied twice
            digest.update(part)
    return digest.digest()


def _in_thread(run: Callable[[], None]) -> None:
    """Run ``run`` in a new thread, or here when no thread can be started (a process at its
    thread limit): the write is then as slow as without one, never failed by it."""
    try:
        _thread.start_new_thread(run, ())
    except RuntimeError:
        run()
