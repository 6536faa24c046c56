"""Re-keying and exposure reports.

:meth:`RekeyOps.rekey` re-wraps the data keys of the versions already in the tree for their key's
current recipients, all in one commit (the ciphertexts stay as they were).

Re-keying cannot take back what history holds: a recipient that could unwrap a version at some
commit can still do so from that commit. :meth:`RekeyOps.exposure_report` walks the branch's history
and lists every secret and VersionId that a recipient no longer on the secret's key could decrypt,
so that users know which values to rotate. ``rekey`` returns that report for its scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from gitsm import envelope, paths, treefiles
from gitsm.errors import (
    DecryptionFailure,
    InvalidParameterException,
    InvalidRequestException,
    MalformedEnvelope,
    ResourceNotFoundException,
)
from gitsm.gitrepo import Snapshot
from gitsm.keys import Recipient
from gitsm.manifest import StoreConfig
from gitsm.model import Secret
from gitsm.providers import PROVIDERS
from gitsm.store.core import Change, StoreCore
from gitsm.store.keyops import key_str, validate_alias


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


class RekeyOps(StoreCore):
    """rekey and exposure_report."""

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
            try:
                data = treefiles.envelope_bytes(snap, secret.name, vid)
            except MalformedEnvelope:
                data = None
            for stanza in self._stanzas(data):
                if stanza.get("key_id") == key_id and stanza.get("provider") in PROVIDERS:
                    return [Recipient(stanza["provider"], key_id)]
        return []

    @staticmethod
    def _stanzas(data: bytes | None) -> list[dict[str, str]]:
        doc = envelope.load(data)[0] if data is not None else None  # bounded: size, nesting
        keys = doc.get("keys") if doc is not None else None
        if not isinstance(keys, list):
            return []
        return [s for s in keys if isinstance(s, dict)]

    def _scope(
        self, snap: Snapshot, config: StoreConfig, secret_id: str | None, prefix: str | None
    ) -> list[Secret]:
        if secret_id is not None and prefix is not None:
            raise InvalidParameterException("Give a secret id or a name prefix, not both.")
        if secret_id is not None:
            return [self._find_primary(snap, config, secret_id)]
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
            validate_alias(alias)
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
        removed = sorted({r for e in exposures for r in e.recipients}, key=key_str)
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
            data = treefiles.envelope_bytes(snap, secret.name, vid)  # DecryptionFailure if refused
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
            doc = envelope.load(data)[0]  # bounded: size, nesting
            if doc is None or "secret" not in doc or "version_id" not in doc:
                continue
            name, vid = str(doc["secret"]), str(doc["version_id"])
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


__all__ = ["Exposure", "RekeyOps", "RekeyReport"]
