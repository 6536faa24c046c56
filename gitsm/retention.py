"""Version retention: which unlabeled versions a write removes from the tree.

AWS keeps at most ~100 versions: it "removes unlabeled versions when there are more than 100, but it
does not remove versions created less than 24 hours ago". History keeps every removed envelope in the
commit that had it, so a pruned version is gone from the store, not from the repository.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gitsm.model import Secret


def prunable(secret: Secret, now: datetime, max_versions: int, min_age_hours: float) -> list[str]:
    """VersionIds to remove, oldest first, until at most ``max_versions`` remain (if allowed)."""
    excess = len(secret.versions) - max_versions
    if excess <= 0:
        return []
    cutoff = now - timedelta(hours=min_age_hours)
    candidates = sorted(
        (v for v in secret.versions.values() if not v.stages and v.created <= cutoff),
        key=lambda v: v.created,
    )
    return [v.version_id for v in candidates[:excess]]


QUOTA_FACTOR = 2
"""A secret holds at most this many times ``retention.max_versions`` versions (200 by default)."""


def version_quota(max_versions: int) -> int:
    """The most versions a secret may hold once a write has added one and pruned what it may.

    AWS does not publish its quota; it documents that a new value every 10 minutes (144 versions a
    day, all younger than 24 hours, none prunable) stays under it, and that more often reaches it.
    Twice ``max_versions`` (200) keeps that rate, with room for labeled versions, and bounds the
    manifest, which lists every version a secret holds."""
    return QUOTA_FACTOR * max_versions


def quota_message(arn: str, held: int, min_age_hours: float) -> str:
    """The LimitExceededException message of a new version refused at the quota."""
    age = f"{min_age_hours:g} hours"
    return (
        f"You can't create a new version of secret {arn}: it already has {held} versions, the "
        "quota for versions of a secret, and none of them can be removed yet (only versions "
        f"without staging labels that were created more than {age} ago are removed). Wait until "
        f"the oldest unlabeled version is {age} old, or remove staging labels from versions you "
        "no longer need (UpdateSecretVersionStage); nothing was written."
    )
