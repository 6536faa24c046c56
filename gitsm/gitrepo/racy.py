"""git's racy-clean rule for the entries gitsm writes, without hashing the same file at every write.

An index entry whose file was modified in or after the second of the index file is "racily clean":
git cannot tell from its stat data whether the file changed since (it compares whole seconds), so
whoever writes the index must look at the content of such entries and smudge those that changed
(:mod:`.indexfile`, :mod:`.splitindex`). An entry stays racily clean for the rest of its second,
so a burst of writes used to hash every file written earlier in the same second, at every write.

gitsm needs the content only until one look happened after the file's own clock tick ended: from
then on any change to the file gives it a later mtime or ctime (file timestamps come from one
clock and only move forward), so its full-precision stat data is enough. Such an entry is recorded
as *verified* beside the index; at the next write a verified entry whose file still has exactly
the recorded stat data (ctime, mtime to the nanosecond, inode, size) is unchanged without being
read. A look counts as one after the file's tick when the file's mtime and ctime are more than
:data:`MARGIN_NS` older than the index that was read (written after the file; the same clock).
On a file system that keeps whole seconds only, that never holds within the racy second, and every
look reads the file, as before.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import stat
import struct
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

MARGIN_NS = 20_000_000
"""How much older than the index a file's timestamps must be for a look to count as one after
the file's clock tick (the kernel's file clock advances in ticks of at most 10 ms)."""
STAT = struct.Struct(">10I")
"""An index entry's stat data: ctime s/ns, mtime s/ns, dev, ino, mode, uid, gid, size."""
U32 = 0xFFFFFFFF


def blob_id(file: Path) -> bytes | None:
    """git's blob id of what is at ``file`` (a regular file's content, a symlink's target), None
    when it is neither or cannot be read."""
    try:
        mode = os.lstat(file).st_mode
        if stat.S_ISLNK(mode):
            data = os.fsencode(os.readlink(file))
        elif stat.S_ISREG(mode):
            data = file.read_bytes()
        else:
            return None
    except OSError:
        return None
    return hashlib.sha1(b"blob %d\0" % len(data) + data).digest()


def _same_stat(entry: bytes | bytearray | memoryview, st: os.stat_result) -> bool:
    fields: tuple[int, ...] = STAT.unpack_from(entry)
    c_s, c_ns, m_s, m_ns, _dev, ino, _mode, _uid, _gid, size = fields
    return (
        m_ns == st.st_mtime_ns % 10**9 and m_s == st.st_mtime_ns // 10**9 & U32
        and c_ns == st.st_ctime_ns % 10**9 and c_s == st.st_ctime_ns // 10**9 & U32
        and ino == st.st_ino & U32 and size == st.st_size & U32
    )  # fmt: skip


def look(
    entry: bytes | bytearray | memoryview, file: Path, *, verified: bool, index_ns: int
) -> tuple[bool, bool]:
    """Whether the racily clean ``entry`` still describes ``file``: (unchanged, verified now).

    ``verified``: the entry was verified at an earlier write; ``index_ns``: the mtime of the
    index being read, in nanoseconds."""
    try:
        st = os.lstat(file)
    except OSError:
        return False, False
    same = _same_stat(entry, st)
    if verified and same:
        return True, True
    if blob_id(file) != bytes(entry[40:60]):
        return False, False
    c_s, c_ns, m_s, m_ns = STAT.unpack_from(entry)[:4]
    newest = max(c_s * 10**9 + c_ns, m_s * 10**9 + m_ns)
    return True, same and newest < index_ns - MARGIN_NS


class Entries(Protocol):
    """What :func:`smudged` reads of an index (:class:`.indexfile.IndexImage`)."""

    data: bytes | bytearray | mmap.mmap
    lengths: array[int]
    racy_before: int
    suspects: list[str] | None
    verified: frozenset[str]
    index_ns: int

    def position(self, path: str) -> int:
        """The number of the first entry at or after ``path``."""

    def path_at(self, offset: int) -> tuple[bytes, int]:
        """(path, stage) of the entry at ``offset``."""


def smudged(
    image: Entries, offsets: array[int], workdir: Path, skip: set[str]
) -> tuple[set[int], list[str], list[str]]:
    """The entries of ``image`` (at ``offsets``) to smudge, as git smudges them when it writes an
    index: racily clean against the index read (modified in or after its second) and changed on
    disk (in ``workdir``) since, ``skip`` aside (the paths the write replaces); the paths of those
    racily clean but unchanged (still suspects for the next write), and of those among them
    verified."""
    if image.suspects is None:
        numbers: Iterable[int] = range(len(image.lengths))
    else:
        numbers = [image.position(p) for p in image.suspects if p not in skip]
    out = set()
    unchanged: list[str] = []
    verified: list[str] = []
    for n in numbers:
        if n >= len(image.lengths):
            continue
        mtime, size = struct.unpack_from(">I24xI", image.data, offsets[n] + 8)
        if mtime < image.racy_before or not size:
            continue
        raw, stage = image.path_at(offsets[n])
        path = os.fsdecode(raw)
        if stage or path in skip:
            continue
        entry = image.data[offsets[n] : offsets[n] + 60]
        same, checked = look(entry, workdir / path, verified=path in image.verified,
                             index_ns=image.index_ns)  # fmt: skip
        if not same:
            out.add(n)
            continue
        unchanged.append(path)
        if checked:
            verified.append(path)
    return out, unchanged, verified
