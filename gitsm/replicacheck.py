"""What the replication operations may change in a secret's manifest (``gitsm verify --range``).

``replicas`` (the secret's replica Regions, :mod:`gitsm.replicas`) changes only in
ReplicateSecretToRegions, which appends the Regions its ``Gitsm-Replica-Regions`` trailer asked
for that were not replicas yet, in RemoveRegionsFromReplication, which drops those its trailer
names, and in CreateSecret, which starts with the Regions its trailer names (none without it). A
DeleteSecret of a secret that still has replicas is refused by the store, so a commit that makes
one is not an operation's. Every other operation leaves ``replicas`` as it was
(:mod:`gitsm.opcheck` compares it with the other fields).

Pure: manifests only, no keys, no values.
"""

from __future__ import annotations

from gitsm.model import Secret
from gitsm.replicas import OPERATIONS, TRAILER, trailer_regions


def expected(operation: str, trailers: dict[str, str], before: Secret | None) -> list[str] | None:
    """The replicas ``operation`` leaves a secret that had ``before`` (None: a new secret), or
    None when that cannot be known (a malformed trailer) or the operation does not set them."""
    regions = trailer_regions(trailers)
    if regions is None:
        return None
    if before is None:
        return regions if operation == "CreateSecret" else None
    if operation == "ReplicateSecretToRegions":
        return [*before.replicas, *(r for r in regions if r not in before.replicas)]
    if operation == "RemoveRegionsFromReplication":
        return [r for r in before.replicas if r not in regions]
    return None


def secret_problems(
    operation: str, trailers: dict[str, str], before: Secret | None, after: Secret | None
) -> list[str]:
    """What a commit of ``operation`` did to one secret's replicas that the operation does not
    do (``before``: None for a new secret; ``after``: None when the commit removed it)."""
    out: list[str] = []
    if operation == "DeleteSecret" and before is not None and before.replicas:
        out.append(f"deletes a secret that still has replica Regions {before.replicas} (remove "
                   "them first: RemoveRegionsFromReplication)")  # fmt: skip
    if after is None or not (operation in OPERATIONS or before is None):
        return out
    if TRAILER in trailers and trailer_regions(trailers) is None:
        out.append(f"has a Gitsm-{TRAILER} trailer that is not a JSON list of Regions")
        return out
    wanted = expected(operation, trailers, before)
    if wanted is not None and after.replicas != wanted:
        out.append(f"leaves replicas {after.replicas}; {operation} as its trailers say would "
                   f"leave {wanted}")  # fmt: skip
    return out
