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
from typing import TypeVar

from gitsm.manifest import StoreConfig

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
    return (merged, None) if merged else (None, conflict)


def merge_config(
    base: StoreConfig | None, ours: StoreConfig, theirs: StoreConfig
) -> tuple[StoreConfig, list[Conflict]]:
    """Merge two changes of ``.gitsm/config.yaml`` made from ``base`` (None: both created it).

    Every key alias merges on its own (:func:`merge_recipients`); the default key, the retention
    settings, the account and the region are single facts. Returns the merged config (ours'
    value where a fact conflicts) and the conflicts."""
    conflicts: list[Conflict] = []
    if base is None:
        if (ours.account_id, ours.region) != (theirs.account_id, theirs.region):
            conflicts.append(Conflict(
                "store (account id and region)", f"{ours.account_id} {ours.region}",
                f"{theirs.account_id} {theirs.region}",
            ))  # fmt: skip
        base = replace(
            ours, default_kms_key_id="", keys={}, max_versions=-1, min_version_age_hours=-1.0
        )
    fields: dict[str, object] = {}
    for name in ("account_id", "region", "default_kms_key_id", "max_versions",
                 "min_version_age_hours"):  # fmt: skip
        b, o, t = getattr(base, name), getattr(ours, name), getattr(theirs, name)
        chosen = pick(b, o, t)
        if chosen is None:
            conflicts.append(Conflict(name, repr(o), repr(t)))
            chosen = o
        fields[name] = chosen
    keys: dict[str, Recipients] = {}
    for alias in [*ours.keys, *(a for a in theirs.keys if a not in ours.keys)]:
        merged, conflict = merge_recipients(
            alias, base.keys.get(alias), ours.keys.get(alias), theirs.keys.get(alias)
        )
        if conflict is not None:
            conflicts.append(conflict)
            merged = ours.keys.get(alias)
        if merged is not None:
            keys[alias] = merged
    return StoreConfig(keys=keys, **fields), conflicts  # type: ignore[arg-type]
