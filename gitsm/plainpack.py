"""Pack files read with the standard library alone, for :mod:`gitsm.plaingit`.

A version 2 pack index is checked as libgit2 checks it when it opens the pack (fan-out in order,
its size for its object count, the pack's header, object count and trailer), then searched by
binary search; an object is inflated with zlib and its offset and reference deltas applied.
Anything this reader does not know, or any damage, raises :class:`Doubt`.
"""

from __future__ import annotations

import mmap
import zlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_TYPES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
_OFS_DELTA, _REF_DELTA = 6, 7
_DELTA_DEPTH_MAX = 10_000
BASES_KEPT = 4096
"""Objects a pack keeps for later reads (a manifest or an envelope: a few hundred bytes each)."""
BASE_BYTES_KEPT = 16 << 20
"""Bytes of those objects a pack keeps at most (large values are rare but may be 64 KiB)."""


class Doubt(Exception):
    """This reader cannot be certain of the answer: the full command must run instead."""


class Pack:
    """One pack file and its version 2 index, mapped into memory when first needed."""

    def __init__(self, index_path: str) -> None:
        self.index_path = index_path
        self._index: mmap.mmap | None = None
        self._pack: mmap.mmap | None = None
        self.bases: dict[int, tuple[bytes, bytes]] = {}
        """Objects this pack gave, by offset (at most :data:`BASES_KEPT`, of at most
        :data:`BASE_BYTES_KEPT` bytes in all; then they are dropped and kept anew): the bases of
        the deltas of later reads, so that a delta chain is inflated once per batch, as
        libgit2's delta base cache does."""
        self.base_bytes = 0

    def _map(self, path: str) -> mmap.mmap:
        with open(path, "rb") as handle:
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)

    def offset(self, oid: bytes) -> int | None:
        """Where object ``oid`` (20 bytes) starts in the pack; None when it is not in it."""
        if self._index is None:
            index = self._map(self.index_path)
            if index[:8] != b"\377tOc\0\0\0\2" or len(index) < 8 + 1024 + 40:
                raise Doubt(f"{self.index_path} is not a version 2 pack index")
            fanout = [int.from_bytes(index[8 + 4 * i : 12 + 4 * i]) for i in range(256)]
            count = fanout[-1]
            least = 8 + 1024 + 28 * count + 40
            if fanout != sorted(fanout) or not least <= len(index) <= least + 8 * max(count - 1, 0):
                raise Doubt(f"{self.index_path} is a pack index libgit2 refuses")
            pack = self.pack()
            if (
                len(pack) < 32 or pack[:4] != b"PACK" or pack[4:8] not in (b"\0\0\0\2", b"\0\0\0\3")
                or int.from_bytes(pack[8:12]) != count or pack[-20:] != index[-40:-20]
            ):  # fmt: skip
                raise Doubt(f"the pack of {self.index_path} does not match its index")
            self._index = index
        index = self._index
        first = oid[0]
        low = int.from_bytes(index[8 + 4 * first - 4 : 8 + 4 * first]) if first else 0
        high = int.from_bytes(index[8 + 4 * first : 12 + 4 * first])
        count = int.from_bytes(index[8 + 1020 : 8 + 1024])
        names = 8 + 1024
        while low < high:
            middle = (low + high) // 2
            found = index[names + 20 * middle : names + 20 * middle + 20]
            if found == oid:
                break
            if found < oid:
                low = middle + 1
            else:
                high = middle
        else:
            return None
        offsets = names + 24 * count
        small = int.from_bytes(index[offsets + 4 * middle : offsets + 4 * middle + 4])
        if not small & 0x80000000:
            return small
        large = offsets + 4 * count + 8 * (small & 0x7FFFFFFF)
        return int.from_bytes(index[large : large + 8])

    def pack(self) -> mmap.mmap:
        """The pack file itself."""
        if self._pack is None:
            self._pack = self._map(self.index_path[: -len(".idx")] + ".pack")
        return self._pack


