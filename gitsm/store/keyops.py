"""Key management: local keys, key aliases and their recipients, re-keying and exposure reports.

An alias (``alias/team-prod``) in ``.gitsm/config.yaml`` lists recipients, each a provider and a
public key id. Creating an alias, changing its recipients or choosing the store's default key
(:meth:`KeyOps.set_default_key`) is one commit that changes only the config; versions written
afterwards use the new recipients. :meth:`KeyOps.rekey` re-wraps the data keys of the versions
already in the tree for their key's current recipients, all in one commit (the ciphertexts stay as
they were).

Re-keying cannot take back what history holds: a recipient that could unwrap a version at some
commit can still do so from that commit. :meth:`KeyOps.exposure_report` walks the branch's history
and lists every secret and VersionId that a recipient no longer on the secret's key could decrypt,
so that users know which values to rotate. ``rekey`` returns that report for its scope.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from gitsm import paths
from gitsm.errors import (
    InvalidParameterException,
    InvalidRequestException,
    LimitExceededException,
    ResourceExistsException,
    ResourceNotFoundException,
)
from gitsm.gitrepo import Snapshot
from gitsm.keys import TEAM_KEY_HINT, Recipient
from gitsm.manifest import StoreConfig
from gitsm.model import DEFAULT_KEY_ALIAS, RECIPIENTS_MAX
from gitsm.providers import PROVIDERS, KeyUnavailable, LocalProvider
from gitsm.providers.local import ENV_KEYS
from gitsm.store.core import Change, StoreCore

_ALIAS = re.compile(r"alias/[A-Za-z0-9/_-]{1,250}")
_LOCAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class RecipientInfo:
    """One recipient and whether this process can unwrap with it (None: only trying tells)."""

    provider: str
    key_id: str
    usable: bool | None


@dataclass(frozen=True)
class KeyAlias:
    """An alias of the store config and its recipients, in wrapping order."""

    alias: str
    recipients: list[RecipientInfo]
    is_default: bool


@dataclass(frozen=True)
class KeyListing:
    """What ``list_keys`` answers."""

    default_kms_key_id: str
    aliases: list[KeyAlias]
    usage: dict[str, int]
    """Key id (alias or native id) -> number of secrets in the tree that use it."""
    held: list[RecipientInfo]
    """Keys this process holds: the local key ring and GITSM_LOCAL_KEYS, age identities."""
    problems: list[str] = field(default_factory=list)
    """Why a provider could not list its keys (an unreadable identity file, say)."""
    default_warning: str | None = None
    """Set when the store has a git remote but its default key is machine-local (or unset)."""


def key_str(r: Recipient) -> str:
    """``provider:key_id``, the way recipients are named in reports and trailers."""
    return f"{r.provider}:{r.key_id}"


def validate_alias(alias: object) -> str:
    """Check an alias name (``alias/`` followed by 1-250 of ``[A-Za-z0-9/_-]``) and return it."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise InvalidParameterException(
            f"Invalid key alias {alias!r}: use alias/<name> with letters, digits, '/', '_' and '-' "
            "(at most 256 characters)."
        )
    return alias


