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

pyrage writes every stanza and is the reference reader; reading goes first through
:mod:`gitsm.providers.agefile`, a fast reader for the common shape that declines anything else.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyrage  # type: ignore[import-untyped]
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyrage import x25519

from gitsm.providers import agefile
from gitsm.providers.agefile import ARMOR_BEGIN, bech32_bytes
from gitsm.providers.base import (
    KeyProvider,
    KeySourceUnusable,
    KeyUnavailable,
    b64decode_strict,
    b64encode,
)

ENV_IDENTITY_FILE = "GITSM_AGE_IDENTITY_FILE"
ENV_KEY = "GITSM_AGE_KEY"
PAYLOAD_FORMAT = "gitsm-age-v1"
_RECIPIENT = re.compile(r"age1[02-9ac-hj-np-z]{58}")
_IDENTITY_PREFIX = "AGE-SECRET-KEY-1"


_quote = json.encoder.encode_basestring_ascii
_PAYLOAD_TAIL = f'","format":"{PAYLOAD_FORMAT}"}}'.encode("ascii")


def _payload_head(context: Mapping[str, str]) -> bytes:
    inner = ",".join(f"{_quote(k)}:{_quote(v)}" for k, v in sorted(context.items()))
    return f'{{"context":{{{inner}}},"data_key":"'.encode("ascii")


def payload(data_key: bytes, context: Mapping[str, str]) -> bytes:
    """The plaintext that an age stanza encrypts: the data key bound to its encryption context,
    as canonical JSON (sorted keys, no spaces, ASCII)."""
    return _payload_head(context) + b64encode(data_key).encode("ascii") + _PAYLOAD_TAIL


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
                raise KeySourceUnusable(
                    f"{where} is an encrypted (passphrase-protected) identity file, which gitsm "
                    "cannot use; decrypt it to a private file first"
                )
            if not line.upper().startswith(_IDENTITY_PREFIX):
                raise KeySourceUnusable(
                    f"line {number} of {where} is not an age X25519 identity "
                    f"({_IDENTITY_PREFIX}...); plugin and SSH identities are not supported. "
                    f"Fix it (age-keygen makes identities) or unset the variable"
                )
            try:
                out.append(x25519.Identity.from_str(line.upper()))
            except Exception:  # pyrage.IdentityError; never echo the line
                raise KeySourceUnusable(
                    f"line {number} of {where} is not a valid age identity. Fix it (age-keygen "
                    "makes identities) or unset the variable"
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
                    raise KeySourceUnusable(
                        f"cannot read {where} ({reason}). Point {ENV_IDENTITY_FILE} at a "
                        f"readable age identity file, or unset it"
                    ) from None
                found += self._parse(text, where)
            if self._env_key.strip():
                found += self._parse(re.sub(r"[\s,]+", "\n", self._env_key), ENV_KEY)
            self._identities = {str(i.to_public()): i for i in found}
            for recipient, identity in self._identities.items():
                scalar = bech32_bytes(str(identity))
                if scalar is None or len(scalar) != 32:
                    continue
                key = X25519PrivateKey.from_private_bytes(scalar)
                public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
                if public == bech32_bytes(recipient):
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
        identities = self._identities if self._identities is not None else self._load()
        identity = identities.get(key_id)
        if identity is None:
            held = f"{len(identities)} other identities" if identities else "no identity"
            raise KeyUnavailable(
                f"no age identity for recipient {key_id} is held here ({self._sources()}: {held})"
            )
        sealed = stanza.get("age")
        raw = agefile.armored_bytes(sealed) if isinstance(sealed, str) else None
        if raw is None:
            raise KeyUnavailable(
                f"the age stanza for {key_id} holds no canonical armored age file (altered?)"
            )
        fast = self._fast.get(key_id)
        plain = agefile.decrypt(raw, *fast) if fast is not None else None
        if plain is None:
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
        at = len(plain) - len(_PAYLOAD_TAIL) - 44
        if at > 0 and plain.endswith(_PAYLOAD_TAIL) and plain[:at] == _payload_head(context):
            try:  # the payload as gitsm writes it: compared as bytes, no JSON parse
                data_key = b64decode_strict(plain[at : at + 44].decode("ascii"))
            except ValueError:
                data_key = b""
            if len(data_key) == 32:
                return data_key
        try:
            doc = json.loads(plain.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):  # anyone can encrypt to us
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
