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