class KeyOps(StoreCore):
    """Key management on top of the store: local keys, aliases, recipients, rekey, exposure."""

    # -- keys and aliases ----------------------------------------------------------------------

    def create_local_key(self) -> str:
        """Create a local key in this machine's key ring (no commit); return its id."""
        return self.keys.create_local_key()

    def _info(self, r: Recipient) -> RecipientInfo:
        try:
            usable = self.keys.provider(r.provider).holds(r.key_id)
        except KeyUnavailable:
            usable = False
        return RecipientInfo(r.provider, r.key_id, usable)

    def _alias(self, config: StoreConfig, alias: str) -> KeyAlias:
        recips = [Recipient(r["provider"], r["key_id"]) for r in config.keys[alias]]
        return KeyAlias(alias, [self._info(r) for r in recips], alias == config.default_kms_key_id)

    def _local_key_ids(self) -> list[str]:
        local = self.keys.local()
        ids = {
            entry.partition(":")[0]
            for entry in re.split(r"[\s,]+", self.keys.env.get(ENV_KEYS, "").strip())
            if entry
        }
        if local.key_dir.is_dir():
            ids |= {p.stem for p in local.key_dir.glob("*.key") if _LOCAL_ID.fullmatch(p.stem)}
        return sorted(ids)

    def list_keys(self) -> KeyListing:
        """The store's aliases with their recipients, key usage, and the keys held here."""
        snap = self.repo.tip()
        config = self.config(snap)
        usage: dict[str, int] = {}
        for secret in self._all(snap):
            key_id = secret.kms_key_id or config.default_kms_key_id
            usage[key_id] = usage.get(key_id, 0) + 1
        held = [RecipientInfo(LocalProvider.name, k, True) for k in self._local_key_ids()]
        problems = []
        for name in PROVIDERS:
            if name == LocalProvider.name:
                continue
            try:
                held += [RecipientInfo(name, k, True) for k in self.keys.provider(name).held_keys()]
            except KeyUnavailable as exc:
                problems.append(f"{name}: {exc}")
        aliases = [self._alias(config, a) for a in sorted(config.keys)]
        warning = self.default_key_warning(config)
        return KeyListing(config.default_kms_key_id, aliases, usage, held, problems, warning)

    def default_key_warning(self, config: StoreConfig | None = None) -> str | None:
        """Why teammates cannot use the store's default key, when the repository has a git remote
        and that key is unset or only machine-local; else None. ``config``: the tip's by default.
        """
        if not self.repo.has_remotes():
            return None
        config = config or self.config()
        default = config.default_kms_key_id
        if default == DEFAULT_KEY_ALIAS and default not in config.keys:
            problem = "has no default key, and writes without --kms-key-id fail"
        else:
            if default in config.keys:
                providers = {r["provider"] for r in config.keys[default]}
            else:
                found = self.keys.identify(default)
                providers = {found.provider} if found is not None else set()
            if providers != {LocalProvider.name}:
                return None
            problem = f"has a machine-local default key ({default}): teammates cannot read with it"
        return f"This store is shared through a git remote but {problem}. {TEAM_KEY_HINT}."

    def describe_key_alias(self, alias: str) -> KeyAlias:
        """One alias and its recipients (ResourceNotFoundException if the store has no such alias)."""
        config = self.config()
        if alias not in config.keys:
            raise ResourceNotFoundException(f"The store has no key alias {alias}.")
        return self._alias(config, alias)

    def _recipient(self, key: str | Recipient) -> Recipient:
        if isinstance(key, Recipient):
            if key.provider not in PROVIDERS:
                raise InvalidParameterException(f"Unknown key provider {key.provider!r}.")
            return key
        if not isinstance(key, str) or not key:
            raise InvalidParameterException("A recipient must be a non-empty key id.")
        found = self.keys.identify(key)
        if found is None:
            raise InvalidParameterException(
                f"No key provider recognises {key!r}: use an age recipient (age1...), a KMS key "
                "ARN or alias ARN, or the id of a local key in this machine's key ring."
            )
        return found

    def _edit_alias(
        self,
        operation: str,
        alias: str,
        keys: Sequence[str | Recipient],
        edit: str,
    ) -> KeyAlias:
        """Create an alias, add or remove recipients: one commit changing only the config."""
        alias = validate_alias(alias)
        if isinstance(keys, str) or not keys:
            raise InvalidParameterException("Name at least one recipient (a list of key ids).")
        given = [self._recipient(k) for k in keys] if edit != "remove" else []

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[KeyAlias]:
            current = [Recipient(r["provider"], r["key_id"]) for r in config.keys.get(alias, [])]
            if edit == "create" and alias in config.keys:
                raise ResourceExistsException(
                    f"The key alias {alias} already exists. Add recipients to it instead."
                )
            if edit != "create" and alias not in config.keys:
                raise ResourceNotFoundException(f"The store has no key alias {alias}.")
            if edit == "remove":
                wanted = {k.key_id if isinstance(k, Recipient) else k for k in keys}
                unknown = wanted - {r.key_id for r in current}
                if unknown:
                    raise InvalidParameterException(
                        f"{', '.join(sorted(unknown))} is not a recipient of {alias}."
                    )
                changed = [r for r in current if r.key_id in wanted]
                after = [r for r in current if r.key_id not in wanted]
                if not after:
                    raise InvalidParameterException(
                        f"Removing {', '.join(sorted(wanted))} would leave {alias} without "
                        "recipients. Add another recipient first, or delete the alias."
                    )
            else:
                changed = [r for r in dict.fromkeys(given) if r not in current]
                after = current + changed
                if len(after) > RECIPIENTS_MAX:
                    raise LimitExceededException(
                        f"A key alias holds at most {RECIPIENTS_MAX} recipients; {alias} would "
                        f"have {len(after)}. Nothing was written: split them across aliases."
                    )
            if not changed:
                return Change(self._alias(config, alias))
            keys_cfg = dict(config.keys)
            keys_cfg[alias] = [{"provider": r.provider, "key_id": r.key_id} for r in after]
            updated = replace(config, keys=keys_cfg)
            trailers = {
                "Key-Alias": alias,
                "Key-Recipients": ", ".join(key_str(r) for r in changed),
            }
            files: dict[str, bytes | None] = {paths.CONFIG_PATH: updated.dump()}
            return Change(self._alias(updated, alias), operation, "", files, trailers)

        return self._transact(plan)

    def create_key_alias(self, alias: str, recipients: Sequence[str | Recipient]) -> KeyAlias:
        """PutKeyAlias: a new alias with ``recipients`` (key ids, or Recipient for exactness)."""
        return self._edit_alias("PutKeyAlias", alias, recipients, "create")

    def add_key_recipients(self, alias: str, recipients: Sequence[str | Recipient]) -> KeyAlias:
        """AddKeyRecipients: new versions are wrapped for these too (``rekey`` for old ones)."""
        return self._edit_alias("AddKeyRecipients", alias, recipients, "add")

    def remove_key_recipients(self, alias: str, recipients: Sequence[str | Recipient]) -> KeyAlias:
        """RemoveKeyRecipients: new versions exclude them; run ``rekey`` and read its report."""
        return self._edit_alias("RemoveKeyRecipients", alias, recipients, "remove")

    def set_default_key(self, key_id: str) -> bool:
        """SetDefaultKey: make ``key_id`` the store's default key; True when the default changed.

        One commit changing only ``default_kms_key_id`` (trailer ``Gitsm-Key-Id``), none when it is
        the default already. ``key_id`` is an alias of the registry, the built-in default alias,
        or a key id that a provider claims; anything else is InvalidParameterException and nothing
        is written. Secrets without their own KmsKeyId follow the default: their new versions use
        ``key_id``, and ``rekey`` re-wraps their stored versions for it.
        """

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[bool]:
            if key_id == config.default_kms_key_id:
                return Change(False)
            key = self.keys.check_default(key_id, config)
            files: dict[str, bytes | None] = {
                paths.CONFIG_PATH: replace(config, default_kms_key_id=key).dump()
            }
            return Change(True, "SetDefaultKey", "", files, {"Key-Id": key})

        return self._transact(plan)

    def delete_key_alias(self, alias: str) -> None:
        """DeleteKeyAlias: remove an alias that no secret and no default refers to."""
        alias = validate_alias(alias)

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[None]:
            if alias not in config.keys:
                raise ResourceNotFoundException(f"The store has no key alias {alias}.")
            users = [
                s.name
                for s in self._all(snap)
                if (s.kms_key_id or config.default_kms_key_id) == alias
            ]
            default = alias == config.default_kms_key_id
            if users or default:
                raise InvalidRequestException(
                    f"The key alias {alias} is in use ({len(users)} secrets"
                    f"{', and it is the default key' if default else ''}). Move those secrets to "
                    "another key (UpdateSecret KmsKeyId)"
                    f"{' and make another key the default (SetDefaultKey)' if default else ''} first."
                )
            keys_cfg = {a: r for a, r in config.keys.items() if a != alias}
            files: dict[str, bytes | None] = {
                paths.CONFIG_PATH: replace(config, keys=keys_cfg).dump()
            }
            return Change(None, "DeleteKeyAlias", "", files, {"Key-Alias": alias})

        self._transact(plan)


__all__ = ["KeyAlias", "KeyListing", "KeyOps", "RecipientInfo"]
