"""A boto3-shaped Secrets Manager client over a gitsm store.

Code written for ``boto3.client("secretsmanager")`` works with ``gitsm.client(repo=PATH)``: the same
method names, the same PascalCase parameters, AWS-shaped dicts back (timestamps as aware datetimes,
SecretBinary as bytes), and operation errors raised as :class:`ClientError` subclasses carrying
``response["Error"]["Code"]`` and ``["Message"]`` like botocore's, reachable as
``client.exceptions.ResourceNotFoundException`` and so on. Core errors are translated here, once.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gitsm import errors, rotationstate
from gitsm.model import DEFAULT_KEY_ALIAS, Secret
from gitsm.passwords import random_password
from gitsm.store import SecretStore, SecretValue

F = TypeVar("F", bound=Callable[..., dict[str, Any]])


class ClientError(Exception):
    """An operation error, shaped like ``botocore.exceptions.ClientError``."""

    def __init__(self, error_response: dict[str, Any], operation_name: str) -> None:
        self.response = error_response
        self.operation_name = operation_name
        err = error_response.get("Error", {})
        super().__init__(
            f"An error occurred ({err.get('Code')}) when calling the {operation_name} operation: "
            f"{err.get('Message')}"
        )


class ParamValidationError(errors.GitsmError, ValueError):
    """A call with unknown or missing parameters (botocore raises this before any request)."""

    code = "ParamValidationError"
    exit_code = errors.EXIT_USAGE


# Environment errors (StoreError and its subclasses: LocalChangesError, MergeInProgress) are not
# service errors: they leave the client as they are, with no ClientError class of their own.
_CODES = [
    c for c, (_, exit_code) in errors.ERROR_TABLE.items() if exit_code != errors.EXIT_ENVIRONMENT
]


_ClientError = ClientError


class _Exceptions:
    """``client.exceptions``: one ClientError subclass per AWS error code."""

    ClientError: type[_ClientError] = _ClientError

    def __init__(self) -> None:
        for code in _CODES:
            setattr(self, code, _EXCEPTION_CLASSES[code])

    def from_code(self, code: str) -> type[_ClientError]:
        """The exception class for an error code."""
        return _EXCEPTION_CLASSES.get(code, _ClientError)


_EXCEPTION_CLASSES: dict[str, type[ClientError]] = {
    code: type(code, (ClientError,), {"__doc__": f"The {code} error of Secrets Manager."})
    for code in _CODES
}
exceptions = _Exceptions()


def _operation(name: str, allowed: set[str], required: set[str] = frozenset()) -> Callable[[F], F]:  # type: ignore[assignment]
    """Check parameters like botocore and translate core errors into ClientError."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def call(self: SecretsManagerClient, **kwargs: Any) -> dict[str, Any]:
            unknown = sorted(set(kwargs) - allowed)
            missing = sorted(required - set(kwargs))
            if unknown or missing:
                problems = [f'Unknown parameter in input: "{k}", must be one of: '
                            f"{', '.join(sorted(allowed))}" for k in unknown]  # fmt: skip
                problems += [f'Missing required parameter in input: "{k}"' for k in missing]
                raise ParamValidationError("Parameter validation failed:\n" + "\n".join(problems))
            try:
                out = fn(self, **kwargs)
            except errors.OperationError as exc:
                response = {
                    "Error": {"Code": exc.code, "Message": exc.message},
                    "ResponseMetadata": {"HTTPStatusCode": exc.http_status},
                }
                raise _EXCEPTION_CLASSES.get(exc.code, ClientError)(response, name) from None
            out["ResponseMetadata"] = {
                "RequestId": str(uuid.uuid4()),
                "HTTPStatusCode": 200,
                "HTTPHeaders": {},
                "RetryAttempts": 0,
            }
            return out

        return call  # type: ignore[return-value]

    return wrap


def _drop_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _value_dict(v: SecretValue) -> dict[str, Any]:
    out: dict[str, Any] = {"ARN": v.arn, "Name": v.name, "VersionId": v.version_id}
    if v.kind == "string":
        out["SecretString"] = v.secret_string
    else:
        out["SecretBinary"] = v.secret_binary
    out["VersionStages"] = list(v.version_stages)
    out["CreatedDate"] = v.created
    return out


def _metadata(s: Secret, stages_key: str) -> dict[str, Any]:
    out = _drop_none(ARN=s.arn, Name=s.name, Description=s.description)
    if s.kms_key_id and s.kms_key_id != DEFAULT_KEY_ALIAS:
        out["KmsKeyId"] = s.kms_key_id
    out["RotationEnabled"] = False
    out["LastChangedDate"] = s.last_changed
    if s.deleted_date is not None:
        out["DeletedDate"] = s.deleted_date
    if s.tags:
        out["Tags"] = [{"Key": k, "Value": v} for k, v in s.tags]
    out[stages_key] = {vid: list(v.stages) for vid, v in s.versions.items() if v.stages}
    out["CreatedDate"] = s.created
    rotationstate.describe(s, out, stages_key)
    return out


_VALUE_IN = {"ClientRequestToken", "SecretString", "SecretBinary"}


