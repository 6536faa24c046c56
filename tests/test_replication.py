"""Replication (docs/SEMANTICS.md, "Replication"): a replica is the secret itself, answered
read-only under its replica ARN to callers in its Region. Every test runs on a real store, through
``gitsm.client`` opened for one Region or another."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import gitsm
from gitsm import paths
from gitsm.awsclient import SecretsManagerClient
from gitsm.errors import InvalidParameterException
from gitsm.store import SecretStore
from tests.conftest import commits, error, git

NOT_ON_REPLICA = (
    "Operation not permitted on a replica secret. Call must be made in primary secret's region."
)
IN_SYNC = {"Status": "InSync", "StatusMessage": "Replication succeeded"}
DEFAULT = "alias/aws/secretsmanager"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "store.git"
    gitsm.init(path, bare=True, region="us-east-1", account_id="123456789012")
    return path


def client(path: Path, region: str = "us-east-1") -> SecretsManagerClient:
    return gitsm.client(repo=path, region_name=region)


def status(*regions: str, key: str = DEFAULT) -> list[dict[str, str]]:
    return [{"Region": r, "KmsKeyId": key, **IN_SYNC} for r in regions]


@pytest.fixture
def replicated(store_path: Path) -> str:
    """Secret ``dup`` in us-east-1, replicated to us-east-2; its primary ARN."""
    made = client(store_path).create_secret(
        Name="dup", SecretString="s", Description="the description",
        Tags=[{"Key": "k", "Value": "v"}], AddReplicaRegions=[{"Region": "us-east-2"}],
    )  # fmt: skip
    return str(made["ARN"])


def in_region(arn: str, region: str) -> str:
    return arn.replace(":us-east-1:", f":{region}:")


def trailer_lines(path: Path) -> list[str]:
    return [line for line in git(path, "log", "-1", "--format=%B").splitlines() if line]


# -- adding and removing Regions -----------------------------------------------------------------


def test_create_with_replicas_is_one_commit_and_answers_their_status(store_path: Path) -> None:
    before = commits(store_path)
    made = client(store_path).create_secret(
        Name="dup", SecretString="s",
        AddReplicaRegions=[{"Region": "us-east-2"}, {"Region": "eu-west-3", "KmsKeyId": DEFAULT}],
        ForceOverwriteReplicaSecret=True,
    )  # fmt: skip
    assert made["ReplicationStatus"] == status("us-east-2", "eu-west-3")
    assert commits(store_path) == before + 1
    assert 'Gitsm-Replica-Regions: ["us-east-2", "eu-west-3"]' in trailer_lines(store_path)
    manifest = SecretStore.open(store_path).repo.tip().read(paths.manifest_path("dup")) or b""
    assert b'\nreplicas: ["us-east-2", "eu-west-3"]\n' in manifest
    plain = client(store_path).create_secret(Name="plain", SecretString="s")
    assert "ReplicationStatus" not in plain
    assert (
        "replicas"
        not in (
            SecretStore.open(store_path).repo.tip().read(paths.manifest_path("plain")) or b""
        ).decode()
    )


def test_replicate_adds_each_region_once_in_request_order(
    store_path: Path, replicated: str
) -> None:
    sm = client(store_path)
    before = commits(store_path)
    out = sm.replicate_secret_to_regions(
        SecretId="dup",
        AddReplicaRegions=[{"Region": "us-west-2"}, {"Region": "us-east-2"}, {"Region": "us-west-2"},
                           {"Region": "ap-south-1"}],
    )  # fmt: skip
    assert out["ARN"] == replicated
    assert out["ReplicationStatus"] == status("us-east-2", "us-west-2", "ap-south-1")
    assert commits(store_path) == before + 1
    assert "Gitsm-Operation: ReplicateSecretToRegions" in trailer_lines(store_path)
    again = sm.replicate_secret_to_regions(SecretId=replicated,
                                           AddReplicaRegions=[{"Region": "us-west-2"}])  # fmt: skip
    assert again["ReplicationStatus"] == out["ReplicationStatus"]
    assert commits(store_path) == before + 1  # already a replica: nothing to write
    described = sm.describe_secret(SecretId=replicated)
    assert described["PrimaryRegion"] == "us-east-1"
    assert described["ReplicationStatus"] == out["ReplicationStatus"]


def test_remove_is_idempotent(store_path: Path, replicated: str) -> None:
    sm = client(store_path)
    sm.replicate_secret_to_regions(SecretId=replicated, AddReplicaRegions=[{"Region": "us-west-2"}])
    before = commits(store_path)
    out = sm.remove_regions_from_replication(SecretId=replicated,
                                             RemoveReplicaRegions=["us-east-2", "eu-north-1"])  # fmt: skip
    assert out == {"ARN": replicated, "ReplicationStatus": status("us-west-2"),
                   "ResponseMetadata": out["ResponseMetadata"]}  # fmt: skip
    assert commits(store_path) == before + 1
    for region in ("us-east-2", "eu-north-1"):
        out = sm.remove_regions_from_replication(SecretId="dup", RemoveReplicaRegions=[region])
        assert out["ReplicationStatus"] == status("us-west-2")
    assert commits(store_path) == before + 1
    sm.remove_regions_from_replication(SecretId="dup", RemoveReplicaRegions=["us-west-2"])
    described = sm.describe_secret(SecretId="dup")
    assert "PrimaryRegion" not in described and "ReplicationStatus" not in described


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"Region": "us-east-1"}], "Invalid replica region."),
        ([{"Region": "us-east-2"}, {"Region": "us-east-1"}], "Invalid replica region."),
        ([{}], "AddReplicaRegions entry 1 has no Region"),
        ([{"Region": "a"}], "The Region of AddReplicaRegions entry 1 is 'a', not a Region code"),
        ([{"Region": "US-EAST-2"}], "not a Region code: give a Region such as us-east-2"),
        ([{"Region": "us-east-" + "9" * 200}], "not a Region code"),
    ],
)
def test_bad_regions_write_nothing(
    store_path: Path, replicated: str, entries: list[dict[str, str]], message: str
) -> None:
    sm = client(store_path)
    before = commits(store_path)
    for call in (
        lambda: sm.replicate_secret_to_regions(SecretId=replicated, AddReplicaRegions=entries),
        lambda: sm.create_secret(Name="new", SecretString="s", AddReplicaRegions=entries),
    ):
        with pytest.raises(sm.exceptions.InvalidParameterException) as info:
            call()
        assert error(info)[1].startswith(message) or message in error(info)[1], error(info)
    with pytest.raises(sm.exceptions.InvalidParameterException) as info:
        sm.remove_regions_from_replication(SecretId=replicated, RemoveReplicaRegions=["Nowhere"])
    assert "RemoveReplicaRegions entry 1 is 'Nowhere', not a Region code" in error(info)[1]
    assert commits(store_path) == before


def test_at_most_64_replica_regions(store_path: Path, replicated: str) -> None:
    sm = client(store_path)
    many = [{"Region": f"xx-test-{i}"} for i in range(63)]
    sm.replicate_secret_to_regions(SecretId=replicated, AddReplicaRegions=many)
    with pytest.raises(sm.exceptions.InvalidParameterException) as info:
        sm.replicate_secret_to_regions(SecretId=replicated,
                                       AddReplicaRegions=[{"Region": "xx-test-99"}])  # fmt: skip
    assert "at most 64 Regions; this request would leave 65" in error(info)[1]


def test_a_replica_reads_with_the_secrets_own_key(store_path: Path, replicated: str) -> None:
    """A replica KmsKeyId must name the secret's key: by its id, or by an id that resolves to
    the same recipients."""
    store = SecretStore.open(store_path)
    recipient = store.config().keys[DEFAULT][0]["key_id"]
    sm = client(store_path)
    sm.replicate_secret_to_regions(
        SecretId=replicated,
        AddReplicaRegions=[{"Region": "us-west-2", "KmsKeyId": recipient},
                           {"Region": "eu-west-1", "KmsKeyId": ""}],
    )  # fmt: skip
    other = store.create_local_key()
    store.create_key_alias("alias/other", [other])
    before = commits(store_path)
    for key in ("alias/other", other, "alias/missing"):
        with pytest.raises(sm.exceptions.InvalidParameterException) as info:
            sm.replicate_secret_to_regions(
                SecretId=replicated, AddReplicaRegions=[{"Region": "ap-south-1", "KmsKeyId": key}]
            )
        assert error(info)[1] == (
            f"A replica of secret dup reads the primary's sealed versions, encrypted with key "
            f"{DEFAULT}: a gitsm store keeps one copy of each version, so a replica cannot use "
            f"another key ({key}). Leave KmsKeyId out or give {DEFAULT}; to change the key of the "
            "secret and its replicas, call UpdateSecret with a new KmsKeyId."
        )
    assert commits(store_path) == before
    sm.update_secret(SecretId=replicated, KmsKeyId="alias/other")
    statuses = sm.describe_secret(SecretId=replicated)["ReplicationStatus"]
    assert {s["KmsKeyId"] for s in statuses} == {"alias/other"}  # the key it reads with now
    sm.replicate_secret_to_regions(
        SecretId=replicated, AddReplicaRegions=[{"Region": "ap-south-1", "KmsKeyId": other}]
    )


# -- the replica view ----------------------------------------------------------------------------


def test_a_replica_answers_in_its_region_by_arn_and_by_name(
    store_path: Path, replicated: str
) -> None:
    east1, east2 = client(store_path), client(store_path, "us-east-2")
    replica = in_region(replicated, "us-east-2")
    primary = east1.describe_secret(SecretId=replicated)
    for secret_id in (replica, "dup", replica[:-7]):
        seen = east2.describe_secret(SecretId=secret_id)
        assert seen["ARN"] == replica and seen["PrimaryRegion"] == "us-east-1"
        assert seen["VersionIdsToStages"] == primary["VersionIdsToStages"]
        assert seen["Tags"] == [{"Key": "k", "Value": "v"}]
        assert seen["Description"] == "the description"
        assert "ReplicationStatus" not in seen
        value = east2.get_secret_value(SecretId=secret_id)
        assert (value["ARN"], value["Name"], value["SecretString"]) == (replica, "dup", "s")
    versions = east2.list_secret_version_ids(SecretId=replica)
    assert versions["ARN"] == replica and len(versions["Versions"]) == 1
    batch = east2.batch_get_secret_value(SecretIdList=[replica, "dup"])
    assert [v["ARN"] for v in batch["SecretValues"]] == [replica, replica]
    by_filter = east2.batch_get_secret_value(Filters=[{"Key": "name", "Values": ["dup"]}])
    assert [v["ARN"] for v in by_filter["SecretValues"]] == [replica]
    listed = east2.list_secrets()["SecretList"]
    assert [(s["ARN"], s["PrimaryRegion"]) for s in listed] == [(replica, "us-east-1")]
    with pytest.raises(east2.exceptions.ResourceNotFoundException):
        east2.describe_secret(SecretId=replicated)  # the primary's ARN belongs to us-east-1
    with pytest.raises(east1.exceptions.ResourceNotFoundException):
        east1.describe_secret(SecretId=replica)  # and the replica's to us-east-2


def test_a_region_without_a_replica_sees_the_secret_as_itself(
    store_path: Path, replicated: str
) -> None:
    west = client(store_path, "eu-west-1")
    seen = west.describe_secret(SecretId="dup")  # found by name whatever the Region
    assert seen["ARN"] == replicated and seen["PrimaryRegion"] == "us-east-1"
    assert seen["ReplicationStatus"] == status("us-east-2")
    with pytest.raises(west.exceptions.ResourceNotFoundException):
        west.describe_secret(SecretId=in_region(replicated, "eu-west-1"))
    west.tag_resource(SecretId="dup", Tags=[{"Key": "from", "Value": "eu-west-1"}])


def test_replica_listings_filter_like_the_primary(store_path: Path, replicated: str) -> None:
    """moto's test_list_replica_secret_with_filters, without the reserved aws: tag key."""
    east1, east2 = client(store_path), client(store_path, "us-east-2")
    east1.create_secret(Name="simple", SecretString="s")
    for key, value in (("tag-key", "k"), ("tag-value", "v"), ("all", "k"),
                       ("description", "description"), ("name", "dup")):  # fmt: skip
        listed = east2.list_secrets(Filters=[{"Key": key, "Values": [value]}])["SecretList"]
        assert [s["Name"] for s in listed] == ["dup"], key
    for sm in (east1, east2):
        region = sm.list_secrets(Filters=[{"Key": "primary-region", "Values": ["us-east-1"]}])
        assert [s["Name"] for s in region["SecretList"]] == ["dup"]
        assert (
            sm.list_secrets(Filters=[{"Key": "primary-region", "Values": ["us-east-2"]}])[
                "SecretList"
            ]
            == []
        )
    assert len(east1.list_secrets()["SecretList"]) == 2


