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
"""

from __future__ import annotations

import _thread
import hashlib
from collections.abc import Set
from dataclasses import dataclass

MIN_BYTES = 1 << 20
"""Indexes smaller than this (about 6,000 entries) are hashed whole when written."""


@dataclass(frozen=True)
class Prehash:
    """The new index's header, its first changed entry, the old index's bytes the entries before
    it come from, and the hash of both running (``done`` is held until it has finished;
    ``hashed`` holds True once it hashed all of them)."""

    header: bytes
    first: int
    source: object
    digest: hashlib._Hash
    done: _thread.LockType
    hashed: list[bool]

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


def start(header: bytes, first: int, body: memoryview) -> Prehash:
    """Begin hashing ``header`` and ``body`` (the entries before entry ``first``, a view of the
    old index's bytes) in a thread (started without waiting for it to run, as ``threading``
    would: 0.02 ms, not 0.12)."""
    digest = hashlib.sha1(header)
    done, hashed = _thread.allocate_lock(), []
    done.acquire()

    def run() -> None:
        try:
            digest.update(body)
            hashed.append(True)
        finally:
            done.release()

    _thread.start_new_thread(run, ())
    return Prehash(header, first, body.obj, digest, done, hashed)
