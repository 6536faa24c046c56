"""Replication: ReplicateSecretToRegions, RemoveRegionsFromReplication, StopReplicationToReplica.

A replica is the secret itself answered in another Region (:mod:`gitsm.replicas`), so adding or
removing one changes only the manifest's ``replicas``: one commit
(``Gitsm-Operation: ReplicateSecretToRegions`` / ``RemoveRegionsFromReplication``, with the Regions
asked for in ``Gitsm-Replica-Regions``, a JSON list), or none when nothing changes (every Region
asked for is already a replica, or none of those to remove is one). StopReplicationToReplica would
make the replica a second secret of the same name, which a store cannot hold: it is refused.

Order of checks: the parameters' types, then the secret (ResourceNotFoundException; a replica:
InvalidParameterException; pending deletion: InvalidRequestException), then the Regions and keys
asked for, judged against that secret (its own Region is "Invalid replica region.").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from gitsm import replicas
from gitsm.errors import InvalidParameterException
from gitsm.gitrepo import Snapshot
from gitsm.manifest import StoreConfig
from gitsm.model import Secret, arn_region
from gitsm.store.core import Change, StoreCore, WriteResult


def _recipients(store: StoreCore, key_id: str, config: StoreConfig) -> frozenset[object] | None:
    """The recipients ``key_id`` names, without creating a key (None: not known here)."""
    if key_id in config.keys:
        return frozenset((r.get("provider"), r.get("key_id")) for r in config.keys[key_id])
    if key_id.startswith("alias/"):
        return None
    native = store.keys.identify(key_id)
    return None if native is None else frozenset({(native.provider, native.key_id)})


def regions_to_add(
    store: StoreCore,
    config: StoreConfig,
    secret: Secret,
    requests: Sequence[replicas.ReplicaRequest],
) -> list[str]:
    """The Regions ``requests`` (AddReplicaRegions) add to ``secret``, checked against it: Region
    codes other than its own (:func:`gitsm.replicas.check_add`), and each KmsKeyId naming the
    secret's own key (its KmsKeyId, else the store default), by id or by the same recipients,
    since a replica reads the primary's sealed versions (InvalidParameterException otherwise)."""
    added = replicas.check_add(requests, arn_region(secret.arn), secret.replicas)
    own = secret.kms_key_id or config.default_kms_key_id
    for request in requests:
        wanted = request.kms_key_id
        if wanted is None or wanted == own:
            continue
        theirs = _recipients(store, wanted, config)
        if theirs is None or theirs != _recipients(store, own, config):
            raise replicas.key_refusal(secret.name, wanted, own)
    return added


class ReplicationOps(StoreCore):
    """ReplicateSecretToRegions, RemoveRegionsFromReplication and StopReplicationToReplica."""

    def replicate_secret_to_regions(
        self,
        secret_id: str,
        add_replica_regions: list[dict[str, str]],
        *,
        force_overwrite_replica_secret: bool | None = None,
    ) -> WriteResult:
        """ReplicateSecretToRegions: add replica Regions (one commit; none when each is one
        already). ``force_overwrite_replica_secret`` is accepted and changes nothing: no other
        secret can hold the replica's name in a store. Answers the primary's ARN and its
        ReplicationStatus (every replica, in sync)."""
        requests = replicas.parse_add(add_replica_regions)
        if force_overwrite_replica_secret is not None:
            _boolean(force_overwrite_replica_secret, "ForceOverwriteReplicaSecret")

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[WriteResult]:
            secret = self._find_live(snap, config, secret_id)
            added = regions_to_add(self, config, secret, requests)
            updated = secret
            if added:
                updated = replace(secret, replicas=[*secret.replicas, *added], last_changed=now)
            result = self._answer(updated, config)
            if not added:
                return Change(result)
            asked = [str(r.region) for r in requests]
            trailers = {"Secret-Arn": secret.arn, replicas.TRAILER: _regions(asked)}
            files = self._secret_files(updated)
            return Change(result, "ReplicateSecretToRegions", secret.name, files, trailers)

        return self._transact(plan)

    def remove_regions_from_replication(
        self, secret_id: str, remove_replica_regions: list[str]
    ) -> WriteResult:
        """RemoveRegionsFromReplication: remove replica Regions (one commit; a Region that is
        not a replica is no error and changes nothing). Answers the primary's ARN and the
        replicas left."""
        if not isinstance(remove_replica_regions, list | tuple) or not remove_replica_regions:
            raise InvalidParameterException(replicas.REMOVE_LIST)

        def plan(snap: Snapshot, config: StoreConfig, now: datetime) -> Change[WriteResult]:
            secret = self._find_live(snap, config, secret_id)
            removed = replicas.parse_remove(remove_replica_regions)
            kept = [r for r in secret.replicas if r not in removed]
            updated = secret
            if kept != secret.replicas:
                updated = replace(secret, replicas=kept, last_changed=now)
            result = self._answer(updated, config)
            if updated is secret:
                return Change(result)
            trailers = {"Secret-Arn": secret.arn, replicas.TRAILER: _regions(removed)}
            files = self._secret_files(updated)
            return Change(result, "RemoveRegionsFromReplication", secret.name, files, trailers)

        return self._transact(plan)

    def stop_replication_to_replica(self, secret_id: str) -> WriteResult:
        """StopReplicationToReplica: refused (InvalidRequestException). AWS promotes the replica
        to a standalone secret of the same name in its Region; a store holds one secret per
        name, whose primary keeps it. ResourceNotFoundException first for a missing secret."""
        snap = self.repo.tip()
        config = self.config(snap)
        secret = self._find(snap, config, secret_id)
        raise replicas.stop_refusal(secret, self.region(config))

    def _answer(self, secret: Secret, config: StoreConfig) -> WriteResult:
        statuses = self.viewer(config).statuses(secret)
        return WriteResult(secret.arn, secret.name, replication=statuses)


def _regions(regions: Sequence[str]) -> str:
    """A ``Gitsm-Replica-Regions`` trailer: the Regions as a JSON list."""
    return json.dumps(list(regions))


def _boolean(value: object, member: str) -> None:
    if not isinstance(value, bool):
        raise InvalidParameterException(f"{member} must be true or false.")


__all__ = ["ReplicationOps", "regions_to_add"]
