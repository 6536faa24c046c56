"""The write operations: each one is exactly one commit, or none when nothing changes.

Retries are answered from the tree: the envelope named by a ClientRequestToken is one path lookup,
and versions younger than 24 hours are never pruned, so every retry within that window finds its
version. Same token and same value returns the first answer without a commit; same token and another
value is ResourceExistsException.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from gitsm import envelope, labels, paths, replicas, treefiles
from gitsm.errors import (
    InvalidParameterException,
    InvalidRequestException,
    LimitExceededException,
    ResourceExistsException,
    ResourceNotFoundException,
)
from gitsm.gitrepo import Snapshot
from gitsm.keys import Recipient
from gitsm.manifest import StoreConfig
from gitsm.model import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    Secret,
    ValueKind,
    VersionInfo,
    make_arn,
    merge_tags,
    random_uuid,
    validate_description,
    validate_kms_key_id,
    validate_name,
    validate_stage,
    validate_tags,
    validate_token,
    validate_value,
    validate_version_id,
)
from gitsm.retention import prunable, quota_message, version_quota
from gitsm.store.core import Change, StoreCore, WriteResult
from gitsm.store.replication import regions_to_add


def _token(token: str | None, has_value: bool) -> str | None:
    if token is not None:
        validate_token(token)
    if not has_value:
        return None  # no value, no version: the token names nothing (as in AWS's responses)
    return token if token is not None else random_uuid()


def _token_reused(token: str, arn: str) -> ResourceExistsException:
    return ResourceExistsException(
        f"You can't use ClientRequestToken {token} because that value is already in use for a "
        f"version of secret {arn}."
    )


class WriteOps(StoreCore):
    """CreateSecret, UpdateSecret, PutSecretValue, label moves, deletes and tags."""

    def _same_value(
        self, snap: Snapshot, secret: Secret, token: str, value: tuple[bytes, ValueKind]
    ) -> bool:
        """True when version ``token`` holds exactly ``value`` (a retry); False if another value."""
        return self._decrypt(snap, secret, token) == value

    def _add_version(
        self,
        snap: Snapshot,
        config: StoreConfig,
        secret: Secret,
        token: str,
        value: tuple[bytes, ValueKind],
        stages: Sequence[str] | None,
        now: datetime,
        files: dict[str, bytes | None],
    ) -> tuple[Secret, StoreConfig | None]:
        """Seal a new version into ``files`` and return the secret with its labels moved."""
        recipients, new_config = self._resolve_key(secret.kms_key_id, config)
        data, kind = value
        files[paths.version_path(secret.name, token)] = envelope.seal(
            data, kind, name=secret.name, arn=secret.arn, version_id=token,
            recipients=recipients, keys=self.keys,
        )  # fmt: skip
        key_id = secret.kms_key_id or config.default_kms_key_id
        info = VersionInfo(token, now, kind, [key_id])
        return self._place_version(secret, info, stages, config, now, files), new_config

    def _place_version(
        self,
        secret: Secret,
        info: VersionInfo,
        stages: Sequence[str] | None,
        config: StoreConfig,
        now: datetime,
        files: dict[str, bytes | None],
        changed: datetime | None = None,
    ) -> Secret:
        """``secret`` with version ``info`` added and its labels moved (``stages``: the requested
        VersionStages, None for the default AWSCURRENT), unlabeled versions pruned as of ``now``
        (their envelopes removed in ``files``); ``changed`` is the LastChangedDate to record
        (default ``now``). The envelope itself is the caller's to put in ``files``."""
        moved = labels.add_version(secret.stage_map(), info.version_id, stages)
        versions = dict(secret.versions)
        versions[info.version_id] = info
        for vid, v in versions.items():
            if v.stages != moved[vid]:  # only the versions whose labels moved are new objects
                versions[vid] = replace(v, stages=moved[vid])
        secret = replace(secret, versions=versions, last_changed=changed or now)
        for vid in prunable(secret, now, config.max_versions, config.min_version_age_hours):
            del secret.versions[vid]
            files[paths.version_path(secret.name, vid)] = None
        if len(secret.versions) > version_quota(config.max_versions):
            held = len(secret.versions) - 1
            raise LimitExceededException(
                quota_message(secret.arn, held, config.min_version_age_hours)
            )
        return secret

    @staticmethod
    def _with_config(files: dict[str, bytes | None], config: StoreConfig | None) -> None:
        if config is not None:
            files[paths.CONFIG_PATH] = config.dump()

    def create_secret(
        self,
        name: str,
        *,
        client_request_token: str | None = None,
        description: str | None = None,
        kms_key_id: str | None = None,
        secret_string: str | None = None,
        secret_binary: bytes | None = None,
        tags: list[dict[str, str]] | None = None,
        add_replica_regions: list[dict[str, str]] | None = None,
        force_overwrite_replica_secret: bool | None = None,
    ) -> WriteResult:
        """CreateSecret: a new secret, with a first version (AWSCURRENT) when a value is given,
        replicated to ``add_replica_regions`` (:mod:`gitsm.store.replication`; the answer then
        holds its ReplicationStatus). ``force_overwrite_replica_secret`` changes nothing: no other
        secret can hold a replica's name in a store."""
        validate_name(name)
        requests = None if add_replica_regions is None else replicas.parse_add(add_replica_regions)
        if force_overwrite_replica_secret is not None and not isinstance(
            force_overwrite_replica_secret, bool
        ):
            raise InvalidParameterException("ForceOverwriteReplicaSecret must be true or false.")
        value = validate_value(secret_string, secret_binary, required=False)
        token = _token(client_request_token, value is not None)
        description = validate_description(description)
        kms_key_id = validate_kms_key_id(kms_key_id)
        tag_pairs = merge_tags([], validate_tags(tags)) if tags is not None else []
        # Tags=[] sets no tag: the secret stays untagged (no "Tags" in DescribeSecret)

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[WriteResult]:
            files: dict[str, bytes | None] = {}
            existing = self._load(snap, name)
            if existing is not None and not self._expired(existing, now):
                if existing.deleted_date is not None:
                    raise InvalidRequestException(
                        "You can't create this secret because a secret with this name is already "
                        "scheduled for deletion. Restore it with RestoreSecret or choose a new name."
                    )
                if value is not None and token in existing.versions:
                    assert token is not None
                    if not self._same_value(snap, existing, token, value):
                        raise _token_reused(token, existing.arn)
                    statuses = None if requests is None else self.viewer(config).statuses(existing)
                    return Change(WriteResult(existing.arn, name, token, replication=statuses))
                raise ResourceExistsException(
                    f"The operation failed because the secret {name} already exists."
                )
            if existing is not None:
                files.update(self._removal(name))
            new_config = None
            if kms_key_id is not None:  # an unknown key fails before any write
                _, new_config = self._resolve_key(kms_key_id, config)  # a default made here is kept
            secret = Secret(
                name=name, arn=make_arn(self.region(config), config.account_id, name), created=now,
                last_changed=now, description=description, kms_key_id=kms_key_id, tags=tag_pairs or None,
            )  # fmt: skip
            if requests is not None:
                secret.replicas = regions_to_add(self, new_config or config, secret, requests)
            if value is not None:
                assert token is not None
                secret, cfg = self._add_version(
                    snap, new_config or config, secret, token, value, None, now, files
                )
                new_config = cfg or new_config
            files.update(self._secret_files(secret))
            self._with_config(files, new_config)
            trailers = {"Secret-Arn": secret.arn}
            if token is not None:
                trailers |= {"Version-Id": token, "Client-Request-Token": token}
            if secret.replicas:
                trailers[replicas.TRAILER] = json.dumps(secret.replicas)
            statuses = None if requests is None else self.viewer(config).statuses(secret)
            result = WriteResult(secret.arn, name, token, replication=statuses)
            return Change(result, "CreateSecret", name, files, trailers)

        return self._transact(plan)

    def update_secret(
        self,
        secret_id: str,
        *,
        client_request_token: str | None = None,
        description: str | None = None,
        kms_key_id: str | None = None,
        secret_string: str | None = None,
        secret_binary: bytes | None = None,
    ) -> WriteResult:
        """UpdateSecret: new description/key and, with a value, a new AWSCURRENT version."""
        value = validate_value(secret_string, secret_binary, required=False)
        token = _token(client_request_token, value is not None)
        description = validate_description(description)
        kms_key_id = validate_kms_key_id(kms_key_id)

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[WriteResult]:
            secret = self._find_live(snap, config, secret_id)
            files: dict[str, bytes | None] = {}
            new_config: StoreConfig | None = None
            if value is not None and token in secret.versions:
                assert token is not None
                if not self._same_value(snap, secret, token, value):
                    raise _token_reused(token, secret.arn)
                return Change(WriteResult(secret.arn, secret.name, token))
            updated = secret
            if description is not None and description != secret.description:
                updated = replace(updated, description=description, last_changed=now)
            current_key = secret.kms_key_id or config.default_kms_key_id
            if kms_key_id is not None and kms_key_id != current_key:
                recipients, new_config = self._resolve_key(kms_key_id, config)
                updated = replace(updated, kms_key_id=kms_key_id, last_changed=now)
                self._rewrap(snap, updated, recipients, kms_key_id, files)
            if value is not None:
                assert token is not None
                updated, cfg = self._add_version(
                    snap, new_config or config, updated, token, value, None, now, files
                )
                new_config = cfg or new_config
            if updated == secret:
                return Change(WriteResult(secret.arn, secret.name, None))
            files.update(self._secret_files(updated))
            self._with_config(files, new_config)
            trailers = {"Secret-Arn": secret.arn}
            if token is not None and value is not None:
                trailers |= {"Version-Id": token, "Client-Request-Token": token}
            result = WriteResult(secret.arn, secret.name, token if value is not None else None)
            return Change(result, "UpdateSecret", secret.name, files, trailers)

        return self._transact(plan)

    def _rewrap(
        self,
        snap: Snapshot,
        secret: Secret,
        recipients: list[Recipient],
        key_id: str,
        files: dict[str, bytes | None],
    ) -> None:
        """Re-wrap the AWSCURRENT, AWSPENDING and AWSPREVIOUS versions for ``recipients``."""
        for stage in (AWSCURRENT, AWSPENDING, AWSPREVIOUS):
            vid = secret.version_with_stage(stage)
            path = paths.version_path(secret.name, vid) if vid is not None else ""
            data = (  # DecryptionFailure when the envelope is refused
                treefiles.envelope_bytes(snap, secret.name, vid)
                if vid is not None and path not in files
                else None
            )
            if vid is None or data is None:
                continue
            files[path] = envelope.rewrap(
                data, name=secret.name, arn=secret.arn, version_id=vid,
                recipients=recipients, keys=self.keys,
            )  # fmt: skip
            secret.versions[vid] = replace(secret.versions[vid], kms_key_ids=[key_id])

    def put_secret_value(
        self,
        secret_id: str,
        *,
        client_request_token: str | None = None,
        secret_string: str | None = None,
        secret_binary: bytes | None = None,
        version_stages: list[str] | None = None,
    ) -> WriteResult:
        """PutSecretValue: a new version; only the listed labels move (default AWSCURRENT)."""
        value = validate_value(secret_string, secret_binary, required=True)
        assert value is not None
        token = _token(client_request_token, True)
        assert token is not None
        if version_stages is not None:
            if not isinstance(version_stages, list) or not 1 <= len(version_stages) <= 20:
                raise InvalidParameterException("VersionStages must list 1-20 staging labels.")
            for stage in version_stages:
                validate_stage(stage)

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[WriteResult]:
            secret = self._find_live(snap, config, secret_id)
            if token in secret.versions:
                if not self._same_value(snap, secret, token, value):
                    raise _token_reused(token, secret.arn)
                stages = list(secret.versions[token].stages)
                return Change(WriteResult(secret.arn, secret.name, token, stages))
            files: dict[str, bytes | None] = {}
            updated, new_config = self._add_version(
                snap, config, secret, token, value, version_stages, now, files
            )
            files.update(self._secret_files(updated))
            self._with_config(files, new_config)
            stages = list(updated.versions[token].stages)
            trailers = {
                "Secret-Arn": secret.arn,
                "Version-Id": token,
                "Client-Request-Token": token,
                # the labels asked for (replay moves these, not what the first version forced)
                "Version-Stages": json.dumps(version_stages or [AWSCURRENT]),
            }
            result = WriteResult(secret.arn, secret.name, token, stages)
            return Change(result, "PutSecretValue", secret.name, files, trailers)

        return self._transact(plan)

    def update_secret_version_stage(
        self,
        secret_id: str,
        version_stage: str,
        *,
        move_to_version_id: str | None = None,
        remove_from_version_id: str | None = None,
    ) -> WriteResult:
        """UpdateSecretVersionStage: move or remove one staging label."""
        validate_stage(version_stage)
        for vid in (move_to_version_id, remove_from_version_id):
            if vid is not None:
                validate_version_id(vid)

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[WriteResult]:
            secret = self._find_live(snap, config, secret_id)
            for vid in (move_to_version_id, remove_from_version_id):
                if vid is not None and vid not in secret.versions:
                    raise ResourceNotFoundException(
                        f"Secrets Manager can't find the specified secret version: {vid}."
                    )
            before = secret.stage_map()
            after = labels.move_label(
                before,
                version_stage,
                move_to=move_to_version_id,
                remove_from=remove_from_version_id,
            )
            result = WriteResult(secret.arn, secret.name)
            if after == before:
                return Change(result)
            versions = {vid: replace(v, stages=after[vid]) for vid, v in secret.versions.items()}
            updated = replace(secret, versions=versions, last_changed=now)
            trailers = {"Secret-Arn": secret.arn, "Version-Stage": version_stage}
            if move_to_version_id:
                trailers["Move-To-Version-Id"] = move_to_version_id
            if remove_from_version_id:
                trailers["Remove-From-Version-Id"] = remove_from_version_id
            files = self._secret_files(updated)
            return Change(result, "UpdateSecretVersionStage", secret.name, files, trailers)

        return self._transact(plan)


__all__ = ["WriteOps", "WriteResult"]
