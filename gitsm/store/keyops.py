"""Key management: local keys, key aliases and their recipients, re-keying and exposure reports.

An alias (``alias/team-prod``) in ``.gitsm/config.yaml`` lists recipients, each a provider and a
public key id. Creating an alias or changing its recipients is one commit that changes only the
config; versions written afterwards use the new recipients. :meth:`KeyOps.rekey` re-wraps the data
keys of the versions already in the tree for their key's current recipients, all in one commit (the
ciphertexts stay as they were).

Re-keying cannot take back what history holds: a recipient that could unwrap a version at some
commit can still do so from that commit. :meth:`KeyOps.exposure_report` walks the branch's history
and lists every secret and VersionId that a recipient no longer on the secret's key could decrypt,
so that users know which values to rotate. ``rekey`` returns that report for its scope.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from gitsm import envelope, paths
from gitsm.errors import (
    DecryptionFailure,
    InvalidParameterException,
    InvalidRequestException,
    ResourceExistsException,
    ResourceNotFoundException,
)
from gitsm.gitrepo import Snapshot
from gitsm.keys import Recipient
from gitsm.manifest import StoreConfig
from gitsm.model import Secret
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


@dataclass(frozen=True)
class Exposure:
    """A version that recipients no longer on its secret's key could decrypt at some commit."""

    secret: str
    version_id: str
    recipients: list[Recipient]
    in_tree: bool
    """The version is still in the current tree (``stages`` are its labels there)."""
    stages: list[str]
    commit: str
    """The newest commit in which such a stanza is present."""


@dataclass(frozen=True)
class RekeyReport:
    """What ``rekey`` did, and what the recipients it dropped could still read from history."""

    rewrapped: list[tuple[str, str]]
    """(secret name, VersionId) of every re-wrapped version; empty when nothing changed."""
    secrets: int
    """Secrets in scope."""
    exposures: list[Exposure]
    removed: list[Recipient]
    """Every recipient named in ``exposures``."""


def _key_str(r: Recipient) -> str:
    return f"{r.provider}:{r.key_id}"


