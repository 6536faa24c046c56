"""Opening a canonical one-stanza envelope with a local key, for the quick read
(:mod:`gitsm.quickread`).

The envelope is read as gitsm writes it (:func:`gitsm.envelope.seal`) and checked as
:func:`gitsm.envelope.parse` checks it; its data key is unwrapped as
:class:`gitsm.providers.local.LocalProvider` unwraps it (key from ``GITSM_LOCAL_KEYS`` or the
key ring) and the value decrypted with cryptography's AES-GCM. Anything else (another provider
first, another form, a key that does not open it) is a :class:`~gitsm.plaingit.Doubt`.
"""

from __future__ import annotations

import os
from _json import encode_basestring_ascii as _ascii
from _json import scanstring
from binascii import Error as _B64Error
from binascii import a2b_base64, b2a_base64

from gitsm import limits
from gitsm.plaingit import Doubt
from gitsm.quickmanifest import expect

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_ENV_KEYS = "GITSM_LOCAL_KEYS"
_HEX = frozenset("0123456789abcdef")
CIPHERTEXT_B64_MAX = 4 * -(-(limits.VALUE_MAX + 16) // 3)
"""Longest ``ciphertext`` (as :data:`gitsm.envelope.CIPHERTEXT_B64_MAX`)."""


def _b64(text: object) -> bytes:
    """Canonical base64, as :func:`gitsm.providers.base.b64decode_strict` takes it."""
    if type(text) is not str or not text.isascii():
        raise Doubt("not base64 text")
    try:
        data = a2b_base64(text, strict_mode=True)
    except _B64Error:
        raise Doubt("not valid base64") from None
    if b2a_base64(data, newline=False).decode("ascii") != text:
        raise Doubt("not canonical base64")
    return data


_ENVELOPE_FIELDS = ("cipher", "ciphertext", "format", "keys", "nonce", "secret", "type",
                    "version_id")  # fmt: skip


def parse_envelope(data: bytes, name: str, version_id: str) -> dict[str, str]:
    """The fields of a canonical one-stanza envelope (the stanza's as ``key_id``, ``provider``,
    ``wrapped``), checked as :func:`gitsm.envelope.parse` checks them; Doubt for anything else."""
    if len(data) > limits.ENVELOPE_MAX_BYTES:
        raise Doubt("an envelope over its limit")
    text = data.decode("ascii")
    fields: dict[str, str] = {}
    position = expect(text, 0, "{\n")
    for key in _ENVELOPE_FIELDS:
        position = expect(text, position, f'  "{key}": ')
        if key == "format":
            position = expect(text, position, "1")
        elif key == "keys":
            position = expect(text, position, "[\n    {\n")
            for i, field in enumerate(("key_id", "provider", "wrapped")):
                position = expect(text, position, ",\n" * (i > 0) + f'      "{field}": "')
                fields[field], position = scanstring(text, position, True)
            position = expect(text, position, "\n    }\n  ]")
        else:
            position = expect(text, position, '"')
            fields[key], position = scanstring(text, position, True)
        position = expect(text, position, ",\n" if key != "version_id" else "\n}\n")
    if position != len(text) or _canonical(fields) != text:
        raise Doubt("an envelope not in canonical form")
    highs = {"cipher": 64, "ciphertext": CIPHERTEXT_B64_MAX, "nonce": 64,
             "secret": limits.NAME_MAX, "type": 16, "version_id": limits.TOKEN_MAX}  # fmt: skip
    if any(len(fields[k]) > high for k, high in highs.items()) or any(
        not fields[k] or len(fields[k]) > 8 * 1024 for k in ("key_id", "provider", "wrapped")
    ):
        raise Doubt("an envelope field out of shape")
    if (fields["cipher"], fields["secret"], fields["version_id"]) != (
        "AES-256-GCM",
        name,
        version_id,
    ) or fields["type"] not in ("string", "binary"):
        raise Doubt("an envelope of another secret, version, cipher or type")
    return fields


def _canonical(fields: dict[str, str]) -> str:
    def q(key: str) -> str:
        return _ascii(fields[key])

    return (
        f'{{\n  "cipher": {q("cipher")},\n  "ciphertext": {q("ciphertext")},\n  "format": 1,\n'
        f'  "keys": [\n    {{\n      "key_id": {q("key_id")},\n      "provider": '
        f'{q("provider")},\n      "wrapped": {q("wrapped")}\n    }}\n  ],\n  "nonce": '
        f'{q("nonce")},\n  "secret": {q("secret")},\n  "type": {q("type")},\n  "version_id": '
        f"{q('version_id')}\n}}\n"
    )


def _is_key_id(text: str) -> bool:
    """True for a key id: a UUID in lower-case hex (``xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx``)."""
    return (
        len(text) == 36 and text[8] == text[13] == text[18] == text[23] == "-"
        and text.count("-") == 4 and _HEX.issuperset(text.replace("-", ""))
    )  # fmt: skip


def _local_key(key_id: str) -> bytes:
    """The key-encryption key ``key_id``, from GITSM_LOCAL_KEYS or the key ring, as
    :class:`gitsm.providers.local.LocalProvider` finds it."""
    raw = os.environ.get(_ENV_KEYS, "")
    if raw.strip(" \t\n,") and not set(raw) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-:, \t\n"
    ):
        raise Doubt(f"{_ENV_KEYS} holds characters left to the full reader")
    entries = [e for e in raw.replace(",", " ").split() if e]
    found = None
    for entry in entries:
        entry_id, _, material = entry.partition(":")
        key = _b64(material)
        if len(key) != 32 or not _is_key_id(entry_id):
            raise Doubt(f"{_ENV_KEYS} is malformed")
        if entry_id == key_id:
            found = key
    if found is not None:
        return found
    home = os.environ.get("GITSM_HOME")
    if not home:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.environ["HOME"], ".config")
        home = os.path.join(base, "gitsm")
    with open(os.path.join(home, "keys", f"{key_id}.key"), "rb") as handle:
        key = _b64(handle.read().decode("ascii").strip())
    if len(key) != 32:
        raise Doubt("a damaged key file")
    return key


