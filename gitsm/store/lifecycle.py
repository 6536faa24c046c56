"""Lifecycle writes: DeleteSecret, RestoreSecret, purging expired secrets, and tags.

Each is one commit, or none when nothing changes. A scheduled deletion only marks the manifest
(``deleted``, ``deletion_date``); once the window has passed the secret reads as gone, and its files
leave the tree with the next CreateSecret of that name or with :meth:`LifecycleOps.purge_deleted_secrets`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from gitsm import paths, replicas
from gitsm.errors import InvalidParameterException, ResourceNotFoundException
from gitsm.gitrepo import Snapshot
from gitsm.manifest import StoreConfig
from gitsm.model import make_arn, merge_tags, validate_tag_key, validate_tags
from gitsm.store.core import Change, StoreCore, WriteResult


class LifecycleOps(StoreCore):
    """DeleteSecret, RestoreSecret, TagResource, UntagResource and purging."""

    def delete_secret(
        self,
        secret_id: str,
        *,
        recovery_window_in_days: int | None = None,
        force_delete_without_recovery: bool | None = None,
    ) -> WriteResult:
        """DeleteSecret: schedule deletion after 7-30 days (default 30), or delete at once. A
        replicated primary is refused until its replicas are removed, as AWS refuses it."""
        # The window is checked first: AWS answers RecoveryWindowInDays=0 with
        # ForceDeleteWithoutRecovery=True with the window's error, not the conflict's.
        window = 30 if recovery_window_in_days is None else recovery_window_in_days
        if not isinstance(window, int) or isinstance(window, bool) or not 7 <= window <= 30:
            raise InvalidParameterException(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
            )
        if force_delete_without_recovery and recovery_window_in_days is not None:
            raise InvalidParameterException(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
            )

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[WriteResult]:
            if force_delete_without_recovery:
                try:
                    secret = self._find(snap, config, secret_id)
                except ResourceNotFoundException:
                    name = str(secret_id)
                    arn = make_arn(self.region(config), config.account_id, name)
                    return Change(WriteResult(arn, name, deletion_date=now))
                replicas.refuse_replica(secret, self.region(config))
                if secret.replicas:
                    raise replicas.delete_refusal(secret)
                result = WriteResult(secret.arn, secret.name, deletion_date=now)
                trailers = {"Secret-Arn": secret.arn, "Force-Delete-Without-Recovery": "true"}
                files = self._removal(secret.name)
                return Change(result, "DeleteSecret", secret.name, files, trailers)
            secret = self._find_live(snap, config, secret_id)
            if secret.replicas:
                raise replicas.delete_refusal(secret)
            when = now + timedelta(days=window)
            updated = replace(secret, deleted_date=now, deletion_date=when)
            result = WriteResult(secret.arn, secret.name, deletion_date=when)
            trailers = {"Secret-Arn": secret.arn, "Recovery-Window-In-Days": str(window)}
            files = self._secret_files(updated)
            return Change(result, "DeleteSecret", secret.name, files, trailers)

        return self._transact(plan)

    def restore_secret(self, secret_id: str) -> WriteResult:
        """RestoreSecret: cancel a scheduled deletion."""

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[WriteResult]:
            secret = self._find_primary(snap, config, secret_id)
            result = WriteResult(secret.arn, secret.name)
            if secret.deleted_date is None:
                return Change(result)
            updated = replace(secret, deleted_date=None, deletion_date=None, last_changed=now)
            files = self._secret_files(updated)
            return Change(result, "RestoreSecret", secret.name, files, {"Secret-Arn": secret.arn})

        return self._transact(plan)

    def tag_resource(self, secret_id: str, tags: list[dict[str, str]]) -> None:
        """TagResource: add tags or overwrite their values."""
        new = validate_tags(tags)

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[None]:
            secret = self._find_live(snap, config, secret_id)
            merged = merge_tags(secret.tags, new)
            if merged == (secret.tags or []):
                return Change(None)
            files = self._secret_files(replace(secret, tags=merged, last_changed=now))
            return Change(None, "TagResource", secret.name, files, {"Secret-Arn": secret.arn})

        self._transact(plan)

    def untag_resource(self, secret_id: str, tag_keys: list[str]) -> None:
        """UntagResource: remove tags by key; absent keys are fine."""
        if not isinstance(tag_keys, list) or not all(isinstance(k, str) for k in tag_keys):
            raise InvalidParameterException("TagKeys must be a list of strings.")
        for key in tag_keys:
            validate_tag_key(key)

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[None]:
            secret = self._find_live(snap, config, secret_id)
            kept = [(k, v) for k, v in secret.tags or [] if k not in tag_keys]
            if kept == (secret.tags or []):
                return Change(None)
            files = self._secret_files(replace(secret, tags=kept, last_changed=now))
            return Change(None, "UntagResource", secret.name, files, {"Secret-Arn": secret.arn})

        self._transact(plan)

    def purge_deleted_secrets(self) -> list[str]:
        """Remove from the tree every secret whose recovery window has passed (one commit)."""

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[list[str]]:
            names: list[str] = []
            files: dict[str, bytes | None] = {}
            for directory, _found in snap.find_dirs_with(
                paths.SECRETS_ROOT, paths.MANIFEST, paths.VERSIONS, 0
            ):
                name = paths.name_from_dir(directory)
                secret = self._load(snap, name)
                if secret is not None and self._expired(secret, now):
                    names.append(name)
                    files.update(self._removal(name))
            return Change(
                names, "PurgeDeletedSecrets", "", files, {"Purged-Count": str(len(names))}
            )

        return self._transact(plan)
