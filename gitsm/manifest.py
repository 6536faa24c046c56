"""Manifest and store-config (de)serialization: canonical YAML, no secret material.

The manifest of a secret is written with a fixed key order and one line per fact, so that diffs of
label moves and tag changes stay small and merge like ordinary text. ``docs/FORMAT.md`` describes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar, cast

from gitsm import policy, strict
from gitsm.manifestlines import ITEM as _ITEM
from gitsm.manifestlines import QUOTED as _QUOTED
from gitsm.manifestlines import Checked as _Checked
from gitsm.manifestlines import qlist, quote
from gitsm.manifestlines import quick_version as _quick_version
from gitsm.manifestlines import timestamp as _ts
from gitsm.manifestlines import unquote as _unquote
from gitsm.manifestlines import version_entry as _version_entry
from gitsm.manifestlines import version_line as _version_line
from gitsm.model import (
    ACCOUNT_ID,
    ALIAS_MAX,
    ARN_MAX,
    CONFIG_MAX_BYTES,
    DEFAULT_KEY_ALIAS,
    DESCRIPTION_MAX,
    KEY_IDS_PER_VERSION,
    KMS_KEY_ID_MAX,
    MANIFEST_MAX_BYTES,
    NAME_MAX,
    RECIPIENTS_MAX,
    REGION_MAX,
    REPLICA_REGION,
    REPLICA_REGION_MAX,
    REPLICAS_MAX,
    RESOURCE_POLICY_MAX,
    STAGE_MAX_LEN,
    STAGES_PER_VERSION,
    TAG_KEY_MAX,
    TAG_VALUE_MAX,
    TAGS_MAX,
    TOKEN_MAX,
    TOKEN_MIN,
    Rotation,
    Secret,
    ValueKind,
    VersionInfo,
)
from gitsm.paths import CONFIG_PATH
from gitsm.rotationconfig import RotationFunction, dump_functions, load_default, load_functions

FORMAT = 1


T = TypeVar("T")


def _check_format(doc: dict[Any, Any], path: str) -> None:
    bad = strict.format_problem(doc.get("format"), FORMAT)
    if bad is not None:
        strict.refuse(path, *bad)


def dump_yaml(data: dict[str, Any]) -> bytes:
    """Serialize ``data`` as block-style YAML in the order given."""
    import yaml  # here only: a read of the store needs no PyYAML

    dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # C where libyaml is built in
    text: str = yaml.dump(
        data, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=False
    )
    return text.encode("utf-8")


def dump_secret(secret: Secret) -> bytes:
    """The canonical manifest of ``secret``: every string double-quoted, one line per version.

    This is plain YAML; writing it by hand (rather than through PyYAML's emitter) keeps a write
    O(versions) with a small constant, and lets :func:`load_secret` take a fast path for it.
    """
    lines = ["format: 1", f"name: {quote(secret.name)}", f"arn: {quote(secret.arn)}"]
    if secret.description is not None:
        lines.append(f"description: {quote(secret.description)}")
    if secret.kms_key_id is not None:
        lines.append(f"kms_key_id: {quote(secret.kms_key_id)}")
    if secret.resource_policy is not None:
        lines.append(f"resource_policy: {quote(secret.resource_policy)}")
    if secret.replicas:
        lines.append(f"replicas: {qlist(secret.replicas)}")
    lines.append(f"created: {quote(_ts(secret.created))}")
    lines.append(f"last_changed: {quote(_ts(secret.last_changed))}")
    if secret.deleted_date is not None and secret.deletion_date is not None:
        lines.append(f"deleted: {quote(_ts(secret.deleted_date))}")
        lines.append(f"deletion_date: {quote(_ts(secret.deletion_date))}")
    if secret.rotation is not None:
        lines += _rotation_lines(secret.rotation)
    if secret.tags:
        lines.append("tags:")
        for key, value in secret.tags:
            lines += [f"- key: {quote(key)}", f"  value: {quote(value)}"]
    elif secret.tags is not None:
        lines.append("tags: []")  # it had tags: DescribeSecret answers "Tags": []
    if not secret.versions:
        lines.append("versions: {}")
    else:
        lines.append("versions:")
        for vid, v in secret.versions.items():
            lines.append(
                _version_line(vid, v.created, v.kind, tuple(v.kms_key_ids), tuple(v.stages))
            )
    return ("\n".join(lines) + "\n").encode("ascii")


_SCALAR_LINE = re.compile(rf"([a-z_]+): ({_QUOTED})")
_BARE_LINE = re.compile(r"([a-z_]+): (true|false|[1-9][0-9]{0,8})")
_LIST_LINE = re.compile(rf"(replicas): \[((?:{_QUOTED}(?:, {_QUOTED})*)?)\]")


def _fast_doc(data: bytes) -> dict[str, Any] | None:
    """The canonical form written by :func:`dump_secret` as YAML reads it; None for anything else."""
    doc = _canonical_doc(data)
    if doc is not None and "versions" in doc:
        doc["versions"] = {
            vid: v.mapping() if isinstance(v, _Checked) else v for vid, v in doc["versions"].items()
        }
    return doc


def _canonical_doc(data: bytes) -> dict[str, Any] | None:
    """Parse the canonical form written by :func:`dump_secret` (version lines parsed and checked
    once per distinct line: :func:`_version_entry`); None for anything else."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    lines = text.split("\n")
    if len(lines) < 2 or lines[0] != "format: 1" or lines.pop() != "":
        return None
    doc: dict[str, Any] = {"format": 1}
    mode = ""
    tags: list[dict[str, str]] = []
    versions: dict[str, Any] = {}
    for line in lines[1:]:
        if line in ("tags:", "versions:"):
            mode = line[:-1]
            doc[mode] = tags if mode == "tags" else versions
        elif line == "versions: {}":
            doc["versions"] = versions
        elif line == "tags: []" and not mode:
            doc["tags"] = tags
        elif mode == "versions" and (found := _version_entry(line)) is not None:
            vid, version = found
            versions[vid] = version if isinstance(version, _Checked) else dict(version)
        elif mode == "tags" and line.startswith("- key: ") and _ITEM.fullmatch(line[7:]):
            tags.append({"key": _unquote(line[7:])})
        elif mode == "tags" and line.startswith("  value: ") and tags and _ITEM.fullmatch(line[9:]):
            tags[-1]["value"] = _unquote(line[9:])
        elif not mode and (m := _SCALAR_LINE.fullmatch(line)):
            doc[m[1]] = _unquote(m[2])
        elif not mode and (m := _LIST_LINE.fullmatch(line)):
            doc[m[1]] = [_unquote(i) for i in _ITEM.findall(m[2])]
        elif not mode and (m := _BARE_LINE.fullmatch(line)):
            doc[m[1]] = m[2] == "true" if m[2] in ("true", "false") else int(m[2])
        else:
            return None
    return doc


def load_secret(data: bytes, path: str) -> Secret:
    """Parse a manifest read from ``path``, strictly (:mod:`gitsm.strict`): its size first, then
    the canonical form (:func:`_fast_doc`) or YAML without anchors, aliases or tags, then every
    field's type and size. Raises MalformedStoreFile (a StoreError) when it is not readable."""
    strict.check_size(data, path, "a manifest", MANIFEST_MAX_BYTES)
    doc = _canonical_doc(data) or strict.load_yaml(data, path, "a manifest", MANIFEST_MAX_BYTES)
    return secret_from_doc(doc, path)


def secret_from_doc(doc: dict[Any, Any], path: str) -> Secret:
    """The Secret a parsed manifest describes, every field checked for type and size."""
    _check_format(doc, path)
    top = strict.Fields(doc, path, "")
    versions: dict[str, VersionInfo] = {}
    for vid, entry in top.mapping("versions").items():
        if not isinstance(vid, str) or not TOKEN_MIN <= len(vid) <= TOKEN_MAX:
            top.fail(f"versions[{strict.short(vid)}]", f"has a VersionId that is not a string of "
                     f"{TOKEN_MIN}-{TOKEN_MAX} characters")  # fmt: skip
        quick = entry.info(vid) if isinstance(entry, _Checked) else _quick_version(vid, entry)
        if quick is not None:
            versions[vid] = quick
            continue
        v = strict.Fields(entry, path, partial(_version_where, vid))
        kind = cast(ValueKind, v.text("type", 16))
        if kind not in ("string", "binary"):
            v.fail("type", f"is {strict.short(kind)}, an unknown value type (string or binary)")
        versions[vid] = VersionInfo(
            version_id=vid,
            created=_required(v.timestamp("created")),
            kind=kind,
            kms_key_ids=v.texts("kms_key_ids", KEY_IDS_PER_VERSION, KMS_KEY_ID_MAX),
            stages=v.texts("stages", STAGES_PER_VERSION, STAGE_MAX_LEN),
        )
    tags: list[tuple[str, str]] | None = None if top.get("tags", True) is None else []
    for i, item in enumerate(top.items("tags", TAGS_MAX)):
        tag = strict.Fields(item, path, f"tags[{i}]")
        key = _required(tag.text("key", TAG_KEY_MAX))
        assert tags is not None
        tags.append((key, _required(tag.text("value", TAG_VALUE_MAX, low=0))))
    return Secret(
        name=_required(top.text("name", NAME_MAX)),
        arn=_required(top.text("arn", ARN_MAX)),
        created=_required(top.timestamp("created")),
        last_changed=_required(top.timestamp("last_changed")),
        description=top.text("description", DESCRIPTION_MAX, low=0, optional=True),
        kms_key_id=top.text("kms_key_id", KMS_KEY_ID_MAX, optional=True),
        resource_policy=_resource_policy(top),
        tags=tags,
        deleted_date=top.timestamp("deleted", optional=True),
        deletion_date=top.timestamp("deletion_date", optional=True),
        versions=versions,
        rotation=_rotation(top),
        replicas=_replicas(top),
    )


def _replicas(top: strict.Fields) -> list[str]:
    """The optional ``replicas``: at most REPLICAS_MAX distinct Region codes."""
    regions = top.texts("replicas", REPLICAS_MAX, REPLICA_REGION_MAX)
    for i, region in enumerate(regions):
        if not REPLICA_REGION.fullmatch(region):
            top.fail(f"replicas[{i}]", f"is {strict.short(region)}, not a Region code (such as "
                     "us-east-2)")  # fmt: skip
        if region in regions[:i]:
            top.fail(f"replicas[{i}]", f"repeats Region {region}")
    return regions


ROTATION_FIELDS = ("rotation_enabled", "rotation_lambda_arn", "rotation_after_days",
                   "rotation_schedule", "rotation_duration", "last_rotated", "next_rotation",
                   "rotation_token")  # fmt: skip
"""The manifest lines of a secret set up for rotation, in their canonical order."""


def _rotation_lines(r: Rotation) -> list[str]:
    lines = [f"rotation_enabled: {'true' if r.enabled else 'false'}"]
    if r.lambda_arn is not None:
        lines.append(f"rotation_lambda_arn: {quote(r.lambda_arn)}")
    if r.after_days is not None:
        lines.append(f"rotation_after_days: {r.after_days}")
    for key, text in (("rotation_schedule", r.schedule), ("rotation_duration", r.duration)):
        if text is not None:
            lines.append(f"{key}: {quote(text)}")
    for key, when in (("last_rotated", r.last_rotated), ("next_rotation", r.next_rotation)):
        if when is not None:
            lines.append(f"{key}: {quote(_ts(when))}")
    if r.token is not None:
        lines.append(f"rotation_token: {quote(r.token)}")
    return lines


def _rotation(top: strict.Fields) -> Rotation | None:
    """The rotation fields of a manifest (None: the secret was never set up for rotation)."""
    if not any(key in top.doc for key in ROTATION_FIELDS):
        return None
    enabled = top.get("rotation_enabled", False)
    if not isinstance(enabled, bool):
        top.fail("rotation_enabled", f"is {strict.describe(enabled)}, not true or false")
    days = top.number("rotation_after_days", 1, 1000, integer=True)
    return Rotation(
        enabled=enabled,
        lambda_arn=top.text("rotation_lambda_arn", ARN_MAX, optional=True),
        after_days=None if days is None else int(days),
        schedule=top.text("rotation_schedule", 256, optional=True),
        duration=top.text("rotation_duration", 3, low=2, optional=True),
        last_rotated=top.timestamp("last_rotated", optional=True),
        next_rotation=top.timestamp("next_rotation", optional=True),
        token=top.text("rotation_token", TOKEN_MAX, low=TOKEN_MIN, optional=True),
    )


def _resource_policy(top: strict.Fields) -> str | None:
    """The optional ``resource_policy``: at most 20,480 characters of canonical JSON."""
    text = top.text("resource_policy", RESOURCE_POLICY_MAX, optional=True)
    problem = None if text is None else policy.stored_problem(text)
    if problem is not None:
        top.fail("resource_policy", problem)
    return text


def _version_where(vid: str) -> str:
    return f"versions[{strict.short(vid)}]"


def _required(value: T | None) -> T:
    assert value is not None  # the getter was asked for a required field
    return value


@dataclass
class StoreConfig:
    """The store's ``.gitsm/config.yaml``: identity, key registry, retention, rotation functions
    and the default one."""

    account_id: str
    region: str
    default_kms_key_id: str = DEFAULT_KEY_ALIAS
    keys: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    max_versions: int = 100
    min_version_age_hours: float = 24.0
    rotation_functions: dict[str, RotationFunction] = field(default_factory=dict)
    default_rotation_function: str | None = None

    def dump(self) -> bytes:
        """The canonical config file."""
        return dump_yaml(
            {
                "format": FORMAT,
                "account_id": self.account_id,
                "region": self.region,
                "default_kms_key_id": self.default_kms_key_id,
                "keys": {alias: [dict(r) for r in recips] for alias, recips in self.keys.items()},
                "retention": {
                    "max_versions": self.max_versions,
                    "min_version_age_hours": self.min_version_age_hours,
                },
            }
            | dump_functions(self.rotation_functions, self.default_rotation_function)
        )

    @classmethod
    def load(cls, data: bytes) -> StoreConfig:
        """Parse the config, strictly (:mod:`gitsm.strict`); raises MalformedStoreFile (a
        StoreError) when it is not readable, too new or has a field of the wrong type or size."""
        path = CONFIG_PATH
        strict.check_size(data, path, "the store config", CONFIG_MAX_BYTES)
        doc = strict.canonical_config(data) or strict.load_yaml(
            data, path, "the store config", CONFIG_MAX_BYTES
        )
        _check_format(doc, path)
        top = strict.Fields(doc, path, "")
        account = _required(top.text("account_id", 12))
        if not ACCOUNT_ID.fullmatch(account):
            top.fail("account_id", f"is {strict.short(account)}, not 12 digits")
        keys: dict[str, list[dict[str, str]]] = {}
        for alias, recipients in top.mapping("keys").items():
            where = f"keys[{strict.short(alias)}]"
            top.check_text(where, alias, ALIAS_MAX)
            if not isinstance(recipients, list) or not 1 <= len(recipients) <= RECIPIENTS_MAX:
                top.fail(where, f"is {strict.describe(recipients)}, not a list of 1-"
                         f"{RECIPIENTS_MAX} recipients")  # fmt: skip
            keys[alias] = [_recipient(r, path, f"{where}[{i}]") for i, r in enumerate(recipients)]
        retention = strict.Fields(top.mapping("retention"), path, "retention")
        max_versions = retention.number("max_versions", 1, 1_000_000, integer=True)
        min_age = retention.number("min_version_age_hours", 0, 1_000_000, integer=False)
        return cls(
            account_id=account,
            region=_required(top.text("region", REGION_MAX)),
            default_kms_key_id=top.text("default_kms_key_id", KMS_KEY_ID_MAX, low=0, optional=True)
            or DEFAULT_KEY_ALIAS,
            keys=keys,
            max_versions=100 if max_versions is None else int(max_versions),
            min_version_age_hours=24.0 if min_age is None else float(min_age),
            rotation_functions=load_functions(top.mapping("rotation_functions"), path),
            default_rotation_function=load_default(doc, path),
        )


def _recipient(entry: object, path: str, where: str) -> dict[str, str]:
    """One recipient of the key registry: a mapping of at most 8 string fields, with a provider
    and a key_id."""
    fields = strict.Fields(entry, path, where)
    if len(fields.doc) > 8:
        strict.refuse(
            path, f"is malformed: {where} has {len(fields.doc)} fields, over the limit of 8"
        )
    out: dict[str, str] = {}
    for key in fields.doc:
        if not isinstance(key, str):
            fields.fail(strict.short(key), "is not a string field name")
        out[key] = _required(fields.text(key, KMS_KEY_ID_MAX))
    for key in ("provider", "key_id"):
        fields.get(key, False)
    return out
