"""The pure data model: secrets, versions, input limits and their validation.

Nothing here touches git, keys or the disk. Validation raises the AWS error the service raises for the
same input, with a message that says what to do; messages never contain a secret value.
"""

from __future__ import annotations

import os
import re
import secrets as _random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from gitsm import limits
from gitsm.errors import InvalidParameterException, InvalidRequestException

ValueKind = Literal["string", "binary"]

AWSCURRENT = "AWSCURRENT"
AWSPREVIOUS = "AWSPREVIOUS"
AWSPENDING = "AWSPENDING"
DEFAULT_KEY_ALIAS = "alias/aws/secretsmanager"

# The limits live in gitsm.limits (no imports: the quick read uses them); the model names them.
ALIAS_MAX = limits.ALIAS_MAX
ARN_MAX = limits.ARN_MAX
CONFIG_MAX_BYTES = limits.CONFIG_MAX_BYTES
DESCRIPTION_MAX = limits.DESCRIPTION_MAX
ENVELOPE_MAX_BYTES = limits.ENVELOPE_MAX_BYTES
KEY_IDS_PER_VERSION = limits.KEY_IDS_PER_VERSION
KMS_KEY_ID_MAX = limits.KMS_KEY_ID_MAX
MANIFEST_MAX_BYTES = limits.MANIFEST_MAX_BYTES
NAME_MAX = limits.NAME_MAX
RECIPIENTS_MAX = limits.RECIPIENTS_MAX
REGION_MAX = limits.REGION_MAX
REPLICA_REGION_MAX = limits.REPLICA_REGION_MAX
REPLICAS_MAX = limits.REPLICAS_MAX
RESOURCE_POLICY_MAX = limits.RESOURCE_POLICY_MAX
STAGE_MAX_LEN = limits.STAGE_MAX_LEN
STAGES_PER_VERSION = limits.STAGES_PER_VERSION
TAG_KEY_MAX = limits.TAG_KEY_MAX
TAG_VALUE_MAX = limits.TAG_VALUE_MAX
TAGS_MAX = limits.TAGS_MAX
TOKEN_MAX = limits.TOKEN_MAX
TOKEN_MIN = limits.TOKEN_MIN
VALUE_MAX = limits.VALUE_MAX

REPLICA_REGION = re.compile(r"(?:[a-z]+-)+[0-9]+")
ACCOUNT_ID = re.compile(r"[0-9]{12}")

_NAME_RE = re.compile(r"[A-Za-z0-9/_+=.@-]+")
_ARN_SUFFIX_ALPHABET = string.ascii_letters + string.digits


@dataclass
class VersionInfo:
    """One version of a secret as recorded in its manifest (the value lives in the envelope)."""

    version_id: str
    created: datetime
    kind: ValueKind
    kms_key_ids: list[str]
    stages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rotation:
    """A secret's rotation settings and state (DescribeSecret's Rotation* fields and dates).

    Present once the secret was set up for rotation (RotateSecret); CancelRotateSecret turns it off
    and keeps the function and rules, as AWS shows them. ``next_rotation`` is when the next
    rotation window opens; ``token`` is the ClientRequestToken of the rotation in progress."""

    enabled: bool
    lambda_arn: str | None = None
    after_days: int | None = None
    schedule: str | None = None
    duration: str | None = None
    last_rotated: datetime | None = None
    next_rotation: datetime | None = None
    token: str | None = None


@dataclass
class Secret:
    """A secret's metadata: everything in its manifest. Versions are kept in creation order."""

    name: str
    arn: str
    created: datetime
    last_changed: datetime
    description: str | None = None
    kms_key_id: str | None = None
    resource_policy: str | None = None
    """The resource policy as canonical JSON (:mod:`gitsm.policy`), None when none is attached."""
    tags: list[tuple[str, str]] | None = None
    """(key, value) pairs in insertion order; None until the secret is first tagged, then a list
    (empty once every tag is removed: AWS then returns ``"Tags": []``)."""
    deleted_date: datetime | None = None
    deletion_date: datetime | None = None
    versions: dict[str, VersionInfo] = field(default_factory=dict)
    rotation: Rotation | None = None
    replicas: list[str] = field(default_factory=list)
    """The Regions the secret is replicated to, in the order they were added (empty: none). A
    replica is this same secret answered under its ARN in that Region (:mod:`gitsm.replicas`)."""

    @property
    def primary_region(self) -> str | None:
        """DescribeSecret's PrimaryRegion: the Region of the secret's own ARN while it has
        replicas (a multi-Region secret), else None, as AWS answers it only for those."""
        return arn_region(self.arn) if self.replicas else None

    def stage_map(self) -> dict[str, list[str]]:
        """VersionId -> staging labels, for every version."""
        return {vid: list(v.stages) for vid, v in self.versions.items()}

    def version_with_stage(self, stage: str) -> str | None:
        """Return the VersionId that carries ``stage``, or None."""
        for vid, v in self.versions.items():
            if stage in v.stages:
                return vid
        return None


def random_uuid() -> str:
    """A random UUID (version 4) as text, as ``str(uuid.uuid4())`` makes it. The uuid module is
    not imported for it: it imports platform, which compiles a large regex at every start."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def arn_region(arn: str) -> str:
    """The Region field of an ARN (``arn:aws:secretsmanager:<region>:...``; "" when absent)."""
    parts = arn.split(":", 4)
    return parts[3] if len(parts) > 4 else ""


def make_arn(region: str, account: str, name: str) -> str:
    """A new ARN for ``name``: AWS appends ``-`` and six random characters, fixed at creation."""
    suffix = "".join(_random.choice(_ARN_SUFFIX_ALPHABET) for _ in range(6))
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-{suffix}"


def validate_store_identity(account_id: object, region: object) -> tuple[str, str]:
    """Check a new store's account id (12 digits) and region (1-64 characters)."""
    if not isinstance(account_id, str) or not ACCOUNT_ID.fullmatch(account_id):
        raise InvalidParameterException("The account id must be 12 digits, such as 123456789012.")
    if not isinstance(region, str) or not 1 <= len(region) <= REGION_MAX:
        raise InvalidParameterException(
            f"The region must be 1-{REGION_MAX} characters long, such as us-east-1."
        )
    return account_id, region