WRITES: dict[str, Callable[[SecretsManagerClient, str], Any]] = {
    "UpdateSecret": lambda sm, s: sm.update_secret(SecretId=s, SecretString="asdf"),
    "PutSecretValue": lambda sm, s: sm.put_secret_value(SecretId=s, SecretString="asdf"),
    "UpdateSecretVersionStage": lambda sm, s: sm.update_secret_version_stage(
        SecretId=s, VersionStage="BLUE", MoveToVersionId="0" * 36),
    "TagResource": lambda sm, s: sm.tag_resource(SecretId=s, Tags=[{"Key": "k", "Value": "w"}]),
    "UntagResource": lambda sm, s: sm.untag_resource(SecretId=s, TagKeys=["k"]),
    "PutResourcePolicy": lambda sm, s: sm.put_resource_policy(SecretId=s, ResourcePolicy="k1"),
    "GetResourcePolicy": lambda sm, s: sm.get_resource_policy(SecretId=s),
    "DeleteResourcePolicy": lambda sm, s: sm.delete_resource_policy(SecretId=s),
    "DeleteSecret": lambda sm, s: sm.delete_secret(SecretId=s),
    "DeleteSecret force": lambda sm, s: sm.delete_secret(SecretId=s,
                                                         ForceDeleteWithoutRecovery=True),
    "RestoreSecret": lambda sm, s: sm.restore_secret(SecretId=s),
    "RotateSecret": lambda sm, s: sm.rotate_secret(SecretId=s),
    "CancelRotateSecret": lambda sm, s: sm.cancel_rotate_secret(SecretId=s),
    "ReplicateSecretToRegions": lambda sm, s: sm.replicate_secret_to_regions(
        SecretId=s, AddReplicaRegions=[{}]),
    "RemoveRegionsFromReplication": lambda sm, s: sm.remove_regions_from_replication(
        SecretId=s, RemoveReplicaRegions=["a"]),
}  # fmt: skip
"""Every write (and GetResourcePolicy) on a replica, with what moto's test_update_replica sends:
the replica is refused before anything else is judged."""


