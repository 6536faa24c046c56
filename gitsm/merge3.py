"""Three-way merges of store files by their meaning, for ``gitsm sync`` and the merge driver.

Git merges text; a store's files are facts. Two writers who each add a key alias, or each add a
recipient to one alias, changed different facts and must not conflict; two writers who set one field
to two different values did conflict, and a person has to choose. This module merges the parsed
files: each fact is taken from the side that changed it, and a fact both sides changed differently
is a :class:`Conflict` naming it.

Pure: no git, no keys, no values.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypeVar

from gitsm import labels
from gitsm.errors import LimitExceededException
from gitsm.manifest import StoreConfig
from gitsm.model import RECIPIENTS_MAX, Rotation, Secret, VersionInfo
from gitsm.rotationconfig import RotationFunction

T = TypeVar("T")

Recipients = list[dict[str, str]]


@dataclass(frozen=True)
class Conflict:
    """One fact that both sides changed to different values: which, and what each side holds."""

    field: str
    ours: str
    theirs: str
    alias: str | None = None
    """The key alias in conflict, for conflicts of the key registry."""

    def __str__(self) -> str:
        return f"{self.field}: one side has {self.ours}, the other {self.theirs}"


def pick(base: T, ours: T, theirs: T) -> T | None:
    """The three-way result of one fact: the side that changed it, or None when both changed it
    to different values (a conflict; callers report it)."""
    if ours == theirs or theirs == base:
        return ours
    if ours == base:
        return theirs
    return None


def merge_recipients(
    alias: str, base: Recipients | None, ours: Recipients | None, theirs: Recipients | None
) -> tuple[Recipients | None, Conflict | None]:
    """Merge one alias's recipient list. Recipients added on either side are kept and recipients
    removed on either side stay removed (in ours' order, then theirs' additions); an alias created
    on both sides with different recipients, deleted on one side and changed on the other, or
    left without recipients is a conflict."""
    if ours == theirs or theirs == base:
        return ours, None
    if ours == base:
        return theirs, None

    def show(r: Recipients | None) -> str:
        return (
            "no such alias" if r is None else "[" + ", ".join(x.get("key_id", "?") for x in r) + "]"
        )

    conflict = Conflict(f"key alias {alias}", show(ours), show(theirs), alias)
    if base is None or ours is None or theirs is None:
        return None, conflict
    kept = [r for r in ours if r in theirs or r not in base]
    merged = kept + [r for r in theirs if r not in base and r not in kept]
    return (merged, None) if 0 < len(merged) <= RECIPIENTS_MAX else (None, conflict)


def merge_config(
    base: StoreConfig | None, ours: StoreConfig, theirs: StoreConfig, *, prefer_theirs: bool = False
) -> tuple[StoreConfig, list[Conflict]]:
    """Merge two changes of ``.gitsm/config.yaml`` made from ``base`` (None: both created it).

    Every key alias merges on its own (:func:`merge_recipients`), every rotation function too
    (:func:`merge_functions`); the default key, the default rotation function, the retention
    settings, the account and the region are single facts. Returns the merged config (ours'
    value where a fact conflicts, theirs' with ``prefer_theirs``) and the conflicts."""
    base_functions = base.rotation_functions if base is not None else {}
    conflicts: list[Conflict] = []
    if base is None:
        if (ours.account_id, ours.region) != (theirs.account_id, theirs.region):
            conflicts.append(Conflict(
                "store (account id and region)", f"{ours.account_id} {ours.region}",
                f"{theirs.account_id} {theirs.region}",
            ))  # fmt: skip
        base = replace(
            ours, default_kms_key_id="", keys={}, max_versions=-1, min_version_age_hours=-1.0,
            default_rotation_function=None,
        )  # fmt: skip
    fields: dict[str, object] = {}
    for name in ("account_id", "region", "default_kms_key_id", "max_versions",
                 "min_version_age_hours"):  # fmt: skip
        b, o, t = getattr(base, name), getattr(ours, name), getattr(theirs, name)
        chosen = pick(b, o, t)
        if chosen is None:
            conflicts.append(Conflict(name, repr(o), repr(t)))
            chosen = t if prefer_theirs else o
        fields[name] = chosen
    sides = (base.default_rotation_function, ours.default_rotation_function,
             theirs.default_rotation_function)  # fmt: skip
    default = pick(*((side,) for side in sides))  # wrapped: None is a value here
    if default is None:
        conflicts.append(Conflict("default_rotation_function", repr(sides[1]), repr(sides[2])))
        default = (sides[2] if prefer_theirs else sides[1],)
    fields["default_rotation_function"] = default[0]
    keys: dict[str, Recipients] = {}
    for alias in [*ours.keys, *(a for a in theirs.keys if a not in ours.keys)]:
        merged, conflict = merge_recipients(
            alias, base.keys.get(alias), ours.keys.get(alias), theirs.keys.get(alias)
        )
        if conflict is not None:
            conflicts.append(conflict)
            merged = (theirs if prefer_theirs else ours).keys.get(alias)
        if merged is not None:
            keys[alias] = merged
    fields["rotation_functions"], more = merge_functions(
        base_functions, ours.rotation_functions, theirs.rotation_functions,
        prefer_theirs=prefer_theirs,
    )  # fmt: skip
    conflicts += more
    return StoreConfig(keys=keys, **fields), conflicts  # type: ignore[arg-type]


def merge_functions(
    base: dict[str, RotationFunction],
    ours: dict[str, RotationFunction],
    theirs: dict[str, RotationFunction],
    *,
    prefer_theirs: bool = False,
) -> tuple[dict[str, RotationFunction], list[Conflict]]:
    """Merge two changes of the rotation function registry, function by function: each side's
    registrations and removals are kept; a function changed differently on both sides is a
    conflict named ``rotation function <name>`` (ours kept, theirs with ``prefer_theirs``)."""
    merged: dict[str, RotationFunction] = {}
    conflicts: list[Conflict] = []
    for name in [*ours, *(n for n in theirs if n not in ours)]:
        b, o, t = base.get(name), ours.get(name), theirs.get(name)
        chosen = o if o == t or t == b else t if o == b else None  # None: absent or conflict
        if o != t and b not in (o, t):
            show = ["no such function" if f is None else " ".join(f.command) for f in (o, t)]
            conflicts.append(Conflict(f"rotation function {name}", show[0], show[1]))
            chosen = t if prefer_theirs else o
        if chosen is not None:
            merged[name] = chosen
    return merged, conflicts


_ABSENT = object()


def _tags(
    base: Secret | None, first: Secret, later: Secret, conflicts: list[Conflict], prefer_later: bool
) -> list[tuple[str, str]] | None:
    """Tags merged key by key, in ``first``'s order and then ``later``'s new keys; None while no
    side ever had tags (a secret that had tags keeps a list, maybe empty: that fact only grows)."""
    sides = (base.tags if base is not None else None, first.tags, later.tags)
    if all(tags is None for tags in sides):
        return None
    b, f, lt = (dict(tags or []) for tags in sides)
    out: list[tuple[str, str]] = []
    for key in [*f, *(k for k in lt if k not in f)]:
        bv, fv, lv = b.get(key, _ABSENT), f.get(key, _ABSENT), lt.get(key, _ABSENT)
        chosen = pick(bv, fv, lv)
        if chosen is None:
            conflicts.append(Conflict(f"tag {key}", _show(fv), _show(lv)))
            chosen = lv if prefer_later else fv
        if chosen is not _ABSENT:
            out.append((key, str(chosen)))
    return out


def _show(value: object) -> str:
    return "no value" if value is _ABSENT or value is None else repr(value)


def _versions(
    base: Secret | None, first: Secret, later: Secret, conflicts: list[Conflict]
) -> dict[str, VersionInfo]:
    """Every version of both sides (without labels), minus those one side pruned or deleted."""
    was = base.versions if base is not None else {}
    out: dict[str, VersionInfo] = {}
    for vid in [*first.versions, *(v for v in later.versions if v not in first.versions)]:
        f, lt, b = first.versions.get(vid), later.versions.get(vid), was.get(vid)
        if b is not None and (f is None or lt is None):
            kept = f or lt
            assert kept is not None
            if kept.stages and kept.stages != b.stages:
                conflicts.append(Conflict(f"version {vid}", "removed on one side",
                                          f"labeled {kept.stages} on the other"))  # fmt: skip
            continue  # pruned or deleted on one side
        if f is not None and lt is not None:
            if (f.created, f.kind) != (lt.created, lt.kind):
                conflicts.append(Conflict(f"version {vid}", "one value", "another value written "
                                          "with the same ClientRequestToken"))  # fmt: skip
            keys = pick(b.kms_key_ids if b else None, f.kms_key_ids, lt.kms_key_ids)
            if keys is None:
                conflicts.append(Conflict(f"key of version {vid}", repr(f.kms_key_ids),
                                          repr(lt.kms_key_ids)))  # fmt: skip
                keys = f.kms_key_ids
            out[vid] = replace(f, kms_key_ids=list(keys), stages=[])
        else:
            kept = f or lt
            assert kept is not None
            out[vid] = replace(kept, stages=[])
    return out


def merge_secret(
    base: Secret | None, first: Secret, later: Secret, *, prefer_later: bool = False
) -> tuple[Secret, list[Conflict]]:
    """Merge two changes of one secret's manifest made from ``base`` (None: both created it).

    ``first`` happened before ``later`` (``later``'s label moves are replayed after ``first``'s).
    Versions of both sides are kept; a version one side pruned stays pruned; description, KmsKeyId,
    the resource policy, the deletion schedule and each tag merge three-way; replica Regions added
    on either side are kept and those removed on either side stay removed; a deletion scheduled on
    one side while the other added a version or a replica Region is a conflict, as is anything
    both sides changed differently. Returns
    the merged secret (``first``'s value where a fact conflicts, ``later``'s with
    ``prefer_later``) and the conflicts."""
    conflicts: list[Conflict] = []
    if first.arn != later.arn or (first.name != later.name):
        conflicts.append(Conflict("arn", first.arn, later.arn))
        return first, conflicts
    fields: dict[str, Any] = {}
    for name in ("description", "kms_key_id", "created"):
        b = getattr(base, name) if base is not None else _ABSENT
        f, lt = getattr(first, name), getattr(later, name)
        chosen = pick(b, f, lt)
        if chosen is None or chosen is _ABSENT:
            if f != lt:
                conflicts.append(Conflict(name, _show(f), _show(lt)))
            chosen = lt if prefer_later else f
        fields[name] = chosen
    fields["resource_policy"] = _policy(base, first, later, conflicts, prefer_later)
    deletion = pick(
        (base.deleted_date, base.deletion_date) if base is not None else (None, None),
        (first.deleted_date, first.deletion_date),
        (later.deleted_date, later.deletion_date),
    )
    if deletion is None:
        conflicts.append(Conflict("deletion", _deletion(first), _deletion(later)))
        pref = later if prefer_later else first
        deletion = (pref.deleted_date, pref.deletion_date)
    was = set(base.versions) if base is not None else set()
    for deleter, adder in ((first, later), (later, first)):
        newly_deleted = deleter.deleted_date is not None and (
            base is None or base.deleted_date is None
        )
        added = [v for v in adder.versions if v not in was]
        if newly_deleted and added:
            conflicts.append(Conflict("deletion", "scheduled for deletion on one side",
                                      f"new version(s) {', '.join(added)} on the other"))  # fmt: skip
        replicated = [r for r in adder.replicas if base is None or r not in base.replicas]
        if newly_deleted and replicated:
            conflicts.append(Conflict("deletion", "scheduled for deletion on one side",
                                      f"replicated to {', '.join(replicated)} on the other"))  # fmt: skip
    versions = _versions(base, first, later, conflicts)
    stages: dict[str, list[str]] = {vid: [] for vid in versions}
    try:
        moved = labels.replay_moves(
            base.stage_map() if base is not None else {}, later.stage_map(), first.stage_map()
        )
    except LimitExceededException as exc:
        conflicts.append(Conflict("labels", "too many labels", exc.message))
        moved = first.stage_map()
    for vid, labels_ in moved.items():
        if vid in stages:
            stages[vid] = labels_
    merged = Secret(
        name=first.name, arn=first.arn, last_changed=max(first.last_changed, later.last_changed),
        tags=_tags(base, first, later, conflicts, prefer_later), deleted_date=deletion[0],
        deletion_date=deletion[1],
        versions={vid: replace(v, stages=stages[vid]) for vid, v in versions.items()}, **fields,
        rotation=merge_rotation(base, first, later, conflicts, prefer_later),
        replicas=_replicas(base, first, later),
    )  # fmt: skip
    return merged, conflicts


def _replicas(base: Secret | None, first: Secret, later: Secret) -> list[str]:
    """Replica Regions merged as a set: each side's additions kept (``first``'s order, then
    ``later``'s new ones), each side's removals kept."""
    b = base.replicas if base is not None else []
    f, lt = first.replicas, later.replicas
    if f == lt or lt == b:
        return list(f)
    if f == b:
        return list(lt)
    kept = [r for r in f if r in lt or r not in b]
    return kept + [r for r in lt if r not in b and r not in kept]


def _policy(
    base: Secret | None, first: Secret, later: Secret, conflicts: list[Conflict], prefer_later: bool
) -> str | None:
    """The resource policy merged three-way (None: no policy, so a Delete on one side wins over
    no change on the other); two different policies are a conflict."""
    b = base.resource_policy if base is not None else None
    f, lt = first.resource_policy, later.resource_policy
    if f == lt or lt == b:
        return f
    if f == b:
        return lt
    conflicts.append(Conflict("resource_policy", _policy_shown(f), _policy_shown(lt)))
    return lt if prefer_later else f


def _policy_shown(policy: str | None) -> str:
    if policy is None:
        return "no policy"
    return repr(policy if len(policy) <= 60 else policy[:57] + "...")


def _deletion(secret: Secret) -> str:
    if secret.deletion_date is None:
        return "not scheduled for deletion"
    return f"deletion on {secret.deletion_date.isoformat()}"


_NO_ROTATION = Rotation(enabled=False)


def merge_rotation(
    base: Secret | None, first: Secret, later: Secret, conflicts: list[Conflict],
    prefer_later: bool,
) -> Rotation | None:  # fmt: skip
    """The rotation settings merged: whole when one side changed them; else on/off, the function
    and the schedule three-way (a conflict when both changed one differently), the later
    LastRotatedDate and next window, and the rotation in progress (a conflict when both sides
    started one)."""
    b = base.rotation if base is not None else None
    f, lt = first.rotation, later.rotation
    if f == lt or lt == b:
        return f
    if f == b:
        return lt
    bb, ff, ll = (r or _NO_ROTATION for r in (b, f, lt))
    out: dict[str, object] = {}
    for name, keys in (("rotation enabled", ("enabled",)), ("rotation function", ("lambda_arn",)),
                       ("rotation rules", ("after_days", "schedule", "duration")),
                       ("rotation in progress", ("token",))):  # fmt: skip
        values = [tuple(getattr(r, k) for k in keys) for r in (bb, ff, ll)]
        chosen = pick(*values)
        if chosen is None:
            shown = [" ".join(str(v) for v in t if v is not None) or "none" for t in values]
            conflicts.append(Conflict(name, shown[1], shown[2]))
            chosen = values[2] if prefer_later else values[1]
        out.update(zip(keys, chosen, strict=True))
    for key in ("last_rotated", "next_rotation"):  # changed on both sides: the later one
        was, one, other = getattr(bb, key), getattr(ff, key), getattr(ll, key)
        both = one != other and was not in (one, other)
        out[key] = max(d for d in (one, other) if d) if both else pick(was, one, other)
    return Rotation(**out)  # type: ignore[arg-type]
