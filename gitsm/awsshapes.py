"""What :mod:`gitsm.awsclient` shares between its operations: the decorator that checks a call's
parameters like botocore and translates core errors, and the AWS-shaped dicts of the store's
answers (a value, a secret's metadata, ReplicationStatus) as a caller in one Region sees them."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from gitsm import apimodel, errors, paramcheck, rotationstate
from gitsm.awserrors import ParamValidationError, client_error
from gitsm.model import DEFAULT_KEY_ALIAS, Secret, random_uuid
from gitsm.replicas import ReplicaStatus, Viewer
from gitsm.store import SecretValue

F = TypeVar("F", bound=Callable[..., dict[str, Any]])


class Checked(Protocol):
    """A client whose calls :func:`operation` checks (``check_minimums``: the model's minimums
    are checked too, as botocore checks them)."""

    check_minimums: bool


def operation(name: str) -> Callable[[F], F]:
    """Check parameters like botocore and translate core errors into ClientError.

    The parameters are checked against ``name``'s input shape in :mod:`gitsm.apimodel` (from
    botocore's model), the one list of the operations gitsm serves: a method for an operation the
    model does not hold fails here, as the module is imported (add the operation to
    ``tests/gen_apimodel.py`` and regenerate the model).
    """
    shape = apimodel.OPERATIONS.get(name)
    if shape is None:
        raise LookupError(f"{name} is not in gitsm/apimodel.py: add it to tests/gen_apimodel.py")

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def call(self: Checked, **kwargs: Any) -> dict[str, Any]:
            minimums = getattr(self, "check_minimums", True)
            problems = paramcheck.problems(kwargs, shape, minimums=minimums)
            if problems:
                raise ParamValidationError("\n".join(problems))
            try:
                out = fn(self, **kwargs)
            except errors.OperationError as exc:
                raise client_error(exc.code, exc.message, name, exc.http_status) from None
            out["ResponseMetadata"] = {
                "RequestId": random_uuid(),
                "HTTPStatusCode": 200,
                "HTTPHeaders": {},
                "RetryAttempts": 0,
            }
            return out

        return call  # type: ignore[return-value]

    return wrap


def drop_none(**fields: Any) -> dict[str, Any]:
    """``fields`` without those that are None (AWS returns only fields that have a value)."""
    return {k: v for k, v in fields.items() if v is not None}


def blob(value: object) -> bytes | None:
    """SecretBinary as boto3 sends it: a str as its UTF-8 bytes, a file-like object's content."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytearray):
        return bytes(value)
    data = value.read()  # type: ignore[attr-defined]  # a file-like object (checked by paramcheck)
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def value_dict(v: SecretValue) -> dict[str, Any]:
    """GetSecretValue's answer (and a BatchGetSecretValue entry)."""
    out: dict[str, Any] = {"ARN": v.arn, "Name": v.name, "VersionId": v.version_id}
    if v.kind == "string":
        out["SecretString"] = v.secret_string
    else:
        out["SecretBinary"] = v.secret_binary
    out["VersionStages"] = list(v.version_stages)
    out["CreatedDate"] = v.created
    return out


def replication(statuses: Sequence[ReplicaStatus]) -> list[dict[str, Any]]:
    """ReplicationStatus: one entry per replica Region."""
    return [
        {"Region": s.region, "KmsKeyId": s.kms_key_id, "Status": s.status,
         "StatusMessage": s.message}
        for s in statuses
    ]  # fmt: skip


def metadata(s: Secret, stages_key: str, viewer: Viewer) -> dict[str, Any]:
    """DescribeSecret's answer (``VersionIdsToStages``) or a ListSecrets entry's
    (``SecretVersionsToStages``) as ``viewer``'s Region sees the secret: only the fields that have
    a value, as AWS returns them; a replica under its ARN, with PrimaryRegion; a replicated
    primary with PrimaryRegion and (DescribeSecret) ReplicationStatus."""
    out = drop_none(ARN=viewer.arn(s), Name=s.name, Description=s.description)
    if s.kms_key_id and s.kms_key_id != DEFAULT_KEY_ALIAS:
        out["KmsKeyId"] = s.kms_key_id
    out["LastChangedDate"] = s.last_changed
    if s.deleted_date is not None:
        out["DeletedDate"] = s.deleted_date
    if s.tags is not None:  # [] once every tag was removed: AWS keeps an empty list
        out["Tags"] = [{"Key": k, "Value": v} for k, v in s.tags]
    stages = {vid: list(v.stages) for vid, v in s.versions.items() if v.stages}
    if stages:
        out[stages_key] = stages
    out["CreatedDate"] = s.created
    rotationstate.describe(s, out, stages_key)
    if s.primary_region is not None:
        out["PrimaryRegion"] = s.primary_region
        if stages_key == "VersionIdsToStages" and not viewer.is_replica(s):
            out["ReplicationStatus"] = replication(viewer.statuses(s))
    return out


def filters(given: Any) -> Any:
    """Filters as the store reads them: lists (boto3 also takes tuples for list members)."""
    if not isinstance(given, list | tuple):
        return given
    return [
        {**f, "Values": list(f["Values"])} if isinstance(f.get("Values"), tuple) else f
        for f in given
    ]
