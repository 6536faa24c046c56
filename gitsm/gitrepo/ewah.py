"""EWAH bitmaps as git serialises them (the split index's ``link`` extension carries two).

A bitmap is: its size in bits, the number of 64-bit words, the words, and the position of the last
run-length word (all big-endian). A run-length word holds a run bit (bit 0), a run of that many
all-0 or all-1 words (bits 1-32), and how many literal words follow it (bits 33-63).
"""

from __future__ import annotations

import struct

from gitsm.gitrepo.indexfile import Unsupported

_RUN_MAX = (1 << 32) - 1
_LITERAL_MAX = (1 << 31) - 1
_FULL = (1 << 64) - 1


def ewah_bits(data: bytes, at: int) -> tuple[list[int], int]:
    """The set bits of the EWAH bitmap serialised at ``at`` in ``data`` (git's format: bit size,
    word count, 64-bit words, position of the last run-length word; all big-endian), and where it
    ends."""
    if at + 8 > len(data):
        raise Unsupported("a truncated bitmap in the link extension")
    size, count = struct.unpack_from(">II", data, at)
    end = at + 8 + 8 * count + 4
    if end > len(data):
        raise Unsupported("a truncated bitmap in the link extension")
    words = struct.unpack_from(f">{count}Q", data, at + 8)
    bits: list[int] = []
    pos = pointer = 0
    while pointer < count:
        marker = words[pointer]
        run = ((marker >> 1) & _RUN_MAX) * 64
        if marker & 1:
            bits.extend(range(pos, pos + run))
        pos += run
        literals = marker >> 33
        if pointer + literals >= count:
            raise Unsupported("a bitmap in the link extension runs past its words")
        for word in words[pointer + 1 : pointer + 1 + literals]:
            if word == _FULL:  # a dense stretch: 64 bits at once
                bits.extend(range(pos, pos + 64))
                pos += 64
                continue
            while word:
                low = word & -word
                bits.append(pos + low.bit_length() - 1)
                word ^= low
            pos += 64
        pointer += 1 + literals
    if bits and bits[-1] >= size:
        raise Unsupported("a bitmap in the link extension sets a bit past its size")
    return bits, end


def ewah_bytes(bits: list[int]) -> bytes:
    """The EWAH serialisation of the sorted bit positions ``bits`` (as git's ``ewah_set`` builds
    it: runs of empty words, then literal words)."""
    size = bits[-1] + 1 if bits else 0
    raw = bytearray(8 * ((size + 63) >> 6))
    for bit in bits:
        raw[bit >> 3] |= 1 << (bit & 7)
    words = struct.unpack(f"<{len(raw) // 8}Q", raw)  # word n holds bits 64n .. 64n + 63
    out: list[int] = [0]
    marker, literals, next_word = 0, 0, 0
    for number in [n for n, word in enumerate(words) if word]:
        gap = number - next_word
        if gap and (literals or gap > _RUN_MAX):
            out[marker] |= literals << 33
            marker, literals = len(out), 0
            out.append(0)
        if gap:
            out[marker] |= min(gap, _RUN_MAX) << 1
            while gap > _RUN_MAX:  # never at git's index sizes; kept exact all the same
                gap -= _RUN_MAX
                marker = len(out)
                out.append(min(gap, _RUN_MAX) << 1)
        if literals == _LITERAL_MAX:
            out[marker] |= literals << 33
            marker, literals = len(out), 0
            out.append(0)
        out.append(words[number])
        literals += 1
        next_word = number + 1
    out[marker] |= literals << 33
    return struct.pack(f">II{len(out)}QI", size, len(out), *out, marker)
