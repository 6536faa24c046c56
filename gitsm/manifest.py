"""Manifest and store-config (de)serialization: canonical YAML, no secret material.

The manifest of a secret is written with a fixed key order and one line per fact, so that diffs of
label moves and tag changes stay small and merge like ordinary text. ``docs/FORMAT.md`` describes it.
"""

from __future__ import annotations

import re
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
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return parsed.astimezone(UTC)


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


_PLAIN = re.compile(r"[ !#-\[\]-~]*")


def quote(text: str) -> str:
    """A YAML double-quoted scalar holding only printable ASCII (other characters escaped)."""
    if _PLAIN.fullmatch(text):
        return f'"{text}"'
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _unquote(token: str) -> str:
    return token[1:-1].encode("ascii").decode("unicode_escape")


def _qlist(items: list[str]) -> str:
    return "[" + ", ".join(quote(i) for i in items) + "]"


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
    lines.append(f"created: {quote(_ts(secret.created))}")
    lines.append(f"last_changed: {quote(_ts(secret.last_changed))}")
    if secret.deleted_date is not None and secret.deletion_date is not None:
        lines.append(f"deleted: {quote(_ts(secret.deleted_date))}")
        lines.append(f"deletion_date: {quote(_ts(secret.deletion_date))}")
    if secret.tags:
        lines.append("tags:")
        for key, value in secret.tags:
            lines += [f"- key: {quote(key)}", f"  value: {quote(value)}"]
    if not secret.versions:
        lines.append("versions: {}")
    else:
        lines.append("versions:")
        for vid, v in secret.versions.items():
            lines.append(
                f"  {quote(vid)}: {{created: {quote(_ts(v.created))}, type: {v.kind}, "
                f"kms_key_ids: {_qlist(v.kms_key_ids)}, stages: {_qlist(v.stages)}}}"
            )
    return ("\n".join(lines) + "\n").encode("ascii")


_QUOTED = r'"(?:[^"\\]|\\.)*"'
_SCALAR_LINE = re.compile(rf"([a-z_]+): ({_QUOTED})")
_VERSION_LINE = re.compile(
    rf"  ({_QUOTED}): \{{created: ({_QUOTED}), type: (string|binary), "
    rf"kms_key_ids: \[((?:{_QUOTED}(?:, )?)*)\], stages: \[((?:{_QUOTED}(?:, )?)*)\]\}}"
)
_ITEM = re.compile(_QUOTED)


def _fast_doc(data: bytes) -> dict[str, Any] | None:
    """Parse the canonical form written by :func:`dump_secret`; None for anything else."""
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
    versions: dict[str, dict[str, Any]] = {}
    for line in lines[1:]:
        if line in ("tags:", "versions:"):
            mode = line[:-1]
            doc[mode] = tags if mode == "tags" else versions
        elif line == "versions: {}":
            doc["versions"] = versions
        elif mode == "versions" and (m := _VERSION_LINE.fullmatch(line)):
            versions[_unquote(m[1])] = {
                "created": _unquote(m[2]),
                "type": m[3],
                "kms_key_ids": [_unquote(i) for i in _ITEM.findall(m[4])],
                "stages": [_unquote(i) for i in _ITEM.findall(m[5])],
            }
        elif mode == "tags" and line.startswith("- key: ") and _ITEM.fullmatch(line[7:]):
            tags.append({"key": _unquote(line[7:])})
        elif mode == "tags" and line.startswith("  value: ") and tags and _ITEM.fullmatch(line[9:]):
            tags[-1]["value"] = _unquote(line[9:])
        elif not mode and (m := _SCALAR_LINE.fullmatch(line)):
            doc[m[1]] = _unquote(m[2])
        else:
            return None
    return doc


def load_secret(data: bytes, path: str) -> Secret:
    """Parse a manifest read from ``path``; raises StoreError when it is malformed."""
    what = f"manifest {path}"
    doc = _fast_doc(data) or load_yaml(data, what)
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
