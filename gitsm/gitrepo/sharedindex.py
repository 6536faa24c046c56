"""The shared index of a split index: written when the split file grows past git's threshold,
loaded and verified once against its name, freshened while it is in use (:mod:`.splitindex`)."""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import struct
from array import array
from collections.abc import Iterable
from pathlib import Path

from gitsm.gitrepo import indexmeta
from gitsm.gitrepo.ewah import ewah_bytes
from gitsm.gitrepo.indexfile import (
    _HEADER,
    _TRAILER,
    IndexImage,
    Unsupported,
    _check_extensions,
    _walk,
)

LINK = b"link"
SHARED_PREFIX = "sharedindex."
SHARED_META = "gitsm-sharedindex.meta"
_META_MAGIC = b"gitsm-sharedindex-meta 1\n"


def freshen(shared: Path) -> None:
    """Touch the shared index's mtime, as git does when an index that uses it is written (git
    removes shared indexes unused for ``splitIndex.sharedIndexExpire``)."""
    with contextlib.suppress(OSError):
        os.utime(shared)


def resplit(
    gitdir: Path, version: int, entries: Iterable[tuple[object, bytes | memoryview]], fsync: bool
) -> list[bytes | memoryview]:
    """Write the merged ``entries`` as a new shared index; the bytes of the split file that names
    it (no entries, empty bitmaps), its trailer last."""
    body: list[bytes | memoryview] = []
    lengths = array("I")
    for _, raw in entries:
        body.append(raw)
        lengths.append(len(raw))
    head = _HEADER.pack(b"DIRC", version, len(lengths))
    digest = hashlib.sha1(head)
    for part in body:
        digest.update(part)
    name = digest.digest()
    shared = gitdir / (SHARED_PREFIX + name.hex())
    tmp = gitdir / (SHARED_PREFIX + "gitsm-tmp")
    with open(tmp, "wb") as file:
        file.write(head)
        for part in body:
            file.write(part)
        file.write(name)
        if fsync:  # the split file that names it must never land before it
            os.fsync(file.fileno())
    os.replace(tmp, shared)
    _save_shared_meta(gitdir, name, shared, lengths, conflicted=False)
    link = name + ewah_bytes([]) + ewah_bytes([])
    parts: list[bytes | memoryview] = [
        _HEADER.pack(b"DIRC", version, 0),
        LINK + len(link).to_bytes(4, "big") + link,
    ]
    parts.append(hashlib.sha1(b"".join(parts)).digest())
    return parts


def _stat_key(path: Path) -> bytes:
    st = os.stat(path)
    return struct.pack(">QQQ", st.st_size, st.st_ino, st.st_dev)


def _save_shared_meta(
    gitdir: Path, name: bytes, shared: Path, lengths: array[int], *, conflicted: bool
) -> None:
    """Record a verified shared index's entry lengths and offsets (best effort)."""
    meta = gitdir / SHARED_META
    tmp = gitdir / (SHARED_META + ".tmp")
    try:
        head = _META_MAGIC + name + _stat_key(shared) + bytes([conflicted])
        offsets = indexmeta.offsets_of(lengths)
        count = len(lengths).to_bytes(4, "big")
        tmp.write_bytes(head + count + lengths.tobytes() + offsets.tobytes())
        os.replace(tmp, meta)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _known_shared(
    gitdir: Path, name: bytes, shared: Path
) -> tuple[array[int], array[int], bool] | None:
    """(lengths, offsets, conflicted) recorded for the shared index ``name``, if the record is of
    that very file."""
    try:
        raw = (gitdir / SHARED_META).read_bytes()
        key = _stat_key(shared)
    except OSError:
        return None
    head = _META_MAGIC + name + key
    if not raw.startswith(head) or len(raw) < len(head) + 5:
        return None
    conflicted = raw[len(head)] == 1
    count = int.from_bytes(raw[len(head) + 1 : len(head) + 5], "big")
    start = len(head) + 5
    if len(raw) != start + 4 * (2 * count + 1):
        return None
    lengths, offsets = array("I"), array("I")
    lengths.frombytes(raw[start : start + 4 * count])
    offsets.frombytes(raw[start + 4 * count :])
    return lengths, offsets, conflicted


def load_shared(gitdir: Path, name: bytes) -> IndexImage:
    """The shared index ``name`` names, verified against its name once (then remembered). It is
    mapped, not read: a write looks at a few of its pages."""
    shared = gitdir / (SHARED_PREFIX + name.hex())
    try:
        with open(shared, "rb") as file:
            data = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        raise Unsupported(f"the shared index {shared.name} cannot be read ({exc})") from None
    if len(data) < 12 + _TRAILER:
        raise Unsupported("the shared index is shorter than its header")
    signature, version, count = _HEADER.unpack_from(data)
    if signature != b"DIRC" or version not in (2, 3):
        raise Unsupported(f"shared index version {version}")
    known = _known_shared(gitdir, name, shared)
    if known is not None and len(known[0]) == count and known[1][-1] <= len(data) - _TRAILER:
        lengths, offsets, conflicted = known
        return IndexImage(data, version, lengths, conflicted, _offsets=offsets)
    body = memoryview(data)[:-_TRAILER]
    if data[-_TRAILER:] != name or hashlib.sha1(body).digest() != name:
        raise Unsupported(f"the shared index {shared.name} does not match its name")
    body.release()
    lengths, conflicted, end = _walk(data, version, count)
    if _check_extensions(data, end) is not None:
        raise Unsupported("a shared index with a link extension")
    _save_shared_meta(gitdir, name, shared, lengths, conflicted=conflicted)
    return IndexImage(data, version, lengths, conflicted)
