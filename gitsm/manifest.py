"""Manifest and store-config (de)serialization: canonical YAML, no secret material.

The manifest of a secret is written with a fixed key order and one line per fact, so that diffs of
label moves and tag changes stay small and merge like ordinary text. ``docs/FORMAT.md`` describes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from gitsm.errors import StoreError
from gitsm.model import DEFAULT_KEY_ALIAS, Secret, VersionInfo

FORMAT = 1

try:  # the C loader/dumper are ~4x faster; fall back to pure Python where libyaml is missing
    _Loader: Any = yaml.CSafeLoader
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader, _Dumper = yaml.SafeLoader, yaml.SafeDumper


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def dump_yaml(data: dict[str, Any]) -> bytes:
    """Serialize ``data`` as block-style YAML in the order given."""
    text: str = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=False
    )
    return text.encode("utf-8")


def load_yaml(data: bytes, what: str) -> dict[str, Any]:
    """Parse a YAML mapping, raising StoreError naming ``what`` when it is not one."""
    try:
        doc = yaml.load(data, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise StoreError(f"{what} is not valid YAML: {exc}. Fix or restore it with git.") from None
    if not isinstance(doc, dict):
        raise StoreError(f"{what} is not a YAML mapping. Fix or restore it with git.")
    return doc


def _check_format(doc: dict[str, Any], what: str) -> None:
    fmt = doc.get("format")
    if not isinstance(fmt, int):
        raise StoreError(f"{what} has no format number. Fix or restore it with git.")
    if fmt > FORMAT:
        raise StoreError(
            f"{what} uses store format {fmt}, newer than this gitsm understands ({FORMAT}). "
            "Upgrade gitsm."
        )


def dump_secret(secret: Secret) -> bytes:
    """The canonical manifest of ``secret``."""
    doc: dict[str, Any] = {"format": FORMAT, "name": secret.name, "arn": secret.arn}
    if secret.description is not None:
        doc["description"] = secret.description
    if secret.kms_key_id is not None:
        doc["kms_key_id"] = secret.kms_key_id
    doc["created"] = _ts(secret.created)
    doc["last_changed"] = _ts(secret.last_changed)
    if secret.deleted_date is not None and secret.deletion_date is not None:
        doc["deleted"] = _ts(secret.deleted_date)
        doc["deletion_date"] = _ts(secret.deletion_date)
    if secret.tags:
        doc["tags"] = [{"key": k, "value": v} for k, v in secret.tags]
    doc["versions"] = {
        vid: {
            "created": _ts(v.created),
            "type": v.kind,
            "kms_key_ids": list(v.kms_key_ids),
            "stages": list(v.stages),
        }
        for vid, v in secret.versions.items()
    }
    return dump_yaml(doc)


def load_secret(data: bytes, path: str) -> Secret:
    """Parse a manifest read from ``path``; raises StoreError when it is malformed."""
    what = f"manifest {path}"
    doc = load_yaml(data, what)
    _check_format(doc, what)
    try:
        deleted = doc.get("deleted")
        deletion = doc.get("deletion_date")
        versions = {
            str(vid): VersionInfo(
                version_id=str(vid),
                created=_parse_ts(v["created"]),
                kind=v["type"],
                kms_key_ids=[str(k) for k in v.get("kms_key_ids") or []],
                stages=[str(s) for s in v.get("stages") or []],
            )
            for vid, v in (doc.get("versions") or {}).items()
        }
        for v in versions.values():
            if v.kind not in ("string", "binary"):
                raise ValueError(f"unknown value type {v.kind!r}")
        return Secret(
            name=str(doc["name"]),
            arn=str(doc["arn"]),
            created=_parse_ts(doc["created"]),
            last_changed=_parse_ts(doc["last_changed"]),
            description=doc.get("description"),
            kms_key_id=doc.get("kms_key_id"),
            tags=[(str(t["key"]), str(t["value"])) for t in doc.get("tags") or []],
            deleted_date=_parse_ts(deleted) if deleted is not None else None,
            deletion_date=_parse_ts(deletion) if deletion is not None else None,
            versions=versions,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreError(f"{what} is malformed ({exc}). Fix or restore it with git.") from None


@dataclass
class StoreConfig:
    """The store's ``.gitsm/config.yaml``: identity, key registry and retention."""

    account_id: str
    region: str
    default_kms_key_id: str = DEFAULT_KEY_ALIAS
    keys: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    max_versions: int = 100
    min_version_age_hours: float = 24.0

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
        )

    @classmethod
    def load(cls, data: bytes) -> StoreConfig:
        """Parse the config; raises StoreError when it is malformed or too new."""
        what = "store config .gitsm/config.yaml"
        doc = load_yaml(data, what)
        _check_format(doc, what)
        try:
            retention = doc.get("retention") or {}
            keys = {
                str(alias): [{str(k): str(v) for k, v in r.items()} for r in recips]
                for alias, recips in (doc.get("keys") or {}).items()
            }
            return cls(
                account_id=str(doc["account_id"]),
                region=str(doc["region"]),
                default_kms_key_id=str(doc.get("default_kms_key_id") or DEFAULT_KEY_ALIAS),
                keys=keys,
                max_versions=int(retention.get("max_versions", 100)),
                min_version_age_hours=float(retention.get("min_version_age_hours", 24.0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(f"{what} is malformed ({exc}). Fix or restore it with git.") from None
