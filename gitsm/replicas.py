"""Replica Regions: the rules of the replication operations and how a replica answers.

A gitsm store is one git repository and every clone holds every secret, so Regions do not
partition it (docs/SEMANTICS.md, "Identifiers"). A replica of a secret in Region R is therefore
that same secret, its sealed versions and its metadata, answered read-only under the replica ARN
(the primary's ARN with the Region changed) to callers in R. It cannot fall behind its primary,
since it is the same files: its ReplicationStatus is ``InSync`` as a fact. The manifest records
the Regions (``replicas``, in the order they were added); a caller in one of them, other than the
primary's own Region, sees the replica, by its ARN or by name, and may only read it.

Pure: no git, no keys, no values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from gitsm.errors import InvalidParameterException, InvalidRequestException
from gitsm.model import (
    KMS_KEY_ID_MAX,
    REPLICA_REGION,
    REPLICA_REGION_MAX,
    REPLICAS_MAX,
    Secret,
    arn_region,
)

NOT_ON_REPLICA = (
    "Operation not permitted on a replica secret. Call must be made in primary secret's region."
)
"""AWS's InvalidParameterException for a write (or GetResourcePolicy) on a replica."""
INVALID_REPLICA_REGION = "Invalid replica region."
"""AWS's InvalidParameterException for a replica in the primary's own Region."""
OPERATIONS = frozenset({"ReplicateSecretToRegions", "RemoveRegionsFromReplication"})
"""The commit operations that change only a secret's ``replicas``."""
TRAILER = "Replica-Regions"
"""The trailer (``Gitsm-Replica-Regions``) naming the Regions a replication write asked for, as a
JSON list (CreateSecret's: the Regions it replicated to)."""
REMOVE_LIST = "RemoveReplicaRegions must list 1 or more Regions."
IN_SYNC = "InSync"
IN_SYNC_MESSAGE = "Replication succeeded"
"""The StatusMessage of a replica in sync (the aws CLI's describe-secret example)."""


@dataclass(frozen=True)
class ReplicaStatus:
    """One entry of ReplicationStatus: a Region, the key its replica reads with, the status."""

    region: str
    kms_key_id: str
    status: str = IN_SYNC
    message: str = IN_SYNC_MESSAGE


def trailer_regions(trailers: dict[str, str]) -> list[str] | None:
    """The Regions of a commit's ``Gitsm-Replica-Regions`` trailer, duplicates dropped, in order
    (no trailer: none; None: not a JSON list of strings)."""
    try:
        regions = json.loads(trailers.get(TRAILER, "[]"))
    except ValueError:
        return None
    if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
        return None
    return list(dict.fromkeys(regions))


def replica_arn(arn: str, region: str) -> str:
    """The ARN of ``arn``'s replica in ``region``: the same ARN with the Region changed."""
    parts = arn.split(":", 4)
    if len(parts) < 5:
        return arn
    parts[3] = region
    return ":".join(parts)


def is_replica_in(secret: Secret, region: str) -> bool:
    """True when a caller in ``region`` sees ``secret`` as a replica (a replica Region that is not
    the primary's own)."""
    return region in secret.replicas and region != arn_region(secret.arn)


def refuse_replica(secret: Secret, region: str) -> None:
    """InvalidParameterException (AWS's words) when ``secret`` is a replica for ``region``."""
    if is_replica_in(secret, region):
        raise InvalidParameterException(NOT_ON_REPLICA)


def check_region(value: object, where: str) -> str:
    """A Region code checked against the API's RegionType (1-128 characters of
    ``([a-z]+-)+[0-9]+``): InvalidParameterException otherwise, naming ``where``."""
    fits = isinstance(value, str) and 1 <= len(value) <= REPLICA_REGION_MAX
    if fits and REPLICA_REGION.fullmatch(str(value)):
        return str(value)
    shown = repr(value if not isinstance(value, str) or len(value) <= 40 else value[:40] + "...")
    raise InvalidParameterException(
        f"{where} is {shown}, not a Region code: give a Region such as us-east-2 (lower-case "
        f"words and a number joined by hyphens, at most {REPLICA_REGION_MAX} characters)."
    )


@dataclass(frozen=True)
class ReplicaRequest:
    """One entry of AddReplicaRegions: its Region (None when missing) and KmsKeyId (None: none)."""

    region: object
    kms_key_id: str | None


