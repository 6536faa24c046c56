"""Label moves, deletion, restore, expiry of the recovery window, and tags, through the client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gitsm import errors, paths
from gitsm.awsclient import ParamValidationError, SecretsManagerClient
from gitsm.store import SecretStore
from tests.conftest import Clock, commits, error, git


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2031, 5, 6, 7, 8, 9, 123000, tzinfo=UTC))


@pytest.fixture
def timed(any_path: Path, clock: Clock) -> SecretsManagerClient:
    """A client (checkout and bare) whose clock the test controls."""
    return SecretsManagerClient(SecretStore.open(any_path, clock=clock))


def stages(client: SecretsManagerClient, name: str) -> dict[str, list[str]]:
    described = client.describe_secret(SecretId=name)
    return {vid: sorted(s) for vid, s in described["VersionIdsToStages"].items()}


def tree(path: Path) -> list[str]:
    return git(path, "ls-tree", "-r", "HEAD", "--name-only").splitlines()


# -- UpdateSecretVersionStage -----------------------------------------------------------------------


@pytest.fixture
def labelled(client: SecretsManagerClient) -> list[str]:
    """Secret ``st``: v1 AWSPREVIOUS, v2 AWSCURRENT, v3 unlabeled-but-for X."""
    v1 = client.create_secret(Name="st", SecretString="1")["VersionId"]
    v2 = client.put_secret_value(SecretId="st", SecretString="2")["VersionId"]
    v3 = client.put_secret_value(SecretId="st", SecretString="3", VersionStages=["X"])["VersionId"]
    return [v1, v2, v3]


def test_move_a_free_label_needs_no_remove_from(
    client: SecretsManagerClient, labelled: list[str], any_path: Path
) -> None:
    v1, v2, v3 = labelled
    before = commits(any_path)
    out = client.update_secret_version_stage(SecretId="st", VersionStage="Y", MoveToVersionId=v1)
    assert out["Name"] == "st"
    assert out["ARN"] == client.describe_secret(SecretId="st")["ARN"]
    assert commits(any_path) == before + 1
    assert git(any_path, "log", "-1", "--format=%s") == "UpdateSecretVersionStage st\n"
    assert stages(client, "st") == {v1: ["AWSPREVIOUS", "Y"], v2: ["AWSCURRENT"], v3: ["X"]}
    # Moving it to the version that already has it changes nothing.
    client.update_secret_version_stage(SecretId="st", VersionStage="Y", MoveToVersionId=v1)
    assert commits(any_path) == before + 1


def test_move_a_taken_label_needs_remove_from(
    client: SecretsManagerClient, labelled: list[str], any_path: Path
) -> None:
    v1, v2, v3 = labelled
    before = commits(any_path)
    with pytest.raises(client.exceptions.InvalidParameterException) as info:
        client.update_secret_version_stage(SecretId="st", VersionStage="X", MoveToVersionId=v1)
    assert error(info) == (
        "InvalidParameterException",
        f"The parameter RemoveFromVersionId can't be empty. Staging label X is currently attached "
        f"to version {v3}, so you must explicitly reference that version in RemoveFromVersionId.",
    )
    # A RemoveFromVersionId that does not hold the label fails too.
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.update_secret_version_stage(
            SecretId="st", VersionStage="X", MoveToVersionId=v1, RemoveFromVersionId=v2
        )
    assert commits(any_path) == before
    client.update_secret_version_stage(
        SecretId="st", VersionStage="X", MoveToVersionId=v1, RemoveFromVersionId=v3
    )
    assert commits(any_path) == before + 1
    assert stages(client, "st") == {v1: ["AWSPREVIOUS", "X"], v2: ["AWSCURRENT"]}


def test_moving_awscurrent_without_remove_from_has_awss_message(
    client: SecretsManagerClient, labelled: list[str]
) -> None:
    _, v2, v3 = labelled
    with pytest.raises(client.exceptions.InvalidParameterException) as info:
        client.update_secret_version_stage(
            SecretId="st", VersionStage="AWSCURRENT", MoveToVersionId=v3
        )
    assert error(info)[1] == (
        f"The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently "
        f"attached to version {v2}, so you must explicitly reference that version in "
        "RemoveFromVersionId."
    )


def test_moving_awscurrent_hands_awsprevious_along(
    client: SecretsManagerClient, labelled: list[str]
) -> None:
    _, v2, v3 = labelled
    client.update_secret_version_stage(
        SecretId="st", VersionStage="AWSCURRENT", MoveToVersionId=v3, RemoveFromVersionId=v2
    )
    assert stages(client, "st") == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT", "X"]}
    got = client.get_secret_value(SecretId="st")
    assert (got["VersionId"], got["SecretString"]) == (v3, "3")
    assert client.get_secret_value(SecretId="st", VersionStage="AWSPREVIOUS")["SecretString"] == "2"
    # And back again (a rollback).
    client.update_secret_version_stage(
        SecretId="st", VersionStage="AWSCURRENT", MoveToVersionId=v2, RemoveFromVersionId=v3
    )
    assert stages(client, "st") == {v2: ["AWSCURRENT"], v3: ["AWSPREVIOUS", "X"]}


def test_moving_awscurrent_onto_awspending(client: SecretsManagerClient) -> None:
    v1 = client.create_secret(Name="rot", SecretString="old")["VersionId"]
    v2 = client.put_secret_value(SecretId="rot", SecretString="new", VersionStages=["AWSPENDING"])[
        "VersionId"
    ]
    assert stages(client, "rot") == {v1: ["AWSCURRENT"], v2: ["AWSPENDING"]}
    client.update_secret_version_stage(
        SecretId="rot", VersionStage="AWSCURRENT", MoveToVersionId=v2, RemoveFromVersionId=v1
    )
    assert stages(client, "rot") == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT", "AWSPENDING"]}
    assert client.get_secret_value(SecretId="rot")["SecretString"] == "new"


def test_removing_labels(client: SecretsManagerClient, labelled: list[str], any_path: Path) -> None:
    v1, v2, v3 = labelled
    client.update_secret_version_stage(SecretId="st", VersionStage="X", RemoveFromVersionId=v3)
    assert stages(client, "st") == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}
    before = commits(any_path)
    with pytest.raises(client.exceptions.InvalidParameterException) as info:
        client.update_secret_version_stage(
            SecretId="st", VersionStage="AWSCURRENT", RemoveFromVersionId=v2
        )
    assert "MoveToVersionId" in error(info)[1]
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.update_secret_version_stage(SecretId="st", VersionStage="X")
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.update_secret_version_stage(SecretId="st", VersionStage="X", RemoveFromVersionId=v1)
    assert commits(any_path) == before


def test_label_moves_on_unknown_things(
    client: SecretsManagerClient, labelled: list[str], any_path: Path
) -> None:
    v1 = labelled[0]
    before = commits(any_path)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.update_secret_version_stage(
            SecretId="st", VersionStage="Y", MoveToVersionId="0" * 36
        )
    assert "0" * 36 in error(info)[1]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.update_secret_version_stage(
            SecretId="st", VersionStage="Y", MoveToVersionId=v1, RemoveFromVersionId="1" * 36
        )
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.update_secret_version_stage(SecretId="nope", VersionStage="Y", MoveToVersionId=v1)
    # Below the model's minimums (VersionId 32, a label 1): the core refuses them with
    # InvalidParameterException, boto3 with ParamValidationError before any request.
    for stage, move_to, problem in (("Y", "short", "MoveToVersionId"), ("", v1, "VersionStage")):
        with pytest.raises(errors.InvalidParameterException):
            client.store.update_secret_version_stage("st", stage, move_to_version_id=move_to)
        with pytest.raises(ParamValidationError, match=f"Invalid length for parameter {problem}"):
            client.update_secret_version_stage(
                SecretId="st", VersionStage=stage, MoveToVersionId=move_to
            )
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.update_secret_version_stage(
            SecretId="st", VersionStage="L" * 257, MoveToVersionId=v1
        )
    assert commits(any_path) == before
    # 256 characters is a valid label.
    client.update_secret_version_stage(SecretId="st", VersionStage="L" * 256, MoveToVersionId=v1)
    assert "L" * 256 in stages(client, "st")[v1]


# -- DeleteSecret / RestoreSecret -------------------------------------------------------------------


def test_delete_default_window_is_30_days(
    timed: SecretsManagerClient, clock: Clock, any_path: Path
) -> None:
    arn = timed.create_secret(Name="del", SecretString="x")["ARN"]
    before = commits(any_path)
    out = timed.delete_secret(SecretId="del")
    assert commits(any_path) == before + 1
    assert out["ARN"] == arn and out["Name"] == "del"
    assert out["DeletionDate"] == clock.now + timedelta(days=30)
    described = timed.describe_secret(SecretId="del")
    assert described["DeletedDate"] == clock.now
    assert git(any_path, "log", "-1", "--format=%s") == "DeleteSecret del\n"


@pytest.mark.parametrize("days", [7, 30])
def test_delete_window_bounds(timed: SecretsManagerClient, clock: Clock, days: int) -> None:
    timed.create_secret(Name="w", SecretString="x")
    out = timed.delete_secret(SecretId="w", RecoveryWindowInDays=days)
    assert out["DeletionDate"] == clock.now + timedelta(days=days)


def test_delete_window_out_of_range(client: SecretsManagerClient, any_path: Path) -> None:
    client.create_secret(Name="w", SecretString="x")
    before = commits(any_path)
    for days in (6, 31, 0, -7):
        with pytest.raises(client.exceptions.InvalidParameterException) as info:
            client.delete_secret(SecretId="w", RecoveryWindowInDays=days)
        assert "7" in error(info)[1] and "30" in error(info)[1]
    assert commits(any_path) == before
    assert "DeletedDate" not in client.describe_secret(SecretId="w")


def test_delete_with_both_window_and_force_is_refused(
    client: SecretsManagerClient, any_path: Path
) -> None:
    client.create_secret(Name="both", SecretString="x")
    before = commits(any_path)
    with pytest.raises(client.exceptions.InvalidParameterException) as info:
        client.delete_secret(
            SecretId="both", RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True
        )
    assert error(info)[1] == (
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
    )
    assert commits(any_path) == before
    assert client.get_secret_value(SecretId="both")["SecretString"] == "x"


def test_force_delete(client: SecretsManagerClient, any_path: Path) -> None:
    arn = client.create_secret(Name="force/me", SecretString="x")["ARN"]
    client.create_secret(Name="force/me/child", SecretString="y")
    before = commits(any_path)
    out = client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert out["ARN"] == arn and out["Name"] == "force/me"
    assert isinstance(out["DeletionDate"], datetime)
    assert commits(any_path) == before + 1
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_secret(SecretId="force/me")
    assert not [p for p in tree(any_path) if p.startswith(paths.secret_dir("force/me") + "/~")]
    # A secret nested below it is untouched.
    assert client.get_secret_value(SecretId="force/me/child")["SecretString"] == "y"
    assert {s["Name"] for s in client.list_secrets(IncludePlannedDeletion=True)["SecretList"]} == {
        "force/me/child"
    }
    # The name is free again at once, with a new ARN.
    again = client.create_secret(Name="force/me", SecretString="z")
    assert again["ARN"] != arn
    assert client.get_secret_value(SecretId="force/me")["SecretString"] == "z"


def test_force_delete_of_a_missing_secret_is_not_an_error(
    client: SecretsManagerClient, any_path: Path
) -> None:
    before = commits(any_path)
    out = client.delete_secret(SecretId="never/was", ForceDeleteWithoutRecovery=True)
    assert out["Name"] == "never/was"
    assert commits(any_path) == before
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_secret(SecretId="never/was")


def test_force_delete_of_a_pending_secret(client: SecretsManagerClient) -> None:
    client.create_secret(Name="pend", SecretString="x")
    client.delete_secret(SecretId="pend", RecoveryWindowInDays=7)
    client.delete_secret(SecretId="pend", ForceDeleteWithoutRecovery=True)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_secret(SecretId="pend")


def test_pending_secret_refuses_reads_and_writes(
    client: SecretsManagerClient, any_path: Path
) -> None:
    v1 = client.create_secret(Name="p", SecretString="x", Tags=[{"Key": "k", "Value": "v"}])[
        "VersionId"
    ]
    client.delete_secret(SecretId="p", RecoveryWindowInDays=7)
    before = commits(any_path)
    refused = {
        "GetSecretValue": lambda: client.get_secret_value(SecretId="p"),
        "GetSecretValue by id": lambda: client.get_secret_value(SecretId="p", VersionId=v1),
        "PutSecretValue": lambda: client.put_secret_value(SecretId="p", SecretString="y"),
        "UpdateSecret value": lambda: client.update_secret(SecretId="p", SecretString="y"),
        "UpdateSecret description": lambda: client.update_secret(SecretId="p", Description="d"),
        "UpdateSecretVersionStage": lambda: client.update_secret_version_stage(
            SecretId="p", VersionStage="X", MoveToVersionId=v1
        ),
        "TagResource": lambda: client.tag_resource(SecretId="p", Tags=[{"Key": "a", "Value": "b"}]),
        "UntagResource": lambda: client.untag_resource(SecretId="p", TagKeys=["k"]),
        "DeleteSecret again": lambda: client.delete_secret(SecretId="p"),
        "CreateSecret of its name": lambda: client.create_secret(Name="p", SecretString="y"),
    }
    for what, call in refused.items():
        with pytest.raises(client.exceptions.InvalidRequestException) as info:
            call()
        assert "delet" in error(info)[1], what
    assert commits(any_path) == before
    described = client.describe_secret(SecretId="p")
    assert isinstance(described["DeletedDate"], datetime)
    assert described["VersionIdsToStages"] == {v1: ["AWSCURRENT"]}


def test_restore(timed: SecretsManagerClient, clock: Clock, any_path: Path) -> None:
    arn = timed.create_secret(Name="r", SecretString="x")["ARN"]
    timed.delete_secret(SecretId="r")
    clock.advance(days=29)
    before = commits(any_path)
    out = timed.restore_secret(SecretId=arn)
    assert out == {"ARN": arn, "Name": "r", "ResponseMetadata": out["ResponseMetadata"]}
    assert commits(any_path) == before + 1
    assert git(any_path, "log", "-1", "--format=%s") == "RestoreSecret r\n"
    described = timed.describe_secret(SecretId="r")
    assert "DeletedDate" not in described
    assert described["LastChangedDate"] == clock.now
    assert timed.get_secret_value(SecretId="r")["SecretString"] == "x"
    timed.put_secret_value(SecretId="r", SecretString="y")
    # The window no longer applies after a restore.
    clock.advance(days=5)
    assert timed.get_secret_value(SecretId="r")["SecretString"] == "y"
    # Restoring a secret that is not pending changes nothing.
    before = commits(any_path)
    timed.restore_secret(SecretId="r")
    assert commits(any_path) == before
    with pytest.raises(timed.exceptions.ResourceNotFoundException):
        timed.restore_secret(SecretId="nope")


def test_expiry_after_the_window(timed: SecretsManagerClient, clock: Clock, any_path: Path) -> None:
    old = timed.create_secret(Name="exp/s", SecretString="old")
    timed.delete_secret(SecretId="exp/s", RecoveryWindowInDays=7)
    clock.advance(days=7, seconds=-1)
    assert "DeletedDate" in timed.describe_secret(SecretId="exp/s")
    clock.advance(seconds=1)
    before = commits(any_path)
    for call in (
        lambda: timed.describe_secret(SecretId="exp/s"),
        lambda: timed.get_secret_value(SecretId="exp/s"),
        lambda: timed.get_secret_value(SecretId=old["ARN"]),
        lambda: timed.restore_secret(SecretId="exp/s"),
        lambda: timed.put_secret_value(SecretId="exp/s", SecretString="x"),
        lambda: timed.delete_secret(SecretId="exp/s"),
        lambda: timed.list_secret_version_ids(SecretId="exp/s"),
    ):
        with pytest.raises(timed.exceptions.ResourceNotFoundException):
            call()
    assert timed.list_secrets(IncludePlannedDeletion=True)["SecretList"] == []
    out = timed.delete_secret(SecretId="exp/s", ForceDeleteWithoutRecovery=True)
    assert out["Name"] == "exp/s"
    assert commits(any_path) == before

    new = timed.create_secret(Name="exp/s", SecretString="new")
    assert new["ARN"] != old["ARN"]
    assert timed.get_secret_value(SecretId="exp/s")["SecretString"] == "new"
    assert timed.describe_secret(SecretId="exp/s")["VersionIdsToStages"] == {
        new["VersionId"]: ["AWSCURRENT"]
    }
    with pytest.raises(timed.exceptions.ResourceNotFoundException):
        timed.get_secret_value(SecretId="exp/s", VersionId=old["VersionId"])
    with pytest.raises(timed.exceptions.ResourceNotFoundException):
        timed.get_secret_value(SecretId=old["ARN"])
    assert paths.version_path("exp/s", old["VersionId"]) not in tree(any_path)
    assert "DeletedDate" not in timed.describe_secret(SecretId="exp/s")


def test_purge_removes_expired_secrets(
    timed: SecretsManagerClient, clock: Clock, any_path: Path
) -> None:
    vid = timed.create_secret(Name="purge/me", SecretString="x")["VersionId"]
    timed.create_secret(Name="purge/me/not", SecretString="y")
    timed.delete_secret(SecretId="purge/me", RecoveryWindowInDays=7)
    assert paths.version_path("purge/me", vid) in tree(any_path)
    clock.advance(days=8)
    assert timed.store.purge_deleted_secrets() == ["purge/me"]
    listing = tree(any_path)
    assert paths.version_path("purge/me", vid) not in listing
    assert paths.manifest_path("purge/me") not in listing
    assert paths.manifest_path("purge/me/not") in listing
    assert timed.get_secret_value(SecretId="purge/me/not")["SecretString"] == "y"
    before = commits(any_path)
    assert timed.store.purge_deleted_secrets() == []
    assert commits(any_path) == before


# -- TagResource / UntagResource --------------------------------------------------------------------


def tags_of(client: SecretsManagerClient, name: str) -> list[tuple[str, str]]:
    return [(t["Key"], t["Value"]) for t in client.describe_secret(SecretId=name).get("Tags", [])]


def test_tag_appends_and_overwrites(client: SecretsManagerClient, any_path: Path) -> None:
    client.create_secret(Name="tg", SecretString="x", Tags=[{"Key": "a", "Value": "1"}])
    before = commits(any_path)
    assert client.tag_resource(SecretId="tg", Tags=[{"Key": "b", "Value": "2"}]).keys() == {
        "ResponseMetadata"
    }
    assert tags_of(client, "tg") == [("a", "1"), ("b", "2")]
    client.tag_resource(SecretId="tg", Tags=[{"Key": "a", "Value": "3"}, {"Key": "c", "Value": ""}])
    assert tags_of(client, "tg") == [("a", "3"), ("b", "2"), ("c", "")]
    assert commits(any_path) == before + 2
    assert git(any_path, "log", "-1", "--format=%s") == "TagResource tg\n"
    client.tag_resource(SecretId="tg", Tags=[{"Key": "a", "Value": "3"}])
    assert commits(any_path) == before + 2


def test_untag(client: SecretsManagerClient, any_path: Path) -> None:
    tags = [{"Key": k, "Value": k.upper()} for k in ("a", "b", "c")]
    client.create_secret(Name="ut", SecretString="x", Tags=tags)
    before = commits(any_path)
    client.untag_resource(SecretId="ut", TagKeys=["b", "not-there"])
    assert tags_of(client, "ut") == [("a", "A"), ("c", "C")]
    assert commits(any_path) == before + 1
    assert git(any_path, "log", "-1", "--format=%s") == "UntagResource ut\n"
    client.untag_resource(SecretId="ut", TagKeys=["not-there"])
    assert commits(any_path) == before + 1
    client.untag_resource(SecretId="ut", TagKeys=["a", "c"])
    # A secret that had tags answers "Tags": [] once the last one is removed, as AWS does;
    # a secret never tagged has no Tags at all (test_aws_prefix_is_refused).
    assert client.describe_secret(SecretId="ut")["Tags"] == []
    assert client.list_secrets()["SecretList"][0]["Tags"] == []


def test_aws_prefix_is_refused(client: SecretsManagerClient, any_path: Path) -> None:
    client.create_secret(Name="ap", SecretString="x")
    before = commits(any_path)
    for key in ("aws:owner", "aws:", "AWS:Owner"):
        with pytest.raises(client.exceptions.InvalidParameterException) as info:
            client.tag_resource(SecretId="ap", Tags=[{"Key": key, "Value": "v"}])
        assert "aws:" in error(info)[1]
        with pytest.raises(client.exceptions.InvalidParameterException):
            client.create_secret(Name="ap2", SecretString="x", Tags=[{"Key": key, "Value": "v"}])
    assert commits(any_path) == before
    assert "Tags" not in client.describe_secret(SecretId="ap")


def test_more_than_50_tags_is_refused(client: SecretsManagerClient, any_path: Path) -> None:
    fifty = [{"Key": f"k{i:02d}", "Value": str(i)} for i in range(50)]
    client.create_secret(Name="t50", SecretString="x", Tags=fifty)
    assert len(tags_of(client, "t50")) == 50
    before = commits(any_path)
    with pytest.raises(client.exceptions.InvalidParameterException) as info:
        client.tag_resource(SecretId="t50", Tags=[{"Key": "one-more", "Value": "v"}])
    assert "50" in error(info)[1]
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.create_secret(
            Name="t51", SecretString="x", Tags=[*fifty, {"Key": "one-more", "Value": "v"}]
        )
    assert commits(any_path) == before
    # Overwriting an existing key keeps 50 and is fine.
    client.tag_resource(SecretId="t50", Tags=[{"Key": "k00", "Value": "new"}])
    assert tags_of(client, "t50")[0] == ("k00", "new")


def test_tags_on_missing_secret(client: SecretsManagerClient) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.tag_resource(SecretId="nope", Tags=[{"Key": "a", "Value": "b"}])
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.untag_resource(SecretId="nope", TagKeys=["a"])
