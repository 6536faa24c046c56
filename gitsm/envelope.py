"""Version envelopes: the encrypted file that holds one version's value.

Design: every version gets a fresh random 256-bit data key. The value is encrypted with AES-256-GCM
under it; the associated data binds the store format, the secret's name, the VersionId and whether
the value is a string or binary, so an envelope moved to another secret or version, or relabelled as
the other type, fails to decrypt. The data key is wrapped once per recipient by its key provider with
an encryption context naming the secret ARN and VersionId (as AWS Secrets Manager does with KMS).

The file is canonical JSON (sorted keys, two-space indent, trailing newline). A reader re-serializes
what it parsed and refuses any file that differs, so that no byte of an envelope can change without
the decryption failing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gitsm import paths
from gitsm.errors import DecryptionFailure, MalformedEnvelope
from gitsm.keys import KeyService, Recipient
from gitsm.model import (
    ENVELOPE_MAX_BYTES,
    NAME_MAX,
    RECIPIENTS_MAX,
    TOKEN_MAX,
    VALUE_MAX,
    ValueKind,
)
from gitsm.providers.base import b64decode_strict, b64encode
from gitsm.strict import describe, short

FORMAT = 1
CIPHER = "AES-256-GCM"


_string = json.encoder.encode_basestring_ascii  # C-accelerated JSON string quoting


def _dump_slow(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


def _dump(doc: dict[str, Any]) -> bytes:
    """Canonical JSON: what ``json.dumps(indent=2, sort_keys=True)`` writes, built directly.

    The standard encoder falls back to pure Python whenever ``indent`` is set; an envelope has a
    fixed shape (strings, one integer, a list of string-valued stanzas), so it is written here with
    the C string encoder. Any other shape goes through the standard encoder.
    """
    out = ["{"]
    first = True
    for key in sorted(doc):
        value = doc[key]
        out.append(("\n" if first else ",\n") + "  " + _string(key) + ": ")
        first = False
        if isinstance(value, str):
            out.append(_string(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            out.append(str(value))
        elif (
            isinstance(value, list)
            and value
            and all(
                isinstance(d, dict) and d and all(isinstance(v, str) for v in d.values())
                for d in value
            )
        ):
            stanzas = [
                "    {\n"
                + ",\n".join(f"      {_string(k)}: {_string(d[k])}" for k in sorted(d))
                + "\n    }"
                for d in value
            ]
            out.append("[\n" + ",\n".join(stanzas) + "\n  ]")
        else:
            return _dump_slow(doc)
    out.append("\n}\n" if not first else "}\n")
    return "".join(out).encode("ascii")


def _aad(name: str, version_id: str, kind: str) -> bytes:
    return json.dumps(
        {"format": FORMAT, "secret": name, "type": kind, "version_id": version_id},
        sort_keys=True,
        separators=(",", ":"),
    ).encode("utf-8")


def _context(arn: str, version_id: str) -> dict[str, str]:
    return {"SecretARN": arn, "SecretVersionId": version_id}


def seal(
    value: bytes,
    kind: ValueKind,
    *,
    name: str,
    arn: str,
    version_id: str,
    recipients: list[Recipient],
    keys: KeyService,
) -> bytes:
    """Encrypt ``value`` into a new envelope for ``recipients``."""
    data_key, stanzas = keys.generate(recipients, _context(arn, version_id))
    nonce = os.urandom(12)
    ciphertext = AESGCM(data_key).encrypt(nonce, value, _aad(name, version_id, kind))
    return _dump(
        {
            "cipher": CIPHER,
            "ciphertext": b64encode(ciphertext),
            "format": FORMAT,
            "keys": stanzas,
            "nonce": b64encode(nonce),
            "secret": name,
            "type": kind,
            "version_id": version_id,
        }
    )


FIELDS = ("cipher", "ciphertext", "format", "keys", "nonce", "secret", "type", "version_id")
"""The fields of a format-1 envelope; any other is refused."""
CIPHERTEXT_B64_MAX = 4 * -(-(VALUE_MAX + 16) // 3)
"""Longest ``ciphertext``: base64 of the largest value (65,536 bytes) and its 16-byte GCM tag."""
STANZA_FIELDS_MAX = 8
STANZA_VALUE_MAX = 8 * 1024
"""Longest field of a key stanza (an age stanza is about 1.5 KB with the longest secret name)."""
_TEXT_FIELDS = (("cipher", 64), ("ciphertext", CIPHERTEXT_B64_MAX), ("nonce", 64),
                ("secret", NAME_MAX), ("type", 16), ("version_id", TOKEN_MAX))  # fmt: skip
FIX = "restore the file from git history or put a new value"


def shape_problem(doc: dict[str, Any]) -> str | None:
    """The first field of a parsed envelope whose type or size is wrong, as a problem ("has ...",
    "field ... is ..."); None when every field is in shape. The format is checked before."""
    unknown = sorted(key for key in doc if key not in FIELDS)
    if unknown:
        return f"has an unknown field {short(unknown[0])}"
    for key, high in _TEXT_FIELDS:
        value = doc.get(key)
        if not isinstance(value, str):
            return (
                f"field {key} is {'missing' if key not in doc else describe(value)}, not a string"
            )
        if len(value) > high:
            return f"field {key} is {len(value):,} characters long, over the limit of {high:,}"
    stanzas = doc.get("keys")
    if not isinstance(stanzas, list) or not 1 <= len(stanzas) <= RECIPIENTS_MAX:
        return f"field keys is {describe(stanzas)}, not a list of 1-{RECIPIENTS_MAX} key stanzas"
    for i, stanza in enumerate(stanzas):
        if not isinstance(stanza, dict) or len(stanza) > STANZA_FIELDS_MAX:
            return (f"key stanza {i} is {describe(stanza)}, not an object of at most "
                    f"{STANZA_FIELDS_MAX} fields")  # fmt: skip
        for key, value in stanza.items():
            if not isinstance(value, str) or len(value) > STANZA_VALUE_MAX:
                return (f"key stanza {i} has a field {short(key)} that is not a string of at most "
                        f"{STANZA_VALUE_MAX:,} characters")  # fmt: skip
        if not stanza.get("provider") or not stanza.get("key_id"):
            return f"key stanza {i} has no provider or no key_id"
    return None


def format_problem(fmt: object) -> tuple[str, str] | None:
    """A (problem, fix) when ``fmt`` is not the envelope format this gitsm reads."""
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        return "has no format number", FIX
    if fmt > FORMAT:
        return f"uses store format {fmt}, newer than this gitsm reads ({FORMAT})", "upgrade gitsm"
    return (f"has unknown format {fmt}", FIX) if fmt != FORMAT else None


def load(data: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """(the JSON object of an envelope, None), or (None, the problem) when it is over its size
    limit, not JSON, or not an object. Nesting too deep for the JSON reader is not JSON here."""
    if len(data) > ENVELOPE_MAX_BYTES:
        return None, (f"is {len(data):,} bytes, over the limit of an envelope "
                      f"({ENVELOPE_MAX_BYTES:,} bytes)")  # fmt: skip
    try:
        doc = json.loads(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "is not valid JSON"
    return (doc, None) if isinstance(doc, dict) else (None, "is not a JSON object")


def parse(data: bytes, *, name: str, version_id: str) -> dict[str, Any]:
    """Parse and check an envelope: its size, then JSON, format, the type and size of every field,
    canonical form, secret, version and value type. Raises MalformedEnvelope (a
    DecryptionFailure, carrying path, problem and fix) when it is not intact."""

    def fail(problem: str, fix: str = FIX) -> MalformedEnvelope:
        return MalformedEnvelope(
            paths.version_path(name, version_id), problem, fix, name=name, version_id=version_id
        )

    doc, problem = load(data)
    if doc is None:
        raise fail(problem or "is not valid JSON")
    bad = format_problem(doc.get("format"))
    if bad is not None:
        raise fail(*bad)
    problem = shape_problem(doc)
    if problem is not None:
        raise fail(problem)
    if _dump(doc) != data:
        raise fail("is not in canonical form, so it was altered")
    if doc["cipher"] != CIPHER:
        raise fail("uses an unknown cipher")
    if doc["secret"] != name or doc["version_id"] != version_id:
        raise fail("belongs to another secret or version")
    if doc["type"] not in ("string", "binary"):
        raise fail("holds an unknown value type")
    return doc


Sealed = tuple[bytes, str, str, str]
"""One envelope to open: (file bytes, secret name, secret ARN, VersionId)."""
OPEN_BATCH = 256
"""How many envelopes bulk readers hand to :func:`open_values` at once (bounds the memory held)."""


def _decrypt(doc: dict[str, Any], data_key: bytes, name: str, version_id: str) -> bytes:
    try:
        nonce = b64decode_strict(doc.get("nonce"))
        ciphertext = b64decode_strict(doc.get("ciphertext"))
        return AESGCM(data_key).decrypt(nonce, ciphertext, _aad(name, version_id, doc["type"]))
    except (ValueError, InvalidTag):
        raise DecryptionFailure(
            f"Secrets Manager can't decrypt version {version_id} of secret {name}: the "
            "ciphertext does not authenticate (altered or moved). Restore it from git history."
        ) from None


def open_values(
    items: Sequence[Sealed], keys: KeyService
) -> list[tuple[bytes, ValueKind] | DecryptionFailure]:
    """Decrypt many envelopes; each gives its value and kind, or its DecryptionFailure.

    The work runs in three passes (parse every envelope, unwrap every data key, decrypt every
    value) rather than envelope by envelope: each pass keeps one kind of code hot, which matters
    most for the asymmetric providers (an age X25519 unwrap costs about a third less this way,
    bench/bench_keys.py). The result is the same as opening each envelope alone.
    """
    opened: list[tuple[dict[str, Any], bytes] | DecryptionFailure] = []
    for data, name, _arn, version_id in items:
        try:
            opened.append((parse(data, name=name, version_id=version_id), b""))
        except DecryptionFailure as exc:
            opened.append(exc)
    for i, (_data, _name, arn, version_id) in enumerate(items):
        step = opened[i]
        if not isinstance(step, DecryptionFailure):
            try:
                opened[i] = (step[0], keys.unwrap(step[0]["keys"], _context(arn, version_id)))
            except DecryptionFailure as exc:
                opened[i] = exc
    out: list[tuple[bytes, ValueKind] | DecryptionFailure] = []
    for step, (_data, name, _arn, version_id) in zip(opened, items, strict=True):
        if isinstance(step, DecryptionFailure):
            out.append(step)
            continue
        doc, data_key = step
        try:
            out.append((_decrypt(doc, data_key, name, version_id), doc["type"]))
        except DecryptionFailure as exc:
            out.append(exc)
    return out


def open_value(
    data: bytes, *, name: str, arn: str, version_id: str, keys: KeyService
) -> tuple[bytes, ValueKind]:
    """Decrypt an envelope; returns the value and its kind, or raises DecryptionFailure."""
    doc = parse(data, name=name, version_id=version_id)
    data_key = keys.unwrap(doc["keys"], _context(arn, version_id))
    return _decrypt(doc, data_key, name, version_id), doc["type"]


def rewrap(
    data: bytes,
    *,
    name: str,
    arn: str,
    version_id: str,
    recipients: list[Recipient],
    keys: KeyService,
) -> bytes:
    """The same envelope with its data key wrapped for ``recipients`` instead (same ciphertext)."""
    doc = parse(data, name=name, version_id=version_id)
    context = _context(arn, version_id)
    data_key = keys.unwrap(doc["keys"], context)
    doc["keys"] = keys.wrap(recipients, data_key, context)
    return _dump(doc)
