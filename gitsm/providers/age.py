"""The ``age`` provider: X25519 recipients in the store config, identities from the environment.

Key ids are age recipients (``age1...``), which are public: anyone holding only the config can wrap a
data key for them, so a writer can add versions without being able to read any. Identities (the
private ``AGE-SECRET-KEY-1...`` halves) come from ``GITSM_AGE_IDENTITY_FILE`` (an age identity file:
one identity per line, ``#`` comments and blank lines allowed) and/or ``GITSM_AGE_KEY`` (identities
separated by whitespace or commas).

A stanza is an ordinary ASCII-armored age file (``age -a``) whose plaintext is the canonical JSON
``{"context":{"SecretARN":...,"SecretVersionId":...},"data_key":"<base64>","format":"gitsm-age-v1"}``.
Unwrapping checks the context, so a stanza copied to another secret or version does not unwrap.
Because it is plain age, ``age -d -i <identity file>`` recovers the data key from a stanza, and a
stanza made with ``age -a -r <recipient>`` over that payload is read by gitsm (docs/FORMAT.md).

pyrage writes every stanza and is the reference reader. Reading has a fast path for the common case
(an armored file with X25519 stanzas and a single payload chunk), following the age v1 specification
with ``cryptography``'s X25519 and ChaCha20-Poly1305 and the standard library's HMAC-SHA256 (for
HKDF and the header MAC). It accepts a file only when the file key, the header MAC and the payload
all authenticate, and hands anything else to pyrage. It halves the cost of an unwrap
(bench/bench_keys.py).
"""

from __future__ import annotations

import binascii
import hmac
import json
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyrage  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyrage import x25519

from gitsm.providers.base import KeyProvider, KeyUnavailable, b64decode_strict, b64encode

ENV_IDENTITY_FILE = "GITSM_AGE_IDENTITY_FILE"
ENV_KEY = "GITSM_AGE_KEY"
PAYLOAD_FORMAT = "gitsm-age-v1"
ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
ARMOR_END = "-----END AGE ENCRYPTED FILE-----"
_RECIPIENT = re.compile(r"age1[02-9ac-hj-np-z]{58}")
_IDENTITY_PREFIX = "AGE-SECRET-KEY-1"


def payload(data_key: bytes, context: Mapping[str, str]) -> bytes:
    """The plaintext that an age stanza encrypts: the data key bound to its encryption context."""
    doc = {"context": dict(context), "data_key": b64encode(data_key), "format": PAYLOAD_FORMAT}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_CHUNK = 64 * 1024


def _bech32_bytes(text: str) -> bytes | None:
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


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) for one 32-byte block; an empty salt is HMAC's all-zero key."""
    prk = hmac.digest(salt, ikm, "sha256")
    return hmac.digest(prk, info + b"\x01", "sha256")


def _raw_b64(text: bytes) -> bytes:
    """age's unpadded base64; raises ValueError (binascii.Error) when it is not that."""
    if b"=" in text:
        raise ValueError("padded")
    return binascii.a2b_base64(text + b"=" * (-len(text) % 4), strict_mode=True)