_AESGCM: list[type] = []


def aesgcm() -> type:
    """cryptography's AES-GCM from its compiled module (its Python wrapper loads typing, enum
    and re, a quarter of this path); the public class when that module is laid out otherwise.
    Looked up once per process."""
    if _AESGCM:
        return _AESGCM[0]
    try:
        from cryptography.hazmat.bindings._rust import openssl

        cls: type = openssl.aead.AESGCM
    except (ImportError, AttributeError):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        cls = AESGCM
    _AESGCM.append(cls)
    return cls


Parts = tuple[str, str, bytes, bytes, bytes, bytes, bytes]
"""An envelope ready to open: (type, key id, wrapped data key, its AAD, nonce, ciphertext, its
AAD), all checked and decoded (:func:`sealed_parts`)."""


def sealed_parts(fields: dict[str, str], arn: str) -> Parts:
    """What opening the envelope ``fields`` (of the secret ``arn``) takes, checked and decoded:
    its one stanza must be a local key's."""
    key_id, name, vid, kind = (
        fields["key_id"],
        fields["secret"],
        fields["version_id"],
        fields["type"],
    )
    if fields["provider"] != "local" or not _is_key_id(key_id):
        raise Doubt("the version's first key is not a local key")
    context = f'{{"SecretARN":{_ascii(arn)},"SecretVersionId":{_ascii(vid)}}}'
    key_aad = b"gitsm-local-v1\0" + key_id.encode() + b"\0" + context.encode("ascii")
    value_aad = (f'{{"format":1,"secret":{_ascii(name)},"type":{_ascii(kind)},'
                 f'"version_id":{_ascii(vid)}}}')  # fmt: skip
    return (kind, key_id, _b64(fields["wrapped"]), key_aad, _b64(fields["nonce"]),
            _b64(fields["ciphertext"]), value_aad.encode("ascii"))  # fmt: skip


class Opener:
    """Opens checked envelopes (:func:`sealed_parts`), each local key read and its cipher set up
    once (per batch, for a batch of reads). Every open authenticates both layers."""

    def __init__(self) -> None:
        self._keks: dict[str, Any] = {}

    def open(self, sealed: Parts) -> bytes:
        """The value ``sealed`` holds; both layers are authenticated."""
        _, key_id, blob, key_aad, nonce, ciphertext, value_aad = sealed
        kek = self._keks.get(key_id)
        if kek is None:
            kek = self._keks[key_id] = aesgcm()(_local_key(key_id))
        data_key: bytes = kek.decrypt(blob[:12], blob[12:], key_aad)
        if len(data_key) != 32:
            raise Doubt("a data key of the wrong length")
        value: bytes = aesgcm()(data_key).decrypt(nonce, ciphertext, value_aad)
        return value


def open_envelope(fields: dict[str, str], arn: str) -> bytes:
    """The value an envelope holds (its one stanza a local key's)."""
    return Opener().open(sealed_parts(fields, arn))
