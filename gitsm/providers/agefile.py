"""Reading age v1 files for one X25519 identity: the armor, the header and a single payload chunk.

pyrage writes every stanza and is the reference reader; this module is the fast path in front of it
for the common case (an armored file with X25519 stanzas and one payload chunk). It follows the age
v1 specification (https://age-encryption.org/v1) with ``cryptography``'s X25519, ChaCha20-Poly1305
and HMAC-SHA256 (for HKDF and the header MAC), and it accepts a file only when the file key, the
header MAC and the payload all authenticate; anything it does not handle it declines with None, and
the caller hands the file to pyrage.

It is also stricter than age's own decoders where they accept several spellings of the same bytes
(a missing final newline in the armor, unused bits set in a last base64 character): a gitsm
envelope must fail when any of its bytes changes, and such a change decodes to the same file.
"""

from __future__ import annotations

import binascii
import re
from hmac import compare_digest

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.hmac import HMAC

ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
ARMOR_END = "-----END AGE ENCRYPTED FILE-----"
CHUNK = 64 * 1024
"""age's payload chunk size; this reader handles files of one chunk."""

_ARMOR_HEAD = ARMOR_BEGIN + "\n"
_ARMOR_TAIL = "\n" + ARMOR_END + "\n"

_B64_32 = rb"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]"
"""32 bytes in canonical unpadded base64: 43 characters, the 2 unused bits of the last one zero."""

_STANZA = rb"-> [\x21-\x7e]+(?: [\x21-\x7e]+)*\n(?:[A-Za-z0-9+/]{64}\n)*[A-Za-z0-9+/]{0,63}\n"
_HEADER = re.compile(rb"age-encryption\.org/v1\n(?:" + _STANZA + rb")+--- (" + _B64_32 + rb")\n")
"""A well-formed header (any stanzas) and its MAC; the MAC covers the bytes before its space."""

_X25519 = re.compile(rb"^-> X25519 (" + _B64_32 + rb")\n(" + _B64_32 + rb")\n", re.MULTILINE)


def armored_bytes(sealed: str) -> bytes | None:
    """The bytes of ``sealed`` when it is an age armored file in the one canonical form (as ``age
    -a`` and pyrage write it: padded base64 in 64-column lines, a final newline), else None."""
    if not (sealed.startswith(_ARMOR_HEAD) and sealed.endswith(_ARMOR_TAIL)):
        return None
    lines = sealed[len(_ARMOR_HEAD) : -len(_ARMOR_TAIL)]
    full = len(lines) // 65  # 64-column lines and their newlines, then a last line of 1-64
    if len(lines) % 65 == 0 or lines.count("\n") != full or lines[64::65] != "\n" * full:
        return None
    body = lines.replace("\n", "")
    try:
        raw = binascii.a2b_base64(body, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return raw if binascii.b2a_base64(raw, newline=False) == body.encode("ascii") else None


_SHA256 = SHA256()


def _hmac(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256, through cryptography like the rest of this module (in the store's read path it
    measured a few microseconds a file cheaper than ``hmac.digest``; bench/bench_keys.py)."""
    mac = HMAC(key, _SHA256)
    mac.update(message)
    return mac.finalize()


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) for one 32-byte block; an empty salt is HMAC's all-zero key."""
    return _hmac(_hmac(salt, ikm), info + b"\x01")


def _file_key(share: bytes, body: bytes, key: X25519PrivateKey, public: bytes) -> bytes:
    """The file key of one X25519 stanza; InvalidTag (or ValueError) when it is not ours."""
    shared = key.exchange(X25519PublicKey.from_public_bytes(share))
    wrap = _hkdf(shared, share + public, b"age-encryption.org/v1/X25519")
    return ChaCha20Poly1305(wrap).decrypt(bytes(12), body, None)


def decrypt(raw: bytes, key: X25519PrivateKey, public: bytes) -> bytes | None:
    """The plaintext of the age file ``raw`` for the identity ``key`` (whose public key is
    ``public``), or None when this reader declines it: not for this identity, altered, or a shape
    it does not handle (more than one payload chunk, a non-X25519 identity)."""
    m = _HEADER.match(raw)
    if m is None:
        return None
    mac_at = m.start(1)
    body = raw[m.end() :]
    if not 32 <= len(body) <= 16 + CHUNK + 16:
        return None
    for stanza in _X25519.finditer(raw, 0, mac_at):
        share, wrapped = stanza[1] + b"=", stanza[2] + b"="
        try:
            file_key = _file_key(
                binascii.a2b_base64(share), binascii.a2b_base64(wrapped), key, public
            )
        except (InvalidTag, ValueError):
            continue  # another recipient's stanza (or a share X25519 refuses)
        mac = _hmac(_hkdf(file_key, b"", b"header"), raw[: mac_at - 1])
        if not compare_digest(mac, binascii.a2b_base64(m[1] + b"=")):
            return None
        payload_key = _hkdf(file_key, body[:16], b"payload")
        try:
            return ChaCha20Poly1305(payload_key).decrypt(bytes(11) + b"\x01", body[16:], None)
        except InvalidTag:
            return None
    return None


def decrypt_armored(sealed: str, key: X25519PrivateKey, public: bytes) -> bytes | None:
    """:func:`decrypt` on an armored file (None when it is not in canonical armor)."""
    raw = armored_bytes(sealed)
    return decrypt(raw, key, public) if raw is not None else None


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def bech32_bytes(text: str) -> bytes | None:
    """The data part of a bech32 string (age recipients and identities), None if malformed."""
    hrp, _, data = text.lower().rpartition("1")
    if not hrp or len(data) < 6 or any(c not in _BECH32 for c in data):
        return None
    values = [_BECH32.index(c) for c in data]
    chk = 1
    for v in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + values:
        top, chk = chk >> 25, (chk & 0x1FFFFFF) << 5 ^ v
        for i, g in enumerate(_BECH32_GEN):
            chk ^= g if (top >> i) & 1 else 0
    if chk != 1:
        return None
    acc = bits = 0
    out = bytearray()
    for v in values[:-6]:
        acc, bits = (acc << 5) | v, bits + 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    return bytes(out)