def armored_bytes(sealed: str) -> bytes | None:
    """The bytes of ``sealed`` when it is an age armored file in the one canonical form (as ``age
    -a`` and pyrage write it: padded base64 in 64-column lines, a final newline), else None.

    age's own decoders accept some variants (a missing final newline, non-zero unused bits in the
    last base64 character) that decode to the same bytes; refusing them keeps the envelope's rule
    that no byte can change without the decryption failing.
    """
    lines = sealed.split("\n")
    if len(lines) < 4 or lines[0] != ARMOR_BEGIN or lines[-2:] != [ARMOR_END, ""]:
        return None
    body = lines[1:-2]
    if any(len(line) != 64 for line in body[:-1]) or not 0 < len(body[-1]) <= 64:
        return None
    joined = "".join(body)
    try:
        raw = binascii.a2b_base64(joined, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return raw if binascii.b2a_base64(raw, newline=False) == joined.encode("ascii") else None


def canonical_armor(sealed: str) -> bool:
    """True when ``sealed`` is an age armored file in canonical form (see :func:`armored_bytes`)."""
    return armored_bytes(sealed) is not None


def _fast_decrypt(sealed: str, key: X25519PrivateKey, public: bytes) -> bytes | None:
    """Decrypt an armored single-chunk age file for one X25519 identity; None to defer to pyrage."""
    raw = armored_bytes(sealed)
    return _fast_decrypt_raw(raw, key, public) if raw is not None else None


_ONE_X25519 = re.compile(
    rb"age-encryption\.org/v1\n-> X25519 ([A-Za-z0-9+/]{43})\n([A-Za-z0-9+/]{43})\n"
    rb"--- ([A-Za-z0-9+/]{43})\n"
)
"""The common header: one X25519 stanza and no grease (others take the general parser)."""


def _open_payload(file_key: bytes | None, header: bytes, mac: bytes, body: bytes) -> bytes | None:
    if file_key is None or len(file_key) != 16 or not 32 <= len(body) <= 16 + _CHUNK + 16:
        return None
    expected = hmac.digest(_hkdf(file_key, b"", b"header"), header, "sha256")
    if not hmac.compare_digest(expected, mac):
        return None
    payload_key = _hkdf(file_key, body[:16], b"payload")
    return ChaCha20Poly1305(payload_key).decrypt(bytes(11) + b"\x01", body[16:], None)


def _unwrap_x25519(share: bytes, wrapped: bytes, key: X25519PrivateKey, public: bytes) -> bytes:
    shared = key.exchange(X25519PublicKey.from_public_bytes(share))
    wrap = _hkdf(shared, share + public, b"age-encryption.org/v1/X25519")
    return ChaCha20Poly1305(wrap).decrypt(bytes(12), wrapped, None)


def _fast_decrypt_raw(raw: bytes, key: X25519PrivateKey, public: bytes) -> bytes | None:
    """:func:`_fast_decrypt` on the bytes of the armored file."""
    try:
        if m := _ONE_X25519.match(raw):
            one = _unwrap_x25519(_raw_b64(m[1]), _raw_b64(m[2]), key, public)
            return _open_payload(one, raw[: m.end(2) + 4], _raw_b64(m[3]), raw[m.end() :])
        end = raw.index(b"\n--- ")
        eol = raw.index(b"\n", end + 5)
        header, mac, body = raw[: end + 4], _raw_b64(raw[end + 5 : eol]), raw[eol + 1 :]
        rows = header.split(b"\n")
        if rows[0] != b"age-encryption.org/v1" or not 32 <= len(body) <= 16 + _CHUNK + 16:
            return None
        file_key: bytes | None = None
        i = 1
        while i < len(rows) - 1:
            args, stanza = rows[i].split(b" "), b""
            i += 1
            while True:
                stanza, i = stanza + rows[i], i + 1
                if len(rows[i - 1]) < 64:
                    break
            if file_key is None and args[:2] == [b"->", b"X25519"] and len(args) == 3:
                try:
                    file_key = _unwrap_x25519(_raw_b64(args[2]), _raw_b64(stanza), key, public)
                except InvalidTag:
                    continue
        return _open_payload(file_key, header, mac, body)
    except (ValueError, IndexError, InvalidTag, binascii.Error):
        return None


class AgeProvider(KeyProvider):
    """age X25519 recipients (public, in the config); identities from the environment."""

    name = "age"

    def __init__(self, home: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.identity_file = env.get(ENV_IDENTITY_FILE, "").strip() or None
        self._env_key = env.get(ENV_KEY, "")
        self._identities: dict[str, Any] | None = None  # recipient -> pyrage identity
        self._recipients: dict[str, Any] = {}
        self._fast: dict[str, tuple[X25519PrivateKey, bytes]] = {}  # recipient -> key, public
        self._lock = threading.Lock()

    # -- identities ----------------------------------------------------------------------------

    def _sources(self) -> str:
        where = []
        if self.identity_file:
            where.append(f"{ENV_IDENTITY_FILE}={self.identity_file}")
        if self._env_key.strip():
            where.append(ENV_KEY)
        return " and ".join(where) if where else f"neither {ENV_IDENTITY_FILE} nor {ENV_KEY} is set"

    @staticmethod
    def _parse(text: str, where: str) -> list[Any]:
        """Identities from an identity file's text; errors name the line, never its content."""
        out = []
        for number, raw in enumerate(re.split(r"[\r\n]+", text), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith(ARMOR_BEGIN) or line.startswith("age-encryption.org/"):
                raise KeyUnavailable(
                    f"{where} is an encrypted (passphrase-protected) identity file, which gitsm "
                    "cannot use; decrypt it to a private file first"
                )
            if not line.upper().startswith(_IDENTITY_PREFIX):
                raise KeyUnavailable(
                    f"line {number} of {where} is not an age X25519 identity "
                    f"({_IDENTITY_PREFIX}...); plugin and SSH identities are not supported"
                )
            try:
                out.append(x25519.Identity.from_str(line.upper()))
            except Exception:  # pyrage.IdentityError; never echo the line
                raise KeyUnavailable(
                    f"line {number} of {where} is not a valid age identity"
                ) from None
        return out

    def _load(self) -> dict[str, Any]:
        with self._lock:
            if self._identities is not None:
                return self._identities
            found: list[Any] = []
            if self.identity_file:
                where = f"{ENV_IDENTITY_FILE} {self.identity_file}"
                try:
                    text = Path(self.identity_file).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                    raise KeyUnavailable(f"cannot read {where}: {reason}") from None
                found += self._parse(text, where)
            if self._env_key.strip():
                found += self._parse(re.sub(r"[\s,]+", "\n", self._env_key), ENV_KEY)
            self._identities = {str(i.to_public()): i for i in found}
            for recipient, identity in self._identities.items():
                scalar = _bech32_bytes(str(identity))
                if scalar is None or len(scalar) != 32:
                    continue
                key = X25519PrivateKey.from_private_bytes(scalar)
                public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
                if public == _bech32_bytes(recipient):
                    self._fast[recipient] = (key, public)
            return self._identities

    def held_keys(self) -> list[str]:
        """The recipients whose identities this process holds."""
        return sorted(self._load())

    def holds(self, key_id: str) -> bool:
        """True when an identity for recipient ``key_id`` is loaded."""
        try:
            return key_id in self._load()
        except KeyUnavailable:
            return False

    # -- recipients ----------------------------------------------------------------------------

    def _recipient(self, key_id: str) -> Any:
        recipient = self._recipients.get(key_id)
        if recipient is None:
            if not _RECIPIENT.fullmatch(key_id):
                raise KeyUnavailable(f"{key_id!r} is not an age X25519 recipient (age1...)")
            try:
                recipient = x25519.Recipient.from_str(key_id)
            except Exception:  # pyrage.RecipientError
                raise KeyUnavailable(f"{key_id!r} is not a valid age recipient") from None
            self._recipients[key_id] = recipient
        return recipient

    def claims(self, key_id: str) -> bool:
        """age recipients (``age1...``, X25519) are claimed whether or not an identity is held."""
        try:
            self._recipient(key_id)
        except KeyUnavailable:
            return False
        return True

    def describe(self, key_id: str) -> dict[str, str]:
        """The recipient and whether this process holds its identity."""
        return {
            "provider": self.name,
            "key_id": key_id,
            "identity": str(self.holds(key_id)).lower(),
        }

    # -- wrap / unwrap -------------------------------------------------------------------------

    def wrap(self, key_id: str, data_key: bytes, context: Mapping[str, str]) -> dict[str, str]:
        """Encrypt the payload to the recipient; needs no identity."""
        recipient = self._recipient(key_id)
        try:
            sealed = pyrage.encrypt(payload(data_key, context), [recipient], armored=True)
        except Exception as exc:  # pyrage.EncryptError
            raise KeyUnavailable(
                f"age could not encrypt to {key_id}: {type(exc).__name__}"
            ) from None
        return {"age": bytes(sealed).decode("ascii")}

    def unwrap(self, key_id: str, stanza: Mapping[str, str], context: Mapping[str, str]) -> bytes:
        """Decrypt with the identity of ``key_id`` and check the payload's context."""
        identities = self._load()
        identity = identities.get(key_id)
        if identity is None:
            held = f"{len(identities)} other identities" if identities else "no identity"
            raise KeyUnavailable(
                f"no age identity for recipient {key_id} is held here ({self._sources()}: {held})"
            )
        sealed = stanza.get("age")
        raw = armored_bytes(sealed) if isinstance(sealed, str) else None
        if raw is None:
            raise KeyUnavailable(
                f"the age stanza for {key_id} holds no canonical armored age file (altered?)"
            )
        fast = self._fast.get(key_id)
        plain = _fast_decrypt_raw(raw, *fast) if fast is not None else None
        if plain is not None:
            return self._check(key_id, plain, context)
        try:
            plain = bytes(pyrage.decrypt(raw, [identity]))
        except Exception:  # pyrage.DecryptError
            raise KeyUnavailable(
                f"age recipient {key_id} did not decrypt its stanza (altered, or made for "
                "another recipient)"
            ) from None
        return self._check(key_id, plain, context)

    @staticmethod
    def _check(key_id: str, plain: bytes, context: Mapping[str, str]) -> bytes:
        """The data key from a decrypted payload, if it names this context."""
        try:
            doc = json.loads(plain.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            doc = None
        if not isinstance(doc, dict) or doc.get("format") != PAYLOAD_FORMAT:
            raise KeyUnavailable(f"the age stanza for {key_id} is not a {PAYLOAD_FORMAT} payload")
        if doc.get("context") != dict(context):
            raise KeyUnavailable(
                f"the age stanza for {key_id} was made for another secret or version "
                "(encryption context mismatch)"
            )
        try:
            data_key = b64decode_strict(doc.get("data_key"))
        except ValueError:
            data_key = b""
        if len(data_key) != 32:
            raise KeyUnavailable(f"the age stanza for {key_id} holds no 256-bit data key")
        return data_key