def parse_add(entries: object) -> list[ReplicaRequest]:
    """AddReplicaRegions' entries, their types checked (a list of 1 or more objects whose Region
    and KmsKeyId are strings); the values are checked against a secret by :func:`check_add`."""
    if not isinstance(entries, list | tuple) or not entries:
        raise InvalidParameterException(
            "AddReplicaRegions must list 1 or more {Region, KmsKeyId} objects."
        )
    out: list[ReplicaRequest] = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or set(entry) - {"Region", "KmsKeyId"}:
            raise InvalidParameterException(
                f"AddReplicaRegions entry {i} must be an object of Region and KmsKeyId."
            )
        key = entry.get("KmsKeyId")
        if key is not None and (not isinstance(key, str) or len(key) > KMS_KEY_ID_MAX):
            raise InvalidParameterException(
                f"The KmsKeyId of AddReplicaRegions entry {i} must be a string of at most "
                f"{KMS_KEY_ID_MAX:,} characters."
            )
        out.append(ReplicaRequest(entry.get("Region"), key or None))
    return out


def check_add(
    requests: Sequence[ReplicaRequest], primary: str, current: Sequence[str]
) -> list[str]:
    """The Regions ``requests`` add to a secret whose ARN is in ``primary`` and that is replicated
    to ``current`` already: each must be a Region code other than ``primary``
    (InvalidParameterException "Invalid replica region.", AWS's words); a Region given twice, or
    already a replica, adds nothing. In request order."""
    added: list[str] = []
    for i, request in enumerate(requests, 1):
        if request.region is None:
            raise InvalidParameterException(
                f"AddReplicaRegions entry {i} has no Region: name the Region to replicate to, "
                "such as us-east-2."
            )
        region = check_region(request.region, f"The Region of AddReplicaRegions entry {i}")
        if region == primary:
            raise InvalidParameterException(INVALID_REPLICA_REGION)
        if region not in current and region not in added:
            added.append(region)
    if len(current) + len(added) > REPLICAS_MAX:
        raise InvalidParameterException(
            f"A secret can be replicated to at most {REPLICAS_MAX} Regions; this request would "
            f"leave {len(current) + len(added)}. Remove replicas first."
        )
    return added


def parse_remove(regions: object) -> list[str]:
    """RemoveReplicaRegions checked: a list of 1 or more Region codes (duplicates dropped)."""
    if not isinstance(regions, list | tuple) or not regions:
        raise InvalidParameterException(REMOVE_LIST)
    out: list[str] = []
    for i, region in enumerate(regions, 1):
        checked = check_region(region, f"RemoveReplicaRegions entry {i}")
        if checked not in out:
            out.append(checked)
    return out


def key_refusal(name: str, wanted: str, own: str) -> InvalidParameterException:
    """The error of a replica KmsKeyId that names another key than the secret's own."""
    return InvalidParameterException(
        f"A replica of secret {name} reads the primary's sealed versions, encrypted with key "
        f"{own}: a gitsm store keeps one copy of each version, so a replica cannot use another "
        f"key ({wanted}). Leave KmsKeyId out or give {own}; to change the key of the secret and "
        "its replicas, call UpdateSecret with a new KmsKeyId."
    )


def delete_refusal(secret: Secret) -> InvalidParameterException:
    """AWS's InvalidParameterException for DeleteSecret of a primary that has replicas."""
    return InvalidParameterException(
        f"You can't delete secret {secret.arn} that still has replica regions "
        f"[{', '.join(secret.replicas)}]."
    )


def stop_refusal(secret: Secret, region: str) -> InvalidRequestException:
    """StopReplicationToReplica: a replica cannot become a standalone secret in one store."""
    primary = arn_region(secret.arn)
    if not is_replica_in(secret, region):
        return InvalidRequestException(
            f"Secret {secret.name} is not a replica in {region}: call StopReplicationToReplica "
            "in a replica's Region, with the replica's ARN or name."
        )
    return InvalidRequestException(
        f"gitsm can't promote the replica of secret {secret.name} in {region} to a standalone "
        f"secret: a gitsm store holds one secret per name, and the primary in {primary} keeps "
        f"that name. To stop replicating to {region}, call RemoveRegionsFromReplication in "
        f"{primary}; for a separate secret in {region}, create one under another name."
    )


@dataclass(frozen=True)
class Viewer:
    """How secrets answer to a caller in ``region`` (a store whose default key is
    ``default_key``): a replica under its replica ARN and PrimaryRegion, a primary with its
    ReplicationStatus."""

    region: str
    default_key: str

    def is_replica(self, secret: Secret) -> bool:
        """True when this caller sees ``secret`` as a replica."""
        return is_replica_in(secret, self.region)

    def arn(self, secret: Secret) -> str:
        """The ARN this caller sees: the replica ARN of a replica, else the secret's own."""
        return replica_arn(secret.arn, self.region) if self.is_replica(secret) else secret.arn

    def statuses(self, secret: Secret) -> list[ReplicaStatus]:
        """The primary's ReplicationStatus: every replica Region, in sync, read with the secret's
        own key (its KmsKeyId, else the store's default)."""
        key = secret.kms_key_id or self.default_key
        return [ReplicaStatus(region, key) for region in secret.replicas]
