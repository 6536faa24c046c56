"""Key resolution and the key service: KmsKeyId -> recipients, and wrap/unwrap across providers.

A key id is an alias from the store config (``alias/...``, one or more recipients) or a
provider-native id claimed by one provider. The default alias ``alias/aws/secretsmanager`` is created
on first use as a new local key, as AWS creates its managed key on first use, except in a store
shared through a git remote: there a key only one machine holds would lock everyone else out, so
the caller asks :meth:`KeyService.resolve` not to create it (``create_default=False``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from gitsm.errors import (
    DecryptionFailure,
    EncryptionFailure,
    InvalidParameterException,
    KeySourceError,
)
from gitsm.manifest import StoreConfig
from gitsm.model import DEFAULT_KEY_ALIAS, KMS_KEY_ID_MAX
from gitsm.providers import (
    PROVIDERS,
    KeyProvider,
    KeySourceUnusable,
    KeyUnavailable,
    LocalProvider,
)

KEY_KINDS = (
    "an alias of the store's key registry, an age recipient (age1...), an AWS KMS key ARN or "
    "alias ARN, or the id of a local key in this machine's key ring"
)
TEAM_KEY_HINT = (
    "Set a team key: 'gitsm keys create-alias alias/team --recipient age1... "
    "[--recipient age1...]' (age recipients from age-keygen; an AWS KMS key ARN works too), then "
    "'gitsm keys set-default alias/team'"
)


def source_error(exc: KeySourceUnusable) -> KeySourceError:
    """The environment error (exit 253) of a key source that cannot be used: this is where the
    providers' KeySourceUnusable becomes a gitsm error, once."""
    return KeySourceError(f"A key source of this machine is unusable: {exc}.")


def shared_store_refusal(key_id: str) -> EncryptionFailure:
    """The error of a write that would create the machine-local default key in a shared store."""
    return EncryptionFailure(
        f"Secrets Manager can't create the key {key_id}: this store is shared through a git "
        "remote, and a new default key would be a local key that only this machine holds, which "
        f"would lock teammates and CI out of what it encrypts. {TEAM_KEY_HINT}; or pass a team "
        "key with --kms-key-id (KmsKeyId)."
    )


@dataclass(frozen=True)
class Recipient:
    """One key that a data key is wrapped for."""

    provider: str
    key_id: str


