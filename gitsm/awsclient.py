"""A boto3-shaped Secrets Manager client over a gitsm store.

Code written for ``boto3.client("secretsmanager")`` works with ``gitsm.client(repo=PATH)``: the same
method names, the same PascalCase parameters, AWS-shaped dicts back (timestamps as aware datetimes,
SecretBinary as bytes), and operation errors raised as :class:`ClientError` subclasses carrying
``response["Error"]["Code"]`` and ``["Message"]`` like botocore's, reachable as
``client.exceptions.ResourceNotFoundException`` and so on. Core errors are translated here, once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitsm.awserrors import ClientError, ParamValidationError, exceptions
from gitsm.awsshapes import blob as _blob
from gitsm.awsshapes import drop_none as _drop_none
from gitsm.awsshapes import filters as _filters
from gitsm.awsshapes import metadata as _metadata
from gitsm.awsshapes import operation as _operation
from gitsm.awsshapes import replication as _replication
from gitsm.awsshapes import value_dict as _value_dict
from gitsm.passwords import random_password
from gitsm.store import SecretStore


class SecretsManagerClient:
    """The operations of ``boto3.client("secretsmanager")`` on a gitsm store."""

    exceptions = exceptions

    def __init__(self, store: SecretStore, *, check_minimums: bool = True) -> None:
        self.store = store
        self.check_minimums = check_minimums
        """False for a client made with ``Config(parameter_validation=False)``: values below the
        model's minimums reach the store, whose own checks answer with the service's errors."""

    @_operation("CreateSecret")
    def create_secret(self, **p: Any) -> dict[str, Any]:
        """CreateSecret (with AddReplicaRegions: replicated, and ReplicationStatus answered)."""
        r = self.store.create_secret(
            p["Name"], client_request_token=p.get("ClientRequestToken"),
            description=p.get("Description"), kms_key_id=p.get("KmsKeyId"),
            secret_string=p.get("SecretString"), secret_binary=_blob(p.get("SecretBinary")),
            tags=p.get("Tags"), add_replica_regions=_list(p.get("AddReplicaRegions")),
            force_overwrite_replica_secret=p.get("ForceOverwriteReplicaSecret"),
        )  # fmt: skip
        out = _drop_none(ARN=r.arn, Name=r.name, VersionId=r.version_id)
        if r.replication is not None:
            out["ReplicationStatus"] = _replication(r.replication)
        return out

    @_operation("UpdateSecret")
    def update_secret(self, **p: Any) -> dict[str, Any]:
        """UpdateSecret."""
        r = self.store.update_secret(
            p["SecretId"], client_request_token=p.get("ClientRequestToken"),
            description=p.get("Description"), kms_key_id=p.get("KmsKeyId"),
            secret_string=p.get("SecretString"), secret_binary=_blob(p.get("SecretBinary")),
        )  # fmt: skip
        return _drop_none(ARN=r.arn, Name=r.name, VersionId=r.version_id)

    @_operation("PutSecretValue")
    def put_secret_value(self, **p: Any) -> dict[str, Any]:
        """PutSecretValue."""
        stages = p.get("VersionStages")
        r = self.store.put_secret_value(
            p["SecretId"], client_request_token=p.get("ClientRequestToken"),
            secret_string=p.get("SecretString"), secret_binary=_blob(p.get("SecretBinary")),
            version_stages=list(stages) if stages is not None else None,
        )  # fmt: skip
        return {"ARN": r.arn, "Name": r.name, "VersionId": r.version_id,
                "VersionStages": r.version_stages}  # fmt: skip

    @_operation("GetSecretValue")
    def get_secret_value(self, **p: Any) -> dict[str, Any]:
        """GetSecretValue."""
        v = self.store.get_secret_value(
            p["SecretId"], version_id=p.get("VersionId"), version_stage=p.get("VersionStage")
        )
        return _value_dict(v)

    @_operation("DescribeSecret")
    def describe_secret(self, **p: Any) -> dict[str, Any]:
        """DescribeSecret."""
        secret, viewer = self.store.described(p["SecretId"])
        return _metadata(secret, "VersionIdsToStages", viewer)

    @_operation("ListSecrets")
    def list_secrets(self, **p: Any) -> dict[str, Any]:
        """ListSecrets."""
        page, token = self.store.list_secrets(
            include_planned_deletion=bool(p.get("IncludePlannedDeletion")),
            max_results=p.get("MaxResults"), next_token=p.get("NextToken"),
            filters=_filters(p.get("Filters")), sort_order=p.get("SortOrder"),
            sort_by=p.get("SortBy"),
        )  # fmt: skip
        viewer = self.store.viewer()
        return _drop_none(
            SecretList=[_metadata(s, "SecretVersionsToStages", viewer) for s in page],
            NextToken=token,
        )

    @_operation("ListSecretVersionIds")
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
        arn = self.store.viewer().arn(secret)
        return _drop_none(Versions=listed, NextToken=token, ARN=arn, Name=secret.name)

    @_operation("UpdateSecretVersionStage")
    def update_secret_version_stage(self, **p: Any) -> dict[str, Any]:
        """UpdateSecretVersionStage."""
        r = self.store.update_secret_version_stage(
            p["SecretId"], p["VersionStage"], move_to_version_id=p.get("MoveToVersionId"),
            remove_from_version_id=p.get("RemoveFromVersionId"),
        )  # fmt: skip
        return {"ARN": r.arn, "Name": r.name}

    @_operation("DeleteSecret")
    def delete_secret(self, **p: Any) -> dict[str, Any]:
        """DeleteSecret."""
        r = self.store.delete_secret(
            p["SecretId"], recovery_window_in_days=p.get("RecoveryWindowInDays"),
            force_delete_without_recovery=p.get("ForceDeleteWithoutRecovery"),
        )  # fmt: skip
        return {"ARN": r.arn, "Name": r.name, "DeletionDate": r.deletion_date}

    @_operation("RestoreSecret")
    def restore_secret(self, **p: Any) -> dict[str, Any]:
        """RestoreSecret."""
        r = self.store.restore_secret(p["SecretId"])
        return {"ARN": r.arn, "Name": r.name}

    @_operation("TagResource")
    def tag_resource(self, **p: Any) -> dict[str, Any]:
        """TagResource."""
        self.store.tag_resource(p["SecretId"], list(p["Tags"]))
        return {}

    @_operation("UntagResource")
    def untag_resource(self, **p: Any) -> dict[str, Any]:
        """UntagResource."""
        self.store.untag_resource(p["SecretId"], list(p["TagKeys"]))
        return {}

    @_operation("GetResourcePolicy")
    def get_resource_policy(self, **p: Any) -> dict[str, Any]:
        """GetResourcePolicy (no ResourcePolicy key when none is attached)."""
        r = self.store.get_resource_policy(p["SecretId"])
        return _drop_none(ARN=r.arn, Name=r.name, ResourcePolicy=r.resource_policy)

    @_operation("PutResourcePolicy")
    def put_resource_policy(self, **p: Any) -> dict[str, Any]:
        """PutResourcePolicy."""
        r = self.store.put_resource_policy(
            p["SecretId"], p["ResourcePolicy"], block_public_policy=p.get("BlockPublicPolicy")
        )
        return {"ARN": r.arn, "Name": r.name}

    @_operation("DeleteResourcePolicy")
    def delete_resource_policy(self, **p: Any) -> dict[str, Any]:
        """DeleteResourcePolicy (no error when none is attached)."""
        r = self.store.delete_resource_policy(p["SecretId"])
        return {"ARN": r.arn, "Name": r.name}

    @_operation("ValidateResourcePolicy")
    def validate_resource_policy(self, **p: Any) -> dict[str, Any]:
        """ValidateResourcePolicy."""
        r = self.store.validate_resource_policy(p["ResourcePolicy"], secret_id=p.get("SecretId"))
        errs = [{"CheckName": check, "ErrorMessage": message} for check, message in r.errors]
        return {"PolicyValidationPassed": r.passed, "ValidationErrors": errs}

    @_operation("RotateSecret")
    def rotate_secret(self, **p: Any) -> dict[str, Any]:
        """RotateSecret: runs the rotation function's steps before it returns (gitsm runs the
        store's rotation_functions command where AWS invokes the Lambda function; without a
        RotationLambdaARN, the store's default rotation function, if it has one)."""
        r = self.store.rotate_secret(
            p["SecretId"], client_request_token=p.get("ClientRequestToken"),
            rotation_lambda_arn=p.get("RotationLambdaARN"), rotation_rules=p.get("RotationRules"),
            rotate_immediately=p.get("RotateImmediately"),
        )  # fmt: skip
        return _drop_none(ARN=r.arn, Name=r.name, VersionId=r.version_id)

    @_operation("CancelRotateSecret")
    def cancel_rotate_secret(self, **p: Any) -> dict[str, Any]:
        """CancelRotateSecret."""
        r = self.store.cancel_rotate_secret(p["SecretId"])
        return _drop_none(ARN=r.arn, Name=r.name, VersionId=r.version_id)

    @_operation("GetRandomPassword")
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

    @_operation("BatchGetSecretValue")
    def batch_get_secret_value(self, **p: Any) -> dict[str, Any]:
        """BatchGetSecretValue."""
        ids = p.get("SecretIdList")
        values, errs, token = self.store.batch_get_secret_value(
            secret_id_list=list(ids) if ids is not None else None,
            filters=_filters(p.get("Filters")), max_results=p.get("MaxResults"),
            next_token=p.get("NextToken"),
        )  # fmt: skip
        return _drop_none(
            SecretValues=[_value_dict(v) for v in values],
            Errors=[
                {"SecretId": e.secret_id, "ErrorCode": e.error.code, "Message": e.error.message}
                for e in errs
            ],
            NextToken=token,
        )

    # Replication (docs/SEMANTICS.md, "Replication"): a replica is the secret itself, read-only
    # in its Region.

    @_operation("ReplicateSecretToRegions")
    def replicate_secret_to_regions(self, **p: Any) -> dict[str, Any]:
        """ReplicateSecretToRegions: the primary's ARN and its ReplicationStatus."""
        r = self.store.replicate_secret_to_regions(
            p["SecretId"], _list(p["AddReplicaRegions"]),
            force_overwrite_replica_secret=p.get("ForceOverwriteReplicaSecret"),
        )  # fmt: skip
        return {"ARN": r.arn, "ReplicationStatus": _replication(r.replication or [])}

    @_operation("RemoveRegionsFromReplication")
    def remove_regions_from_replication(self, **p: Any) -> dict[str, Any]:
        """RemoveRegionsFromReplication: the primary's ARN and the replicas left."""
        r = self.store.remove_regions_from_replication(
            p["SecretId"], _list(p["RemoveReplicaRegions"])
        )
        return {"ARN": r.arn, "ReplicationStatus": _replication(r.replication or [])}

    @_operation("StopReplicationToReplica")
    def stop_replication_to_replica(self, **p: Any) -> dict[str, Any]:
        """StopReplicationToReplica: refused with InvalidRequestException (a store holds one
        secret per name, so a replica cannot become a second one); ResourceNotFoundException
        first when the secret is missing."""
        r = self.store.stop_replication_to_replica(p["SecretId"])
        return {"ARN": r.arn}


