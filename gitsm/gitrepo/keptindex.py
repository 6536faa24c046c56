"""The index file a process wrote, kept in its memory for its next write to the same checkout.

A write in a checkout reads git's index whole (3 MB at 10,000 secrets), and a process that writes
again (a program using the library, ``gitsm serve`` on a checkout, a batch of writes) would read
back the file it wrote a moment before: allocating the buffer and copying the file into it cost
0.8-1.5 ms of a write at 10,000 secrets on the 2-core machine (tmpfs), growing with the store. So
:mod:`.indexfile` reads the index into a ``bytearray``, and once the write's new index is in
place :func:`keep` turns that same buffer into the new index by applying the write's edits to it
(the replaced, inserted and removed entries, the entries smudged as racily clean, the header and
the trailer: a move of the bytes after each change, no new buffer) and keeps it under the index
file's path with the file's identity. The next :func:`take` hands it over instead of reading the
file only when the file is still that one: the same device, inode, size, modification and change
times to the nanosecond (any write to the file, or a new file renamed over it as git and gitsm
write the index, changes the change time), and the same SHA-1 trailer read from the file's last
20 bytes (the trailer names the content). Anything else, and the file is read as before.

A buffer is kept only when nothing else refers to its bytes any more (no view of it is alive:
Python refuses to resize an exported buffer, and a view would see the edits) and when the old
index had no extensions (gitsm drops them when it writes). A buffer handed over is no longer
kept: one write at a time owns it. Each process keeps its own (a forked one inherits the
parent's, and checks them the same way); :data:`MAX_KEPT` checkouts at most.

gitsm's record of the index (:mod:`.indexmeta`: every entry's offset, the paths to look at again)
is kept beside the buffer: it is the record of exactly that index, so while the buffer is good so
is the record, and the write does not read the file again (0.06 ms of a write at 1,000 secrets and
0.15 ms at 10,000 on the 2-core machine's disk; the file is still written, for other processes).
"""

from __future__ import annotations

import _thread
import os
from io import BufferedReader
from pathlib import Path

from gitsm.gitrepo.indexmeta import Record

MAX_KEPT = 4
"""Checkouts whose index a process keeps (the last ones written)."""
_TRAILER = 20
_KEPT: dict[str, tuple[tuple[int, ...], bytearray, Record | None]] = {}
_LOCK = _thread.allocate_lock()


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def take(
    file: BufferedReader, path: Path, st: os.stat_result
) -> tuple[bytearray, Record | None] | None:
    """The index kept for ``path``, and its record, when the open ``file`` (whose ``fstat`` is
    ``st``) is still the one they were kept for; None otherwise (read the file). It is no longer
    kept after."""
    kept = _KEPT.pop(str(path), None)
    if kept is None or kept[0] != _identity(st) or st.st_size < _TRAILER:
        return None
    data = kept[1]
    try:
        trailer = os.pread(file.fileno(), _TRAILER, st.st_size - _TRAILER)
    except OSError:
        return None
    return (data, kept[2]) if trailer == data[-_TRAILER:] else None


def read(file: BufferedReader, st: os.stat_result) -> bytearray:
    """The open ``file`` read to its end (``st`` its ``fstat``: the size expected) into a buffer
    :func:`keep` can change."""
    data = bytearray(st.st_size)
    got = file.readinto(data)
    del data[got:]  # the file shrank under the read
    rest = file.read()  # or grew
    if rest:
        data += rest
    return data


def keep(
    gitdir: Path, data: object, entries_end: int, parts: list[bytes | memoryview],
    edits: list[tuple[int, int, bytes]] | None, record: Record | None = None,
) -> None:  # fmt: skip
    """Make ``data``, the buffer of the index just replaced (its entries ending at
    ``entries_end``), the index written from it (``parts``: its bytes, the last its trailer;
    ``edits``: what changed, as (start, end, new bytes) in order of start) and keep it for the next
    write with ``record``, gitsm's record of the new index; or keep nothing (see above). ``parts``
    are released and emptied: call it last."""
    path = gitdir / "index"
    _KEPT.pop(str(path), None)
    if not isinstance(data, bytearray) or edits is None or len(parts) < 2:
        return
    if entries_end != len(data) - _TRAILER:
        return  # extensions, which gitsm drops, or a split index's file
    header, trailer = bytes(parts[0]), bytes(parts[-1])
    for part in parts:  # the views of the buffer the parts hold
        if isinstance(part, memoryview):
            part.release()
    parts.clear()
    try:  # a buffer not kept is only dropped: the write it served has landed whole
        data.append(0)  # refused while any other view of the buffer is alive
        del data[-1]
        for start, end, replacement in reversed(edits):  # from the end: the starts stay right
            data[start:end] = replacement
        data[: len(header)] = header
        data[-_TRAILER:] = trailer
        st = os.stat(path)
    except (BufferError, MemoryError, OSError):
        return
    if st.st_size != len(data):
        return
    with _LOCK:  # threads of one process may write to different checkouts
        while len(_KEPT) >= MAX_KEPT:
            _KEPT.pop(next(iter(_KEPT)))
        _KEPT[str(path)] = (_identity(st), data, record)