@pytest.mark.parametrize("operation", list(WRITES))
def test_every_write_on_a_replica_is_refused(
    store_path: Path, replicated: str, operation: str
) -> None:
    east2 = client(store_path, "us-east-2")
    before = commits(store_path)
    for secret_id in (in_region(replicated, "us-east-2"), "dup"):
        with pytest.raises(east2.exceptions.InvalidParameterException) as info:
            WRITES[operation](east2, secret_id)
        assert error(info)[1] == NOT_ON_REPLICA
    assert commits(store_path) == before
    store = SecretStore.open(store_path, region="us-east-2")
    with pytest.raises(InvalidParameterException, match="replica secret"):
        store.rekey(secret_id="dup")


def test_a_replicated_primary_is_not_deleted(store_path: Path, replicated: str) -> None:
    sm = client(store_path)
    sm.replicate_secret_to_regions(SecretId=replicated, AddReplicaRegions=[{"Region": "us-west-2"}])
    before = commits(store_path)
    for extra in ({}, {"RecoveryWindowInDays": 7}, {"ForceDeleteWithoutRecovery": True}):
        with pytest.raises(sm.exceptions.InvalidParameterException) as info:
            sm.delete_secret(SecretId=replicated, **extra)
        assert error(info)[1] == (
            f"You can't delete secret {replicated} that still has replica regions "
            "[us-east-2, us-west-2]."
        )
    assert commits(store_path) == before
    sm.remove_regions_from_replication(SecretId=replicated,
                                       RemoveReplicaRegions=["us-east-2", "us-west-2"])  # fmt: skip
    sm.delete_secret(SecretId=replicated, RecoveryWindowInDays=7)
    with pytest.raises(sm.exceptions.InvalidRequestException, match="marked for deletion"):
        sm.replicate_secret_to_regions(SecretId=replicated,
                                       AddReplicaRegions=[{"Region": "us-east-2"}])  # fmt: skip
    sm.delete_secret(SecretId="missing", ForceDeleteWithoutRecovery=True)  # still no error


