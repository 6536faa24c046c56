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
"""

from __future__ import annotations

import _thread
import hashlib
from collections.abc import Set
from dataclasses import dataclass

from gitsm.gitrepo.spareindex import Early

MIN_BYTES = 1 << 20
"""Indexes smaller than this (about 6,000 entries) are hashed whole when written."""


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

    _thread.start_new_thread(run, ())
    return Prehash(header, first, body.obj, digest, done, hashed, layout, spare)