def _validate_alias(alias: object) -> str:
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
        local = self.keys.provider(LocalProvider.name)
        assert isinstance(local, LocalProvider)
        return local.create_key()

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
        local = self.keys.provider(LocalProvider.name)
        assert isinstance(local, LocalProvider)
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
        return KeyListing(config.default_kms_key_id, aliases, usage, held, problems)

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
        alias = _validate_alias(alias)
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
            if not changed:
                return Change(self._alias(config, alias))
            keys_cfg = dict(config.keys)
            keys_cfg[alias] = [{"provider": r.provider, "key_id": r.key_id} for r in after]
            updated = replace(config, keys=keys_cfg)
            trailers = {
                "Key-Alias": alias,
                "Key-Recipients": ", ".join(_key_str(r) for r in changed),
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

    def delete_key_alias(self, alias: str) -> None:
        """DeleteKeyAlias: remove an alias that no secret and no default refers to."""
        alias = _validate_alias(alias)

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[None]:
            if alias not in config.keys:
                raise ResourceNotFoundException(f"The store has no key alias {alias}.")
            users = [
                s.name
                for s in self._all(snap)
                if (s.kms_key_id or config.default_kms_key_id) == alias
            ]
            if users or alias == config.default_kms_key_id:
                raise InvalidRequestException(
                    f"The key alias {alias} is in use ({len(users)} secrets"
                    f"{', and it is the default key' if alias == config.default_kms_key_id else ''})."
                    " Move those secrets to another key (UpdateSecret KmsKeyId) first."
                )
            keys_cfg = {a: r for a, r in config.keys.items() if a != alias}
            files: dict[str, bytes | None] = {
                paths.CONFIG_PATH: replace(config, keys=keys_cfg).dump()
            }
            return Change(None, "DeleteKeyAlias", "", files, {"Key-Alias": alias})

        self._transact(plan)

    # -- rekey and exposure --------------------------------------------------------------------

    def _current_recipients(
        self, snap: Snapshot, config: StoreConfig, secret: Secret
    ) -> list[Recipient]:
        """The recipients of the secret's key now (an alias's list, or the native key itself)."""
        key_id = secret.kms_key_id or config.default_kms_key_id
        if key_id in config.keys:
            return [Recipient(r["provider"], r["key_id"]) for r in config.keys[key_id]]
        found = self.keys.identify(key_id)
        if found is not None:
            return [found]
        for vid in secret.versions:  # a native key not held here: its provider is in the stanzas
            for stanza in self._stanzas(snap.read(paths.version_path(secret.name, vid))):
                if stanza.get("key_id") == key_id and stanza.get("provider") in PROVIDERS:
                    return [Recipient(stanza["provider"], key_id)]
        return []

    @staticmethod
    def _stanzas(data: bytes | None) -> list[dict[str, str]]:
        try:
            doc = json.loads(data) if data is not None else None
        except ValueError:
            return []
        keys = doc.get("keys") if isinstance(doc, dict) else None
        if not isinstance(keys, list):
            return []
        return [s for s in keys if isinstance(s, dict)]

    def _scope(
        self, snap: Snapshot, config: StoreConfig, secret_id: str | None, prefix: str | None
    ) -> list[Secret]:
        if secret_id is not None and prefix is not None:
            raise InvalidParameterException("Give a secret id or a name prefix, not both.")
        if secret_id is not None:
            return [self._find(snap, config, secret_id)]
        return [s for s in self._all(snap) if prefix is None or s.name.startswith(prefix)]

    def rekey(
        self,
        *,
        secret_id: str | None = None,
        prefix: str | None = None,
        alias: str | None = None,
        force: bool = False,
        report_for: Iterable[str | Recipient] | None = None,
    ) -> RekeyReport:
        """Re-wrap the data keys of every version in scope for its key's current recipients.

        Scope: one secret (``secret_id``), names starting with ``prefix``, or every secret; with
        ``alias``, only secrets whose key is that alias. Versions already wrapped for exactly the
        current recipients are left alone unless ``force``. One commit (Rekey) or none; a version
        that this process cannot unwrap fails the whole operation with DecryptionFailure naming it,
        and nothing is written. Returns the exposure report for the same scope (see
        :meth:`exposure_report`; ``report_for`` limits it to the given recipients).
        """
        if alias is not None:
            _validate_alias(alias)
        scope_name: list[str] = []

        def plan(
            snap: Snapshot, config: StoreConfig, now: datetime
        ) -> Change[tuple[list[tuple[str, str]], int]]:
            if alias is not None and alias not in config.keys:
                raise ResourceNotFoundException(f"The store has no key alias {alias}.")
            secrets = self._scope(snap, config, secret_id, prefix)
            scope_name[:] = [secrets[0].name] if secret_id is not None else []
            files: dict[str, bytes | None] = {}
            done: list[tuple[str, str]] = []
            for secret in secrets:
                key_id = secret.kms_key_id or config.default_kms_key_id
                if alias is not None and key_id != alias:
                    continue
                if self._rekey_secret(snap, config, secret, key_id, force, files, done):
                    files.update(self._secret_files(secret))
            result = (done, len(secrets))
            if not files:
                return Change(result)
            trailers = {"Rekey-Scope": "secret" if secret_id else "prefix" if prefix else "all"}
            if prefix:
                trailers["Rekey-Prefix"] = prefix
            if alias:
                trailers["Key-Alias"] = alias
            trailers["Rewrapped-Count"] = str(len(done))
            name = secrets[0].name if secret_id is not None else ""
            return Change(result, "Rekey", name, files, trailers)

        done, count = self._transact(plan)
        exposures = self.exposure_report(
            secret_id=scope_name[0] if scope_name else None,
            prefix=prefix,
            recipients=report_for,
        )
        removed = sorted({r for e in exposures for r in e.recipients}, key=_key_str)
        return RekeyReport(done, count, exposures, removed)

    def _rekey_secret(
        self,
        snap: Snapshot,
        config: StoreConfig,
        secret: Secret,
        key_id: str,
        force: bool,
        files: dict[str, bytes | None],
        done: list[tuple[str, str]],
    ) -> bool:
        """Re-wrap one secret's versions into ``files``; True when its manifest changed."""
        recipients = self._current_recipients(snap, config, secret)
        if not recipients:
            raise InvalidRequestException(
                f"Secret {secret.name} uses key {key_id}, which is neither an alias of this store "
                "nor a key that a provider recognises. Nothing was written."
            )
        want = [(r.provider, r.key_id) for r in recipients]
        manifest_changed = False
        for vid, version in list(secret.versions.items()):
            path = paths.version_path(secret.name, vid)
            data = snap.read(path)
            if data is None:
                continue
            have = [(s.get("provider"), s.get("key_id")) for s in self._stanzas(data)]
            if not force and have == want and version.kms_key_ids == [key_id]:
                continue
            if force or have != want:
                try:
                    files[path] = envelope.rewrap(
                        data, name=secret.name, arn=secret.arn, version_id=vid,
                        recipients=recipients, keys=self.keys,
                    )  # fmt: skip
                except DecryptionFailure as exc:
                    raise DecryptionFailure(
                        f"Rekey can't re-wrap version {vid} of secret {secret.name}; nothing was "
                        f"written. {exc.message}"
                    ) from None
                done.append((secret.name, vid))
            if version.kms_key_ids != [key_id]:
                secret.versions[vid] = replace(version, kms_key_ids=[key_id])
                manifest_changed = True
        return manifest_changed

    def exposure_report(
        self,
        *,
        secret_id: str | None = None,
        prefix: str | None = None,
        recipients: Iterable[str | Recipient] | None = None,
    ) -> list[Exposure]:
        """Versions, in the tree and in history, that recipients no longer on the key could read.

        For a secret in the tree, a recipient counts when a version of it (at any commit) had a
        stanza for that recipient and the recipient is not among the current recipients of the
        secret's key. For a secret no longer in the tree, when the recipient is in no alias of the
        config. ``recipients`` (key ids) limits the report to those recipients, whether or not they
        are still current. Read-only; walks the branch's history once.
        """
        snap = self.repo.tip()
        config = self.config(snap)
        only = None
        if recipients is not None:
            only = {r.key_id if isinstance(r, Recipient) else str(r) for r in recipients}
        current = {s.name: s for s in self._scope(snap, config, secret_id, prefix)}
        allowed = {
            name: {(r.provider, r.key_id) for r in self._current_recipients(snap, config, s)}
            for name, s in current.items()
        }
        registry = {(r["provider"], r["key_id"]) for rs in config.keys.values() for r in rs}
        if secret_id is not None:
            name = next(iter(current))
            root = f"{paths.secret_dir(name)}/{paths.VERSIONS}"
        else:
            root = paths.SECRETS_ROOT
        found: dict[tuple[str, str], tuple[set[tuple[str, str]], str]] = {}
        for commit, _path, data in self.repo.history_files(
            root, lambda p: p.rsplit("/", 2)[-2:-1] == [paths.VERSIONS]
        ):
            try:
                doc = json.loads(data)
                name, vid = str(doc["secret"]), str(doc["version_id"])
            except (ValueError, KeyError, TypeError):
                continue
            if secret_id is not None and name not in current:
                continue
            if prefix is not None and not name.startswith(prefix):
                continue
            holders = {(str(s.get("provider")), str(s.get("key_id"))) for s in self._stanzas(data)}
            if only is not None:
                former = {h for h in holders if h[1] in only}
            else:
                former = holders - allowed.get(name, registry)
            if not former:
                continue
            seen, newest = found.get((name, vid), (set(), commit))
            found[(name, vid)] = (seen | former, newest)
        out = []
        for (name, vid), (former, commit) in sorted(found.items()):
            secret = current.get(name)
            version = secret.versions.get(vid) if secret is not None else None
            out.append(
                Exposure(
                    secret=name,
                    version_id=vid,
                    recipients=[Recipient(p, k) for p, k in sorted(former)],
                    in_tree=version is not None,
                    stages=list(version.stages) if version is not None else [],
                    commit=commit,
                )
            )
        return out


__all__ = ["Exposure", "KeyAlias", "KeyListing", "KeyOps", "RecipientInfo", "RekeyReport"]