def test_stop_replication_is_refused(store_path: Path, replicated: str) -> None:
    east1, east2 = client(store_path), client(store_path, "us-east-2")
    before = commits(store_path)
    with pytest.raises(east2.exceptions.InvalidRequestException) as info:
        east2.stop_replication_to_replica(SecretId=in_region(replicated, "us-east-2"))
    assert error(info)[1] == (
        "gitsm can't promote the replica of secret dup in us-east-2 to a standalone secret: a "
        "gitsm store holds one secret per name, and the primary in us-east-1 keeps that name. To "
        "stop replicating to us-east-2, call RemoveRegionsFromReplication in us-east-1; for a "
        "separate secret in us-east-2, create one under another name."
    )
    with pytest.raises(east1.exceptions.InvalidRequestException) as info:
        east1.stop_replication_to_replica(SecretId=replicated)
    assert error(info)[1].startswith("Secret dup is not a replica in us-east-1")
    with pytest.raises(east2.exceptions.ResourceNotFoundException):
        east2.stop_replication_to_replica(SecretId="missing")
    assert commits(store_path) == before


def test_a_replica_follows_every_write_of_its_primary(store_path: Path, replicated: str) -> None:
    """The same files: a new value, label or policy of the primary is the replica's at once."""
    east1, east2 = client(store_path), client(store_path, "us-east-2")
    east1.put_secret_value(SecretId=replicated, SecretString="second")
    east1.put_resource_policy(SecretId=replicated, ResourcePolicy=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":'
        '"arn:aws:iam::123456789012:root"},"Action":"secretsmanager:GetSecretValue",'
        '"Resource":"*"}]}'))  # fmt: skip
    assert east2.get_secret_value(SecretId="dup")["SecretString"] == "second"
    previous = east2.get_secret_value(SecretId="dup", VersionStage="AWSPREVIOUS")
    assert previous["SecretString"] == "s"
    policy = east2.store.resource_policy_of("dup")
    assert policy.arn == in_region(replicated, "us-east-2") and policy.resource_policy
