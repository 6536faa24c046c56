"""gitsm's record of the index file it wrote last: ``<gitdir>/gitsm-index.meta`` (:data:`META_NAME`).

The record names the index by its SHA-1 trailer and holds every entry's length and byte offset
(and where the entries end), the paths gitsm wrote into it or found still racily clean, and those
of them verified (:mod:`.racy`). While the index's trailer is the one recorded, the next write
finds any entry at once: without the record it walks the whole index (about 6 ms at 20,000
entries), and from the lengths alone it would still add them up (0.3 ms). After anyone else wrote
the index (``git add``, a ``git status`` that refreshed it) the trailer differs and the record is
ignored.

The offsets of the next index are the old ones moved by what each change added or cut
(:func:`shifted`), so no write adds up all its entries.

The record is overwritten in place, not written as a new file renamed over the old one (making
and renaming a file cost a write 0.4 ms at 1,000 secrets and 0.7 ms at 10,000, where its 160 KB
of blocks are also freed). A CRC-32 of the record's content, after the magic line, tells a record
that a crash or a power loss left half written, or that a reader read while it was rewritten
(readers hold gitsm's write lock, but no lock is assumed): such a record is ignored, and the
next write walks the index.
"""

from __future__ import annotations

import binascii
import contextlib
import itertools
import os
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path

META_NAME = "gitsm-index.meta"
_MAGIC = b"gitsm-index-meta 5\n"
_CRC = 4
_TRAILER = 20
_HEADER_SIZE = 12
_LANE = array("I").itemsize
_ONE = (1).to_bytes(_LANE, sys.byteorder)


@dataclass(frozen=True)
class Record:
    """What the record says of the index it names: ``offsets`` has one more item than
    ``lengths``, where the last entry ends."""

    lengths: array[int]
    offsets: array[int]
    written: list[str]
    verified: frozenset[str]


def offsets_of(lengths: array[int]) -> array[int]:
    """The offset of every entry of an index whose entries have ``lengths``, and their end."""
    return array("I", itertools.accumulate(lengths, initial=_HEADER_SIZE))


def shifted(values: array[int], delta: int) -> array[int]:
    """``values`` (an ``array("I")``) with ``delta`` added to each, as one addition of big
    integers rather than a Python loop over them: the packed array read as one integer plus
    ``delta`` times the integer whose every lane holds 1. A lane never carries or borrows into
    the next as long as each sum fits a lane, which holds for the offsets of a file shorter than
    4 GiB (otherwise ``to_bytes`` raises OverflowError: offsets grow, so the last lane is the
    largest)."""
    if not delta or not values:
        return array("I", values)
    raw = values.tobytes()
    ones = int.from_bytes(_ONE * len(values), sys.byteorder)
    total = int.from_bytes(raw, sys.byteorder) + delta * ones
    out = array("I")
    out.frombytes(total.to_bytes(len(raw), sys.byteorder))
    return out


def save(
    gitdir: Path, trailer: bytes, lengths: array[int], offsets: array[int],
    written: list[str], verified: list[str],
) -> None:  # fmt: skip
    """Record the index named by ``trailer`` (best effort: without the record, the next write
    walks the index)."""
    listed = "\n".join(written) + "\0" + "\n".join(verified)
    paths = listed.encode("utf-8", "surrogateescape")
    body = b"".join([trailer, len(lengths).to_bytes(4, "big"), lengths, offsets, paths])
    record = memoryview(_MAGIC + binascii.crc32(body).to_bytes(_CRC, "big") + body)
    # not a FIFO someone put there: opening one to write would wait for a reader
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(gitdir / META_NAME, flags, 0o666)
        try:
            at = 0
            while at < len(record):
                at += os.pwrite(fd, record[at:], at)
            os.ftruncate(fd, at)
        finally:
            os.close(fd)
    except OSError:
        forget(gitdir)


def forget(gitdir: Path) -> None:
    """Remove the record (the index is being written another way)."""
    with contextlib.suppress(OSError):
        (gitdir / META_NAME).unlink()


def load(gitdir: Path, data: bytes | bytearray, count: int) -> Record | None:
    """The record of the index file whose bytes are ``data`` and whose header counts ``count``
    entries, when the record is of exactly this file."""
    try:
        raw = (gitdir / META_NAME).read_bytes()
    except OSError:
        return None
    start = len(_MAGIC) + _CRC
    head = start + _TRAILER
    trailer = data[-_TRAILER:]
    if raw[: len(_MAGIC)] != _MAGIC or raw[start:head] != trailer:
        return None
    if binascii.crc32(memoryview(raw)[start:]) != int.from_bytes(raw[len(_MAGIC) : start], "big"):
        return None
    if trailer == bytes(_TRAILER) or raw[head : head + 4] != count.to_bytes(4, "big"):
        return None
    middle = head + 4 + _LANE * count
    end = middle + _LANE * (count + 1)
    if len(raw) < end:
        return None
    lengths, offsets = array("I"), array("I")
    lengths.frombytes(raw[head + 4 : middle])
    offsets.frombytes(raw[middle:end])
    # gitsm writes no extension but a split index's link: the entries end before the trailer
    if offsets[0] != _HEADER_SIZE or offsets[-1] > len(data) - _TRAILER:
        return None
    written, _, verified = raw[end:].decode("utf-8", "surrogateescape").partition("\0")
    return Record(
        lengths,
        offsets,
        written.split("\n") if written else [],
        frozenset(verified.split("\n")) if verified else frozenset(),
    )


def known_clean(gitdir: Path) -> bool:
    """True when the index is the one gitsm last wrote (no conflict entries), judged from its
    trailer and the record without reading the rest of either."""
    try:
        with open(gitdir / META_NAME, "rb") as file:
            raw = file.read(len(_MAGIC) + _CRC + _TRAILER)
        with open(gitdir / "index", "rb") as file:
            file.seek(-_TRAILER, os.SEEK_END)
            trailer = file.read(_TRAILER)
    except OSError:
        return False
    # the trailer names the index gitsm wrote (whatever the rest of the record holds)
    if len(raw) != len(_MAGIC) + _CRC + _TRAILER or not raw.startswith(_MAGIC):
        return False
    return raw[-_TRAILER:] == trailer != bytes(_TRAILER)