def _list(value: Any) -> Any:
    """A list member as the store reads it (boto3 also takes a tuple)."""
    return list(value) if isinstance(value, tuple) else value


def client(
    repo: str | Path = ".",
    *,
    branch: str | None = None,
    fsync: bool | None = None,
    region_name: str | None = None,
    config: Any = None,
    **_ignored: Any,
) -> SecretsManagerClient:
    """Open the store at ``repo`` and return a boto3-shaped client for it.

    ``region_name``, as in boto3, overrides the store config's region for this client (the ARNs it
    makes and accepts). ``config`` is read as boto3 reads a ``botocore.config.Config`` for what
    applies to a store: with ``parameter_validation=False`` values below the model's minimums are
    not refused with ParamValidationError but answered by the store's own checks, with the
    service's errors (types, required and unknown parameters are still checked first). Other
    keyword arguments that boto3 accepts (``endpoint_url``...) are ignored, so
    ``gitsm.client(repo=..., region_name=...)`` is a drop-in for ``boto3.client(...)``.
    """
    store = SecretStore.open(repo, branch=branch, fsync=fsync, region=region_name)
    validate = getattr(config, "parameter_validation", None)
    return SecretsManagerClient(store, check_minimums=validate is not False)


__all__ = ["ClientError", "ParamValidationError", "SecretsManagerClient", "client", "exceptions"]