class SecretsManagerClient:
    """The operations of ``boto3.client("secretsmanager")`` on a gitsm store."""

    exceptions = exceptions

    def __init__(self, store: SecretStore) -> None:
        self.store = store

    @_operation("CreateSecret", {"Name", "Description", "KmsKeyId", "Tags", *_VALUE_IN}, {"Name"})
    def create_secret(self, **p: Any) -> dict[str, Any]:
        """CreateSecret."""
        r = self.store.create_secret(
            p["Name"], client_request_token=p.get("ClientRequestToken"),
            description=p.get("Description"), kms_key_id=p.get("KmsKeyId"),
            secret_string=p.get("SecretString"), secret_binary=p.get("SecretBinary"),
            tags=p.get("Tags"),
        )  # fmt: skip
        return _drop_none(ARN=r.arn, Name=r.name, VersionId=r.version_id)

    @_operation("UpdateSecret", {"SecretId", "Description", "KmsKeyId", *_VALUE_IN}, {"SecretId"})
    def update_secret(self, **p: Any) -> dict[str, Any]:
        """UpdateSecret."""
        r = self.store.update_secret(
            p["SecretId"], client_request_token=p.get("ClientRequestToken"),
            description=p.get("Description"), kms_key_id=p.get("KmsKeyId"),
            secret_string=p.get("SecretString"), secret_binary=p.get("SecretBinary"),
        )  # fmt: skip
        return _drop_none(ARN=r.arn, Name=r.name, VersionId=r.version_id)

    @_operation(
        "PutSecretValue", {"SecretId", "VersionStages", "RotationToken", *_VALUE_IN}, {"SecretId"}
    )
    def put_secret_value(self, **p: Any) -> dict[str, Any]:
        """PutSecretValue."""
        r = self.store.put_secret_value(
            p["SecretId"], client_request_token=p.get("ClientRequestToken"),
            secret_string=p.get("SecretString"), secret_binary=p.get("SecretBinary"),
            version_stages=p.get("VersionStages"),
        )  # fmt: skip
        return {"ARN": r.arn, "Name": r.name, "VersionId": r.version_id,
                "VersionStages": r.version_stages}  # fmt: skip

    @_operation("GetSecretValue", {"SecretId", "VersionId", "VersionStage"}, {"SecretId"})
    def get_secret_value(self, **p: Any) -> dict[str, Any]:
        """GetSecretValue."""
        v = self.store.get_secret_value(
            p["SecretId"], version_id=p.get("VersionId"), version_stage=p.get("VersionStage")
        )
        return _value_dict(v)

    @_operation("DescribeSecret", {"SecretId"}, {"SecretId"})
    def describe_secret(self, **p: Any) -> dict[str, Any]:
        """DescribeSecret."""
        return _metadata(self.store.describe_secret(p["SecretId"]), "VersionIdsToStages")

    @_operation(
        "ListSecrets",
        {"IncludePlannedDeletion", "MaxResults", "NextToken", "Filters", "SortOrder", "SortBy"},
    )
    def list_secrets(self, **p: Any) -> dict[str, Any]:
        """ListSecrets."""
        page, token = self.store.list_secrets(
            include_planned_deletion=bool(p.get("IncludePlannedDeletion")),
            max_results=p.get("MaxResults"), next_token=p.get("NextToken"),
            filters=p.get("Filters"), sort_order=p.get("SortOrder"), sort_by=p.get("SortBy"),
        )  # fmt: skip
        return _drop_none(
            SecretList=[_metadata(s, "SecretVersionsToStages") for s in page], NextToken=token
        )

    @_operation(
        "ListSecretVersionIds",
        {"SecretId", "MaxResults", "NextToken", "IncludeDeprecated"},
        {"SecretId"},
    )
    def list_secret_version_ids(self, **p: Any) -> dict[str, Any]:
        """ListSecretVersionIds."""
        secret, versions, token = self.store.list_secret_version_ids(
            p["SecretId"], max_results=p.get("MaxResults"), next_token=p.get("NextToken"),
            include_deprecated=bool(p.get("IncludeDeprecated")),
        )  # fmt: skip
        listed = [
            {"VersionId": v.version_id, "VersionStages": list(v.stages),
             "CreatedDate": v.created, "KmsKeyIds": list(v.kms_key_ids)}
            for v in versions
        ]  # fmt: skip
        return _drop_none(Versions=listed, NextToken=token, ARN=secret.arn, Name=secret.name)

    @_operation(
        "UpdateSecretVersionStage",
        {"SecretId", "VersionStage", "RemoveFromVersionId", "MoveToVersionId"},
        {"SecretId", "VersionStage"},
    )
    def update_secret_version_stage(self, **p: Any) -> dict[str, Any]:
        """UpdateSecretVersionStage."""
        r = self.store.update_secret_version_stage(
            p["SecretId"], p["VersionStage"], move_to_version_id=p.get("MoveToVersionId"),
            remove_from_version_id=p.get("RemoveFromVersionId"),
        )  # fmt: skip
        return {"ARN": r.arn, "Name": r.name}

    @_operation(
        "DeleteSecret",
        {"SecretId", "RecoveryWindowInDays", "ForceDeleteWithoutRecovery"},
        {"SecretId"},
    )
    def delete_secret(self, **p: Any) -> dict[str, Any]:
        """DeleteSecret."""
        r = self.store.delete_secret(
            p["SecretId"], recovery_window_in_days=p.get("RecoveryWindowInDays"),
            force_delete_without_recovery=p.get("ForceDeleteWithoutRecovery"),
        )  # fmt: skip
        return {"ARN": r.arn, "Name": r.name, "DeletionDate": r.deletion_date}

    @_operation("RestoreSecret", {"SecretId"}, {"SecretId"})
    def restore_secret(self, **p: Any) -> dict[str, Any]:
        """RestoreSecret."""
        r = self.store.restore_secret(p["SecretId"])
        return {"ARN": r.arn, "Name": r.name}

    @_operation("TagResource", {"SecretId", "Tags"}, {"SecretId", "Tags"})
    def tag_resource(self, **p: Any) -> dict[str, Any]:
        """TagResource."""
        self.store.tag_resource(p["SecretId"], p["Tags"])
        return {}

    @_operation("UntagResource", {"SecretId", "TagKeys"}, {"SecretId", "TagKeys"})
    def untag_resource(self, **p: Any) -> dict[str, Any]:
        """UntagResource."""
        self.store.untag_resource(p["SecretId"], p["TagKeys"])
        return {}

    @_operation(
        "RotateSecret",
        {"SecretId", "ClientRequestToken", "RotationLambdaARN", "RotationRules",
         "RotateImmediately"},
        {"SecretId"},
    )  # fmt: skip
    def rotate_secret(self, **p: Any) -> dict[str, Any]:
        """RotateSecret: runs the rotation function's steps before it returns (gitsm runs the
        store's rotation_functions command where AWS invokes the Lambda function)."""
        r = self.store.rotate_secret(
            p["SecretId"], client_request_token=p.get("ClientRequestToken"),
            rotation_lambda_arn=p.get("RotationLambdaARN"), rotation_rules=p.get("RotationRules"),
            rotate_immediately=p.get("RotateImmediately"),
        )  # fmt: skip
        return _drop_none(ARN=r.arn, Name=r.name, VersionId=r.version_id)

    @_operation("CancelRotateSecret", {"SecretId"}, {"SecretId"})
    def cancel_rotate_secret(self, **p: Any) -> dict[str, Any]:
        """CancelRotateSecret."""
        r = self.store.cancel_rotate_secret(p["SecretId"])
        return _drop_none(ARN=r.arn, Name=r.name, VersionId=r.version_id)

    @_operation(
        "GetRandomPassword",
        {"PasswordLength", "ExcludeCharacters", "ExcludeNumbers", "ExcludePunctuation",
         "ExcludeUppercase", "ExcludeLowercase", "IncludeSpace", "RequireEachIncludedType"},
    )  # fmt: skip
    def get_random_password(self, **p: Any) -> dict[str, Any]:
        """GetRandomPassword."""
        password = random_password(
            p.get("PasswordLength", 32), exclude_characters=p.get("ExcludeCharacters", ""),
            exclude_numbers=bool(p.get("ExcludeNumbers")),
            exclude_punctuation=bool(p.get("ExcludePunctuation")),
            exclude_uppercase=bool(p.get("ExcludeUppercase")),
            exclude_lowercase=bool(p.get("ExcludeLowercase")),
            include_space=bool(p.get("IncludeSpace")),
            require_each_included_type=p.get("RequireEachIncludedType", True),
        )  # fmt: skip
        return {"RandomPassword": password}

    @_operation("BatchGetSecretValue", {"SecretIdList", "Filters", "MaxResults", "NextToken"})
    def batch_get_secret_value(self, **p: Any) -> dict[str, Any]:
        """BatchGetSecretValue."""
        values, errs, token = self.store.batch_get_secret_value(
            secret_id_list=p.get("SecretIdList"), filters=p.get("Filters"),
            max_results=p.get("MaxResults"), next_token=p.get("NextToken"),
        )  # fmt: skip
        return _drop_none(
            SecretValues=[_value_dict(v) for v in values],
            Errors=[
                {"SecretId": e.secret_id, "ErrorCode": e.error.code, "Message": e.error.message}
                for e in errs
            ],
            NextToken=token,
        )


def client(
    repo: str | Path = ".",
    *,
    branch: str | None = None,
    fsync: bool | None = None,
    region_name: str | None = None,
    **_ignored: Any,
) -> SecretsManagerClient:
    """Open the store at ``repo`` and return a boto3-shaped client for it.

    ``region_name``, as in boto3, overrides the store config's region for this client (the ARNs it
    makes and accepts). Other keyword arguments that boto3 accepts (``endpoint_url``...) are
    ignored, so ``gitsm.client(repo=..., region_name=...)`` is a drop-in for ``boto3.client(...)``.
    """
    store = SecretStore.open(repo, branch=branch, fsync=fsync, region=region_name)
    return SecretsManagerClient(store)


__all__ = ["ClientError", "ParamValidationError", "SecretsManagerClient", "client", "exceptions"]
