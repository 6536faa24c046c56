"""Staging-label rules, as pure functions over ``{VersionId: [labels]}`` maps.

Invariants (tested as properties in ``tests/test_labels.py``):

* a label is on at most one version;
* while the secret has any version, exactly one version carries AWSCURRENT;
* when AWSCURRENT moves, the version that had it gets AWSPREVIOUS (taken from its old holder);
* no version carries more than 20 labels.

Every function returns a new map and never mutates its input.
"""

from __future__ import annotations

from collections.abc import Sequence

from gitsm.errors import InvalidParameterException, LimitExceededException
from gitsm.model import AWSCURRENT, AWSPREVIOUS, STAGES_PER_VERSION

StageMap = dict[str, list[str]]


def holder(stages: StageMap, label: str) -> str | None:
    """The VersionId that carries ``label``, or None."""
    for vid, labels in stages.items():
        if label in labels:
            return vid
    return None


def _detach(stages: StageMap, label: str) -> None:
    for labels in stages.values():
        if label in labels:
            labels.remove(label)


def _attach(stages: StageMap, version_id: str, label: str) -> None:
    """Put ``label`` on ``version_id``; moving AWSCURRENT hands AWSPREVIOUS to its old holder."""
    old = holder(stages, label)
    if old == version_id:
        return
    _detach(stages, label)
    stages[version_id].append(label)
    if label == AWSCURRENT and old is not None:
        _detach(stages, AWSPREVIOUS)
        stages[old].append(AWSPREVIOUS)


def _check_limit(stages: StageMap) -> None:
    for vid, labels in stages.items():
        if len(labels) > STAGES_PER_VERSION:
            raise LimitExceededException(
                f"Version {vid} would carry {len(labels)} staging labels; the limit is "
                f"{STAGES_PER_VERSION}. Remove labels from it first."
            )


def add_version(
    stages: StageMap, version_id: str, version_stages: Sequence[str] | None
) -> StageMap:
    """Labels after a new version is added (UpdateSecret, PutSecretValue, CreateSecret).

    Without ``version_stages`` the new version gets AWSCURRENT. With them, only those labels move.
    The first version of a secret always gets AWSCURRENT, as AWS does. AWSCURRENT is applied first,
    so the result does not depend on the order of ``version_stages`` and an AWSPREVIOUS listed there
    stays on the new version instead of following AWSCURRENT to the old one.
    """
    out = {vid: list(labels) for vid, labels in stages.items()}
    first = holder(out, AWSCURRENT) is None
    out[version_id] = []
    wanted = list(dict.fromkeys(version_stages)) if version_stages is not None else [AWSCURRENT]
    if first and AWSCURRENT not in wanted:
        wanted.append(AWSCURRENT)
    wanted.sort(key=lambda label: label != AWSCURRENT)  # AWSCURRENT first: order-independent
    for label in wanted:
        _attach(out, version_id, label)
    _check_limit(out)
    return out


def move_label(
    stages: StageMap,
    label: str,
    *,
    move_to: str | None,
    remove_from: str | None,
) -> StageMap:
    """Labels after UpdateSecretVersionStage.

    ``move_to`` and ``remove_from`` must be existing VersionIds (the caller checks existence).
    If the label sits on a version other than ``move_to``, ``remove_from`` must name that version.
    """
    out = {vid: list(labels) for vid, labels in stages.items()}
    current = holder(out, label)
    if remove_from is not None and label not in out[remove_from]:
        raise InvalidParameterException(
            f"Staging label {label} is not attached to version {remove_from}, so it can't be "
            "removed from it. Check RemoveFromVersionId."
        )
    if move_to is None:
        if remove_from is None:
            raise InvalidParameterException(
                "You must specify MoveToVersionId, RemoveFromVersionId, or both."
            )
        if label == AWSCURRENT:
            raise InvalidParameterException(
                "You can't remove the staging label AWSCURRENT without moving it to another "
                "version. Specify MoveToVersionId."
            )
        out[remove_from].remove(label)
        return out
    if current is not None and current != move_to and remove_from != current:
        raise InvalidParameterException(
            f"The parameter RemoveFromVersionId can't be empty. Staging label {label} is "
            f"currently attached to version {current}, so you must explicitly reference that "
            "version in RemoveFromVersionId."
        )
    _attach(out, move_to, label)
    _check_limit(out)
    return out


def replay_moves(base: StageMap, later: StageMap, target: StageMap) -> StageMap:
    """``target`` with the label moves that took ``base`` to ``later`` applied after it.

    For merging two histories of one secret: ``target`` is the side that happened first, ``later``
    the side that happened after it. Every VersionId of ``target`` and ``later`` is in the result. A
    label that ``later`` moved goes where ``later`` put it; when that is AWSCURRENT, AWSPREVIOUS goes
    to the version that held AWSCURRENT in ``target``, as if ``later``'s write had reached the
    service after ``target``'s. A label that ``later`` removed is removed if ``target`` did not move
    it. Raises LimitExceededException when a version would carry more than 20 labels.
    """
    out = {vid: list(labels) for vid, labels in target.items()}
    for vid in later:
        out.setdefault(vid, [])
    current = holder(later, AWSCURRENT)
    moved_current = current is not None and current != holder(base, AWSCURRENT)
    if moved_current:
        assert current is not None
        _attach(out, current, AWSCURRENT)
    names = {label for m in (base, later) for labels in m.values() for label in labels}
    for label in sorted(names - {AWSCURRENT}):
        was, now = holder(base, label), holder(later, label)
        if was == now or (
            label == AWSPREVIOUS and moved_current and now == holder(base, AWSCURRENT)
        ):
            continue  # unchanged, or AWSPREVIOUS that followed AWSCURRENT's move
        if now is None:
            if holder(out, label) == was:
                _detach(out, label)
            continue
        _detach(out, label)
        out[now].append(label)
    _check_limit(out)
    return out


def invariant_problems(stages: StageMap) -> list[str]:
    """Describe every way ``stages`` breaks a label invariant (empty when it keeps them all)."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for vid, labels in stages.items():
        if len(labels) != len(set(labels)):
            problems.append(f"version {vid} carries a label twice")
        if len(labels) > STAGES_PER_VERSION:
            problems.append(f"version {vid} carries more than {STAGES_PER_VERSION} labels")
        for label in labels:
            if label in seen and seen[label] != vid:
                problems.append(f"label {label} is on both {seen[label]} and {vid}")
            seen[label] = vid
    if stages and AWSCURRENT not in seen:
        problems.append("no version carries AWSCURRENT")
    return problems