class KeyService:
    """Resolves key ids and wraps/unwraps data keys through the registered providers."""

    def __init__(self, home: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        self.home = home
        self.env = dict(os.environ if env is None else env)
        self._providers: dict[str, KeyProvider] = {}

    def provider(self, name: str) -> KeyProvider:
        """The provider registered as ``name`` (instantiated once). Raises KeyUnavailable for an
        unknown provider, KeySourceUnusable when its key source is malformed."""
        if name not in self._providers:
            if name not in PROVIDERS:
                raise KeyUnavailable(f"unknown key provider {name!r}")
            self._providers[name] = PROVIDERS[name](home=self.home, env=self.env)  # type: ignore[call-arg]
        return self._providers[name]

    def local(self) -> LocalProvider:
        """The local provider (this machine's key ring); KeySourceError when its source is
        unusable (a malformed GITSM_LOCAL_KEYS)."""
        try:
            local = self.provider(LocalProvider.name)
        except KeySourceUnusable as exc:
            raise source_error(exc) from None
        assert isinstance(local, LocalProvider)
        return local

    def create_local_key(self) -> str:
        """A new key in this machine's key ring (its id); KeySourceError when the key ring cannot
        take it (read-only, full) or GITSM_LOCAL_KEYS is malformed."""
        try:
            return self.local().create_key()
        except KeySourceUnusable as exc:
            raise source_error(exc) from None

    def resolve(
        self, kms_key_id: str | None, config: StoreConfig, *, create_default: bool = True
    ) -> tuple[list[Recipient], StoreConfig | None]:
        """Recipients for ``kms_key_id`` (None: the store default).

        Returns the recipients and, when the default key had to be created, the updated config
        that the caller must commit together with its write. With ``create_default=False`` (a
        store shared through a git remote) the default alias is never created: an unregistered
        default is an EncryptionFailure, raised before any key is made.
        """
        key_id = kms_key_id or config.default_kms_key_id
        if key_id in config.keys:
            recips = [Recipient(r["provider"], r["key_id"]) for r in config.keys[key_id]]
            if not recips:
                raise EncryptionFailure(f"Key alias {key_id} has no recipients. Add one first.")
            return recips, None
        if key_id == DEFAULT_KEY_ALIAS:
            if not create_default:
                raise shared_store_refusal(key_id)
            new_id = self.create_local_key()
            keys = dict(config.keys)
            keys[key_id] = [{"provider": LocalProvider.name, "key_id": new_id}]
            return [Recipient(LocalProvider.name, new_id)], replace(config, keys=keys)
        if key_id.startswith("alias/"):
            raise EncryptionFailure(
                f"Secrets Manager can't find the KMS key alias {key_id} in this store. "
                "Define it in .gitsm/config.yaml or use an existing key id."
            )
        native = self.identify(key_id)
        if native is not None:
            return [native], None
        raise EncryptionFailure(
            f"Secrets Manager can't find the specified KMS key {key_id}. "
            "Use an alias from the store config or a key id that a provider holds."
        )

    def check_default(self, key_id: object, config: StoreConfig) -> str:
        """``key_id`` if it can be the default key of a store with ``config``, else
        InvalidParameterException saying what to name instead.

        Accepted: an alias of the registry with recipients, the built-in default alias (created
        on first use where the store allows it), or a key id that a provider claims.
        """
        if not isinstance(key_id, str) or not 1 <= len(key_id) <= KMS_KEY_ID_MAX:
            raise InvalidParameterException(
                f"Name the default key (at most {KMS_KEY_ID_MAX} characters): {KEY_KINDS}."
            )
        if key_id in config.keys:
            if not config.keys[key_id]:
                raise InvalidParameterException(
                    f"Key alias {key_id} has no recipients. Add one first "
                    f"(gitsm keys add-recipient {key_id} KEY_ID)."
                )
            return key_id
        if key_id == DEFAULT_KEY_ALIAS:
            return key_id
        if key_id.startswith("alias/"):
            raise InvalidParameterException(
                f"The store has no key alias {key_id}. Create it first (gitsm keys create-alias "
                f"{key_id} --recipient KEY_ID...), or name {KEY_KINDS}."
            )
        if self.identify(key_id) is None:
            raise InvalidParameterException(
                f"No key provider recognises {key_id!r} as a key. Name {KEY_KINDS}."
            )
        return key_id

    def identify(self, key_id: str) -> Recipient | None:
        """The provider-native key ``key_id`` as a recipient, or None when no provider claims it;
        KeySourceError when none does and a provider's key source is unusable (it might)."""
        unusable: KeySourceUnusable | None = None
        for name in PROVIDERS:
            try:
                if self.provider(name).claims(key_id):
                    return Recipient(name, key_id)
            except KeySourceUnusable as exc:
                unusable = unusable or exc
            except KeyUnavailable:
                continue
        if unusable is not None:
            raise source_error(unusable)
        return None

    def generate(
        self, recipients: list[Recipient], context: Mapping[str, str]
    ) -> tuple[bytes, list[dict[str, str]]]:
        """A fresh data key from the first recipient's provider, wrapped for every recipient."""
        if not recipients:
            raise EncryptionFailure("Secrets Manager can't encrypt: the key has no recipients.")
        first = recipients[0]
        try:
            data_key, fields = self.provider(first.provider).generate(first.key_id, context)
        except KeySourceUnusable as exc:
            raise source_error(exc) from None
        except KeyUnavailable as exc:
            raise EncryptionFailure(
                f"Secrets Manager can't encrypt with key {first.key_id} ({first.provider}): {exc}."
            ) from None
        if len(data_key) != 32:
            raise EncryptionFailure(
                f"Secrets Manager can't encrypt with key {first.key_id} ({first.provider}): "
                "it did not produce a 256-bit data key."
            )
        stanza = {"provider": first.provider, "key_id": first.key_id, **fields}
        return data_key, [stanza, *self.wrap(recipients[1:], data_key, context)]

    def wrap(
        self, recipients: list[Recipient], data_key: bytes, context: Mapping[str, str]
    ) -> list[dict[str, str]]:
        """One stanza per recipient; any failure is an EncryptionFailure naming the key."""
        stanzas = []
        for r in recipients:
            try:
                fields = self.provider(r.provider).wrap(r.key_id, data_key, context)
            except KeySourceUnusable as exc:
                raise source_error(exc) from None
            except KeyUnavailable as exc:
                raise EncryptionFailure(
                    f"Secrets Manager can't encrypt with key {r.key_id} ({r.provider}): {exc}."
                ) from None
            stanzas.append({"provider": r.provider, "key_id": r.key_id, **fields})
        return stanzas

    def unwrap(self, stanzas: list[dict[str, str]], context: Mapping[str, str]) -> bytes:
        """The data key from the first stanza that unwraps; else DecryptionFailure naming each try,
        or KeySourceError when a key source that might have held the key is unusable."""
        reasons = []
        unusable: KeySourceUnusable | None = None
        for stanza in stanzas:
            name, key_id = stanza.get("provider", "?"), stanza.get("key_id", "?")
            try:
                key = self.provider(name).unwrap(key_id, stanza, context)
            except KeySourceUnusable as exc:
                unusable = unusable or exc
                continue
            except KeyUnavailable as exc:
                reasons.append(f"{name} key {key_id}: {exc}")
                continue
            if len(key) != 32:
                reasons.append(f"{name} key {key_id}: unwrapped data key has the wrong length")
                continue
            return key
        if unusable is not None:
            raise source_error(unusable)
        tried = "; ".join(reasons) if reasons else "the version names no key"
        raise DecryptionFailure(
            f"Secrets Manager can't decrypt the protected secret text using the provided KMS key. "
            f"Tried: {tried}."
        )
