"""The key-provider interface: wrap and unwrap a data key, and say which key ids are yours.

A provider never sees a secret value, only the 32-byte data key of one version and the encryption
context that names the secret and version (``SecretARN``, ``SecretVersionId``), which every provider
must bind to the wrapped key so that a stanza copied to another secret or version fails to unwrap.
A new provider is one module here and one line in :data:`gitsm.providers.PROVIDERS`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar


class KeyUnavailable(Exception):
    """A provider cannot wrap or unwrap with a key; the message says why, never key material."""


class KeySourceUnusable(KeyUnavailable):
    """Where a provider takes its keys from is unusable (a malformed ``GITSM_LOCAL_KEYS``, an
    unreadable identity file or key ring): an environment fault, not a key that is not held. The
    message names the source and what to do."""


class KeyProvider(ABC):
    """Wraps and unwraps data keys for the key ids it owns."""

    name: ClassVar[str]

    @abstractmethod
    def claims(self, key_id: str) -> bool:
        """True when ``key_id`` is a native id of this provider that it can use or name."""

    @abstractmethod
    def wrap(self, key_id: str, data_key: bytes, context: Mapping[str, str]) -> dict[str, str]:
        """Wrap ``data_key`` for ``key_id``; returns the provider's stanza fields."""

    @abstractmethod
    def unwrap(self, key_id: str, stanza: Mapping[str, str], context: Mapping[str, str]) -> bytes:
        """Recover the data key from a stanza, or raise :class:`KeyUnavailable` saying why."""

    def describe(self, key_id: str) -> dict[str, str]:
        """Public facts about a key, for listings (never key material)."""
        return {"provider": self.name, "key_id": key_id}

    def generate(self, key_id: str, context: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
        """A fresh 256-bit data key and its stanza fields, for the first recipient of a version.

        The default draws the key locally and wraps it; a provider with a native data-key generator
        (KMS GenerateDataKey) overrides this.
        """
        data_key = os.urandom(32)
        return data_key, self.wrap(key_id, data_key, context)

    def holds(self, key_id: str) -> bool | None:
        """Whether this process can unwrap with ``key_id``; None when only trying can tell.

        The default suits a provider whose :meth:`claims` checks that the key is present.
        """
        return self.claims(key_id)

    def held_keys(self) -> list[str]:
        """Key ids this process can unwrap with, when the provider can list them (for listings)."""
        return []


def canonical_context(context: Mapping[str, str]) -> bytes:
    """The encryption context as canonical JSON bytes, for use as associated data."""
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode("utf-8")


def b64encode(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: object) -> bytes:
    """Decode base64, refusing anything that is not the one canonical encoding of its bytes."""
    if not isinstance(text, str):
        raise ValueError("not base64 text")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("not valid base64") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return data
