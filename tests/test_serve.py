"""``gitsm serve`` through boto3: every operation of the client, its errors and AWS's messages.

One real server process per module (``gitsm serve --test-reset --port 0``), real boto3 clients
with an endpoint_url and dummy credentials; each test uses its own secret names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving import Served, kill_quietly, make_store, store_env

TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("serve")
    repo, home = make_store(base)
    server = Served(repo, home, "--test-reset", "--port", "0", log=base / "access.log")
    yield server
    kill_quietly(server.proc)


@pytest.fixture(scope="module")
def sm(served: Served) -> Any:
    return served.client()


def test_create_get_put_update_describe(sm: Any) -> None:
    created = sm.create_secret(Name="app/db", SecretString="s3cret-one", Description="d",
                               ClientRequestToken=TOKEN, Tags=[{"Key": "team", "Value": "a"}])  # fmt: skip
    assert created["Name"] == "app/db"
    assert created["VersionId"] == TOKEN
    assert created["ARN"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-")
    got = sm.get_secret_value(SecretId="app/db")
    assert got["SecretString"] == "s3cret-one"
    assert got["VersionStages"] == ["AWSCURRENT"]
    put = sm.put_secret_value(SecretId=created["ARN"], SecretString="s3cret-two")
    assert put["VersionStages"] == ["AWSCURRENT"]
    assert sm.get_secret_value(SecretId="app/db")["SecretString"] == "s3cret-two"
    previous = sm.get_secret_value(SecretId="app/db", VersionStage="AWSPREVIOUS")
    assert previous["SecretString"] == "s3cret-one"
    by_id = sm.get_secret_value(SecretId="app/db", VersionId=TOKEN)
    assert by_id["VersionStages"] == ["AWSPREVIOUS"]
    sm.update_secret(SecretId="app/db", Description="new words")
    described = sm.describe_secret(SecretId="app/db")
    assert described["Description"] == "new words"
    assert described["Tags"] == [{"Key": "team", "Value": "a"}]
    assert described["VersionIdsToStages"][TOKEN] == ["AWSPREVIOUS"]
    assert described["CreatedDate"].year >= 2024


def test_binary_values_round_trip(sm: Any) -> None:
    value = bytes(range(256)) * 3
    sm.create_secret(Name="bin/blob", SecretBinary=value)
    got = sm.get_secret_value(SecretId="bin/blob")
    assert got["SecretBinary"] == value
    assert "SecretString" not in got
    sm.put_secret_value(SecretId="bin/blob", SecretBinary=b"\x00")
    assert sm.get_secret_value(SecretId="bin/blob")["SecretBinary"] == b"\x00"


def test_errors_arrive_as_boto3_exceptions_with_aws_messages(sm: Any) -> None:
    with pytest.raises(sm.exceptions.ResourceNotFoundException) as missing:
        sm.get_secret_value(SecretId="no/such")
    assert missing.value.response["Error"]["Message"] == (
        "Secrets Manager can't find the specified secret."
    )
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    sm.create_secret(Name="err/dup", SecretString="x")
    with pytest.raises(sm.exceptions.ResourceExistsException) as exists:
        sm.create_secret(Name="err/dup", SecretString="y")
    assert exists.value.response["Error"]["Message"] == (
        "The operation failed because the secret err/dup already exists."
    )
    with pytest.raises(sm.exceptions.InvalidRequestException) as neither:
        sm.put_secret_value(SecretId="err/dup")
    assert "SecretString or SecretBinary" in neither.value.response["Error"]["Message"]


def test_service_side_checks_answer_like_the_service(served: Served) -> None:
    """With botocore's own validation off, values below the minimums reach the server, which
    answers with the service's error (not botocore's client-side report)."""
    loose = served.client(parameter_validation=False)
    loose.create_secret(Name="loose/one", SecretString="x")
    with pytest.raises(loose.exceptions.InvalidParameterException) as short:
        loose.put_secret_value(SecretId="loose/one", SecretString="y", ClientRequestToken="short")
    assert short.value.response["Error"]["Message"] == (
        "ClientRequestToken must be 32-64 characters long."
    )


def test_list_with_paginator_and_versions(sm: Any) -> None:
    for i in range(5):
        sm.create_secret(Name=f"page/s{i}", SecretString=f"v{i}")
    pages = list(sm.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "name", "Values": ["page/"]}], PaginationConfig={"PageSize": 2}))  # fmt: skip
    names = [s["Name"] for p in pages for s in p["SecretList"]]
    assert sorted(names) == [f"page/s{i}" for i in range(5)]
    assert len(pages) == 3
    sm.put_secret_value(SecretId="page/s0", SecretString="again")
    versions = sm.list_secret_version_ids(SecretId="page/s0")
    assert len(versions["Versions"]) == 2
    assert versions["Name"] == "page/s0"
    assert all(isinstance(v["CreatedDate"].year, int) for v in versions["Versions"])


def test_update_version_stage(sm: Any) -> None:
    first = sm.create_secret(Name="stage/a", SecretString="one")["VersionId"]
    second = sm.put_secret_value(SecretId="stage/a", SecretString="two")["VersionId"]
    sm.update_secret_version_stage(SecretId="stage/a", VersionStage="AWSCURRENT",
                                   MoveToVersionId=first, RemoveFromVersionId=second)  # fmt: skip
    assert sm.get_secret_value(SecretId="stage/a")["SecretString"] == "one"
    with pytest.raises(sm.exceptions.InvalidParameterException) as exc:
        sm.update_secret_version_stage(SecretId="stage/a", VersionStage="AWSCURRENT",
                                       MoveToVersionId=second)  # fmt: skip
    assert "RemoveFromVersionId can't be empty" in exc.value.response["Error"]["Message"]


def test_tags(sm: Any) -> None:
    sm.create_secret(Name="tags/a", SecretString="x")
    sm.tag_resource(SecretId="tags/a", Tags=[{"Key": "k1", "Value": "v1"},
                                             {"Key": "k2", "Value": "v2"}])  # fmt: skip
    sm.untag_resource(SecretId="tags/a", TagKeys=["k1"])
    assert sm.describe_secret(SecretId="tags/a")["Tags"] == [{"Key": "k2", "Value": "v2"}]


def test_delete_and_restore(sm: Any) -> None:
    sm.create_secret(Name="del/a", SecretString="x")
    deleted = sm.delete_secret(SecretId="del/a", RecoveryWindowInDays=7)
    assert deleted["DeletionDate"].year >= 2024
    with pytest.raises(sm.exceptions.InvalidRequestException) as marked:
        sm.get_secret_value(SecretId="del/a")
    assert "marked for deletion" in marked.value.response["Error"]["Message"]
    sm.restore_secret(SecretId="del/a")
    assert sm.get_secret_value(SecretId="del/a")["SecretString"] == "x"
    sm.delete_secret(SecretId="del/a", ForceDeleteWithoutRecovery=True)
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId="del/a")


def test_resource_policies(sm: Any) -> None:
    arn = sm.create_secret(Name="pol/a", SecretString="x")["ARN"]
    none = sm.get_resource_policy(SecretId="pol/a")  # Terraform needs 200 {ARN, Name}
    assert {k: v for k, v in none.items() if k != "ResponseMetadata"} == {
        "ARN": arn,
        "Name": "pol/a",
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})  # fmt: skip
    assert sm.validate_resource_policy(ResourcePolicy=policy)["PolicyValidationPassed"] is True
    sm.put_resource_policy(SecretId="pol/a", ResourcePolicy=policy)
    assert json.loads(sm.get_resource_policy(SecretId="pol/a")["ResourcePolicy"]) == json.loads(
        policy
    )
    sm.delete_resource_policy(SecretId="pol/a")
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId="pol/a")


def test_random_password_is_never_cached(sm: Any) -> None:
    first = sm.get_random_password(PasswordLength=40)["RandomPassword"]
    second = sm.get_random_password(PasswordLength=40)["RandomPassword"]
    assert len(first) == 40
    assert first != second


def test_batch_get(sm: Any) -> None:
    sm.create_secret(Name="batch/a", SecretString="va")
    sm.create_secret(Name="batch/b", SecretString="vb")
    out = sm.batch_get_secret_value(SecretIdList=["batch/a", "batch/b", "batch/none"])
    assert {v["Name"]: v["SecretString"] for v in out["SecretValues"]} == {
        "batch/a": "va", "batch/b": "vb"}  # fmt: skip
    assert [e["ErrorCode"] for e in out["Errors"]] == ["ResourceNotFoundException"]
    filtered = sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": ["batch/"]}])
    assert len(filtered["SecretValues"]) == 2


def test_rotation_errors_come_through(sm: Any) -> None:
    sm.create_secret(Name="rot/a", SecretString="x")
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.cancel_rotate_secret(SecretId="rot/none")
    with pytest.raises(sm.exceptions.ClientError) as rotation:
        sm.rotate_secret(SecretId="rot/a", RotationLambdaARN="no-such-function")
    assert rotation.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "no-such-function" in rotation.value.response["Error"]["Message"]


def test_replication_through_the_endpoint(served: Served, sm: Any) -> None:
    """A replica is the secret answered in the Region a request is signed for (SigV4's scope):
    read there under the replica ARN, refused for writes with AWS's words."""
    arn = sm.create_secret(Name="rep/a", SecretString="x")["ARN"]
    out = sm.replicate_secret_to_regions(SecretId=arn, AddReplicaRegions=[{"Region": "eu-west-1"}])
    assert out["ARN"] == arn
    assert out["ReplicationStatus"] == [{"Region": "eu-west-1", "KmsKeyId": "alias/aws/secretsmanager",
                                         "Status": "InSync", "StatusMessage": "Replication succeeded"}]  # fmt: skip
    west = served.client(region="eu-west-1")
    replica = arn.replace(":us-east-1:", ":eu-west-1:")
    assert west.get_secret_value(SecretId=replica)["ARN"] == replica
    described = west.describe_secret(SecretId="rep/a")
    assert (described["ARN"], described["PrimaryRegion"]) == (replica, "us-east-1")
    assert "ReplicationStatus" not in described
    with pytest.raises(west.exceptions.InvalidParameterException) as refused:
        west.put_secret_value(SecretId=replica, SecretString="y")
    assert refused.value.response["Error"]["Message"] == (
        "Operation not permitted on a replica secret. Call must be made in primary secret's region."
    )
    with pytest.raises(sm.exceptions.InvalidParameterException) as undeletable:
        sm.delete_secret(SecretId=arn)
    assert undeletable.value.response["Error"]["Message"] == (
        f"You can't delete secret {arn} that still has replica regions [eu-west-1]."
    )
    with pytest.raises(west.exceptions.InvalidRequestException):
        west.stop_replication_to_replica(SecretId=replica)
    left = sm.remove_regions_from_replication(SecretId=arn, RemoveReplicaRegions=["eu-west-1"])
    assert left["ReplicationStatus"] == []
    with pytest.raises(west.exceptions.ResourceNotFoundException):
        west.describe_secret(SecretId=replica)


def test_region_of_the_signature_goes_into_arns(served: Served) -> None:
    west = served.client(region="eu-west-1")
    arn = west.create_secret(Name="region/a", SecretString="x")["ARN"]
    assert arn.startswith("arn:aws:secretsmanager:eu-west-1:123456789012:secret:region/a-")
    assert west.describe_secret(SecretId=arn)["ARN"] == arn


def test_write_by_another_process_is_seen_at_once(served: Served, sm: Any) -> None:
    sm.create_secret(Name="other/a", SecretString="before")
    for _ in range(3):  # cached now
        assert sm.get_secret_value(SecretId="other/a")["SecretString"] == "before"
    subprocess.run(
        [sys.executable, "-m", "gitsm", "--repo", str(served.repo), "put-secret-value",
         "--secret-id", "other/a", "--secret-string", "after"],
        env=store_env(served.home), check=True, capture_output=True,
    )  # fmt: skip
    assert sm.get_secret_value(SecretId="other/a")["SecretString"] == "after"


def test_health(served: Served) -> None:
    import urllib.request

    with urllib.request.urlopen(served.url + "/health", timeout=5) as answer:
        data = json.loads(answer.read())
    tip = subprocess.run(["git", "--git-dir", str(served.repo), "rev-parse", "main"],
                         capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert data == {"status": "ok", "branch": "main", "tip": tip}


def test_access_log_never_holds_a_value(served: Served, sm: Any) -> None:
    values = ["log-value-4f1c9a", "log-value-88e02b"]
    sm.create_secret(Name="log/a", SecretString=values[0])
    sm.put_secret_value(SecretId="log/a", SecretString=values[1])
    sm.get_secret_value(SecretId="log/a")
    sm.batch_get_secret_value(SecretIdList=["log/a"])
    log = Path(str(served.repo).replace("store.git", "access.log")).read_text()
    lines = [json.loads(line) for line in log.splitlines()]
    assert any(e["operation"] == "PutSecretValue" and e["secret_id"] == "log/a" for e in lines)
    for value in values:
        assert value not in log
    assert (
        Path(str(served.repo).replace("store.git", "access.log")).stat().st_mode & 0o777
    ) == 0o600


def test_read_your_writes_under_concurrency(served: Served) -> None:
    """Clients writing and reading at once, each its own secret: a read after an acknowledged
    write always sees it, though other writes keep moving the tip and the cache."""
    import threading

    failures: list[str] = []

    def worker(n: int) -> None:
        sm = served.client()
        sm.create_secret(Name=f"ryw/s{n}", SecretString="0")
        for i in range(1, 16):
            sm.put_secret_value(SecretId=f"ryw/s{n}", SecretString=str(i))
            for _ in range(2):
                got = sm.get_secret_value(SecretId=f"ryw/s{n}")["SecretString"]
                if got != str(i):
                    failures.append(f"s{n}: wrote {i}, read {got}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    assert all(not t.is_alive() for t in threads)