def validate_name(name: object) -> str:
    """Check a secret name against AWS's rules and return it."""
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX:
        raise InvalidParameterException(
            f"Invalid name. The secret name must be 1-{NAME_MAX} characters long."
        )
    if not _NAME_RE.fullmatch(name):
        raise InvalidParameterException(
            "Invalid name. Must be a valid name containing alphanumeric characters, "
            "or any of the following: -/_+=.@!"
        )
    return name


def validate_token(token: object) -> str:
    """Check a ClientRequestToken (it becomes the VersionId) and return it."""
    if not isinstance(token, str) or not TOKEN_MIN <= len(token) <= TOKEN_MAX:
        raise InvalidParameterException("ClientRequestToken must be 32-64 characters long.")
    return token


def validate_version_id(version_id: object) -> str:
    """Check a VersionId given to a read or label operation."""
    if not isinstance(version_id, str) or not TOKEN_MIN <= len(version_id) <= TOKEN_MAX:
        raise InvalidParameterException("VersionId must be 32-64 characters long.")
    return version_id


def validate_value(
    secret_string: str | None, secret_binary: bytes | None, *, required: bool
) -> tuple[bytes, ValueKind] | None:
    """Check that at most one (or, when ``required``, exactly one) value is given, within limits.

    Returns the value as bytes with its kind, or None when no value was given.
    """
    if secret_string is not None and secret_binary is not None:
        raise InvalidParameterException(
            "You can't specify both SecretString and SecretBinary. Provide exactly one of them."
        )
    if secret_string is None and secret_binary is None:
        if required:
            raise InvalidRequestException("You must provide either SecretString or SecretBinary.")
        return None
    if secret_string is not None:
        if not isinstance(secret_string, str):
            raise InvalidParameterException("SecretString must be a string.")
        data, kind = secret_string.encode("utf-8"), "string"
    else:
        if not isinstance(secret_binary, bytes | bytearray | memoryview):
            raise InvalidParameterException("SecretBinary must be bytes.")
        data, kind = bytes(secret_binary), "binary"
    label = "SecretString" if kind == "string" else "SecretBinary"
    if not 1 <= len(data) <= VALUE_MAX:
        raise InvalidParameterException(
            f"{label} must be 1-{VALUE_MAX} bytes long; this one is {len(data)} bytes."
        )
    return data, kind  # type: ignore[return-value]


def validate_description(description: object) -> str | None:
    """Check a Description (at most 2,048 characters)."""
    if description is None:
        return None
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
        raise InvalidParameterException(
            f"Description must be a string of at most {DESCRIPTION_MAX} characters."
        )
    return description


def validate_kms_key_id(kms_key_id: object) -> str | None:
    """Check the shape of a KmsKeyId (at most 2,048 characters); the key itself is checked later."""
    if kms_key_id is None:
        return None
    if not isinstance(kms_key_id, str) or len(kms_key_id) > KMS_KEY_ID_MAX:
        raise InvalidParameterException(
            f"KmsKeyId must be a string of at most {KMS_KEY_ID_MAX} characters."
        )
    return kms_key_id or None


def validate_stage(stage: object) -> str:
    """Check one staging label (1-256 characters)."""
    if not isinstance(stage, str) or not 1 <= len(stage) <= STAGE_MAX_LEN:
        raise InvalidParameterException(
            f"Staging labels must be 1-{STAGE_MAX_LEN} characters long."
        )
    return stage


def validate_tags(tags: object) -> list[tuple[str, str]]:
    """Check a Tags list of ``{"Key": ..., "Value": ...}`` dicts and return (key, value) pairs."""
    if not isinstance(tags, list):
        raise InvalidParameterException("Tags must be a list of {Key, Value} objects.")
    out: list[tuple[str, str]] = []
    for tag in tags:
        if not isinstance(tag, dict) or not isinstance(tag.get("Key"), str):
            raise InvalidParameterException("Each tag must be an object with a string Key.")
        key, value = tag["Key"], tag.get("Value", "")
        if not isinstance(value, str):
            raise InvalidParameterException(f"The value of tag {key!r} must be a string.")
        validate_tag_key(key)
        if len(value) > TAG_VALUE_MAX:
            raise InvalidParameterException(
                f"Tag values must be at most {TAG_VALUE_MAX} characters (tag {key!r})."
            )
        out.append((key, value))
    return out


def validate_tag_key(key: str) -> str:
    """Check one tag key: 1-128 characters, not in the reserved ``aws:`` namespace."""
    if not 1 <= len(key) <= TAG_KEY_MAX:
        raise InvalidParameterException(f"Tag keys must be 1-{TAG_KEY_MAX} characters long.")
    if key.lower().startswith("aws:"):
        raise InvalidParameterException(
            f"Invalid tag key {key!r}: the aws: prefix is reserved for AWS use. Choose another key."
        )
    return key


def merge_tags(
    current: list[tuple[str, str]] | None, new: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Add or overwrite tags, keeping the existing order and appending new keys."""
    merged = dict(current or [])
    for key, value in new:
        merged[key] = value
    if len(merged) > TAGS_MAX:
        raise InvalidParameterException(
            f"A secret can have at most {TAGS_MAX} tags; this request would leave {len(merged)}. "
            "Remove some tags first."
        )
    return list(merged.items())