def inflate(data: mmap.mmap | bytes, start: int, size: int) -> bytes:
    """The ``size`` bytes of the zlib stream at ``start`` of ``data``."""
    inflate = zlib.decompressobj()
    out = []
    chunk = max(4096, size + 64)
    position = start
    while not inflate.eof:
        if position >= len(data):
            raise Doubt("a packed object is truncated")
        out.append(inflate.decompress(data[position : position + chunk]))
        position += chunk
    result = b"".join(out)
    if len(result) != size:
        raise Doubt("a packed object has the wrong size")
    return result


def varint(data: bytes, position: int) -> tuple[int, int]:
    """The variable-length size at ``position`` of a delta, and where it ends."""
    value = shift = 0
    while True:
        if position >= len(data):
            raise Doubt("a delta is truncated")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def apply_delta(base: bytes, delta: bytes) -> bytes:
    """``base`` changed by the git delta ``delta``."""
    source_size, position = varint(delta, 0)
    target_size, position = varint(delta, position)
    if source_size != len(base):
        raise Doubt("a delta does not fit its base")
    out = bytearray()
    while position < len(delta):
        command = delta[position]
        position += 1
        if command & 0x80:
            offset = size = 0
            for bit in range(4):
                if command & (1 << bit):
                    offset |= delta[position] << (8 * bit)
                    position += 1
            for bit in range(3):
                if command & (0x10 << bit):
                    size |= delta[position] << (8 * bit)
                    position += 1
            size = size or 0x10000
            if offset + size > len(base):
                raise Doubt("a delta copies beyond its base")
            out += base[offset : offset + size]
        elif command:
            out += delta[position : position + command]
            position += command
        else:
            raise Doubt("a delta holds a reserved instruction")
    if len(out) != target_size:
        raise Doubt("a delta gives the wrong size")
    return bytes(out)


def unpack(
    pack: Pack, offset: int, read: Callable[[str], tuple[bytes, bytes]]
) -> tuple[bytes, bytes]:
    """(type, content) of the object at ``offset`` of ``pack``, its deltas applied; ``read``
    gives the base object of a reference delta by its id."""
    data = pack.pack()
    deltas: list[tuple[int, bytes]] = []
    delta: bytes | None
    while True:
        if len(deltas) > _DELTA_DEPTH_MAX or offset >= len(data):
            raise Doubt("a pack entry is out of bounds")
        if offset in pack.bases:
            (base_kind, content), delta = pack.bases[offset], None
            break
        byte = data[offset]
        kind, size, shift, position = (byte >> 4) & 7, byte & 15, 4, offset + 1
        while byte & 0x80:
            byte = data[position]
            size |= (byte & 0x7F) << shift
            shift, position = shift + 7, position + 1
        if kind == _OFS_DELTA:
            byte = data[position]
            back, position = byte & 0x7F, position + 1
            while byte & 0x80:
                byte = data[position]
                back, position = ((back + 1) << 7) | (byte & 0x7F), position + 1
            deltas.append((offset, inflate(data, position, size)))
            offset -= back
            continue
        if kind == _REF_DELTA:
            base = data[position : position + 20]
            delta = inflate(data, position + 20, size)
            base_kind, content = read(base.hex())
            break
        if kind not in _TYPES:
            raise Doubt("a pack entry has an unknown type")
        base_kind, content = _TYPES[kind], inflate(data, position, size)
        delta = None
        break
    if delta is not None:
        content = apply_delta(content, delta)
    _keep(pack, offset, base_kind, content)
    for at, step in reversed(deltas):
        content = apply_delta(content, step)
        _keep(pack, at, base_kind, content)
    return base_kind, content


def _keep(pack: Pack, offset: int, kind: bytes, content: bytes) -> None:
    """Keep the object at ``offset`` of ``pack`` for later deltas, within the pack's bounds."""
    if len(pack.bases) >= BASES_KEPT or pack.base_bytes + len(content) > BASE_BYTES_KEPT:
        pack.bases.clear()
        pack.base_bytes = 0
    if len(content) <= BASE_BYTES_KEPT:
        pack.bases[offset] = kind, content
        pack.base_bytes += len(content)
