"""``gitsm serve`` as its clients call it: the call sequences of External Secrets Operator's AWS
Secrets Manager provider and of Terraform's aws provider, replayed through boto3 over HTTP against a
real server process (tests/servekit.py).

Each test names the client's source file whose calls it replays, with the parameters that file
sends (the Go SDK's input structs; boto3 sends the same JSON members):

- External Secrets Operator: ``providers/v1/aws/secretsmanager/secretsmanager.go`` of
  external-secrets/external-secrets (the v2.9.0 chart release's tree).
- Terraform: ``internal/service/secretsmanager/secret.go``, ``secret_policy.go`` and
  ``secret_version.go`` of hashicorp/terraform-provider-aws.
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.servekit import Server, serving

ESO_TOKEN = "00000000-0000-0000-0000-000000000001"  # secretsmanager.go: initialVersion
ESO_TAG = {"Key": "managed-by", "Value": "external-secrets"}
ESO_DESCRIPTION = "secret 'managed-by:external-secrets'"  # constructMetadataWithDefaults
ESO_KMS = "alias/aws/secretsmanager"  # constructMetadataWithDefaults' default KMSKeyID
FOUND = 101  # one more than a ListSecrets page without MaxResults (AWS's default, 100)
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "ReadOnly", "Effect": "Allow",
                   "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                   "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
}  # fmt: skip
_counter = itertools.count(1)


def terraform_unique_id() -> str:
    """What terraform-plugin-sdk's ``id.UniqueId()`` returns, which the provider sends as
    ClientRequestToken: ``terraform-`` + UTC time to 1/10,000 s + an 8-hex-digit counter."""
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 100:04d}"
    return f"terraform-{stamp}{next(_counter):08x}"


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    """The AWS error code of a failed call."""
    return str(error.value.response["Error"]["Code"])


def body(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer without boto3's ResponseMetadata."""
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


def every_page(call: Any, max_pages: int = 50, **params: Any) -> list[dict[str, Any]]:
    """Every page of a paged call, as the Go SDK's paginators and ESO's loops read them: NextToken
    passed back until an answer has none (an empty token, or one more page than ``max_pages``,
    fails the test rather than looping)."""
    pages: list[dict[str, Any]] = []
    token = None
    while True:
        page = call(**params, **({"NextToken": token} if token is not None else {}))
        pages.append(page)
        token = page.get("NextToken")
        if token is None:
            return pages
        assert token and len(pages) < max_pages, f"NextToken {token!r} after {len(pages)} pages"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module; each test uses names of its own."""
    with serving(tmp_path_factory.mktemp("serve")) as running:
        yield running


@pytest.fixture(scope="module")
def sm(server: Server) -> Any:
    """A boto3 secretsmanager client on the server (making one costs ~0.1 s: one per module)."""
    return server.client()


@pytest.fixture(scope="module")
def found(sm: Any) -> dict[str, bytes]:
    """``FOUND`` secrets under ``eso/find/`` tagged team=payments, as ExternalSecret ``find``
    queries meet them: name -> value."""
    client = sm
    values = {f"eso/find/{i:03d}": f"value-{i}".encode() for i in range(FOUND)}
    for name, value in values.items():
        client.create_secret(Name=name, SecretBinary=value, Tags=[
            {"Key": "team", "Value": "payments"}, ESO_TAG])  # fmt: skip
    client.create_secret(Name="eso/elsewhere", SecretString="x", Tags=[
        {"Key": "team", "Value": "other"}])  # fmt: skip
    return values


# -- External Secrets Operator ------------------------------------------------------------------


def test_eso_reads_a_value_by_stage_and_by_version_id(sm: Any) -> None:
    """ExternalSecret ``remoteRef.version``: constructSecretValue sends GetSecretValue with
    VersionStage (default AWSCURRENT) or, for ``uuid/<id>``, with VersionId
    (secretsmanager.go, constructSecretValue)."""
    first = sm.create_secret(Name="eso/read/db", SecretString='{"password":"one"}')
    second = sm.put_secret_value(SecretId="eso/read/db", SecretString='{"password":"two"}')
    current = sm.get_secret_value(SecretId="eso/read/db", VersionStage="AWSCURRENT")
    assert current["SecretString"] == '{"password":"two"}'
    assert current["VersionId"] == second["VersionId"] and current["Name"] == "eso/read/db"
    assert current["ARN"] == first["ARN"] and current["VersionStages"] == ["AWSCURRENT"]
    assert isinstance(current["CreatedDate"], datetime)
    previous = sm.get_secret_value(SecretId="eso/read/db", VersionStage="AWSPREVIOUS")
    assert previous["SecretString"] == '{"password":"one"}'
    by_id = sm.get_secret_value(SecretId="eso/read/db", VersionId=first["VersionId"])
    assert by_id["SecretString"] == '{"password":"one"}' and "SecretBinary" not in by_id
    assert by_id["VersionStages"] == ["AWSPREVIOUS"]
    with pytest.raises(ClientError) as missing:  # ESO maps this code to "no secret"
        sm.get_secret_value(SecretId="eso/read/none", VersionStage="AWSCURRENT")
    assert code(missing) == "ResourceNotFoundException"


def test_eso_metadata_policy_fetch_reads_the_tags(sm: Any) -> None:
    """``metadataPolicy: Fetch``: DescribeSecret, whose Tags become the value, with its ARN,
    Name and CreatedDate (secretsmanager.go, constructSecretValue)."""
    made = sm.create_secret(Name="eso/meta/app", SecretString="v", Tags=[
        {"Key": "owner", "Value": "team-a"}, {"Key": "tier", "Value": "gold"}])  # fmt: skip
    described = sm.describe_secret(SecretId="eso/meta/app")
    assert described["ARN"] == made["ARN"] and described["Name"] == "eso/meta/app"
    assert isinstance(described["CreatedDate"], datetime)
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert tags == {"owner": "team-a", "tier": "gold"}


def test_eso_find_by_name_lists_every_page(sm: Any, found: dict[str, bytes]) -> None:
    """``find.name`` without a path: ListSecrets with Filters and NextToken until no NextToken
    (no MaxResults), then GetSecretValue of every name that matches (secretsmanager.go,
    findByName and fetchAndSet)."""
    filters = [{"Key": "name", "Values": ["eso/find/"]}]
    pages = every_page(sm.list_secrets, Filters=filters)
    names = [s["Name"] for page in pages for s in page["SecretList"]]
    assert len(pages) >= 2 and sorted(names) == sorted(found)
    data = {n: sm.get_secret_value(SecretId=n, VersionStage="AWSCURRENT")["SecretBinary"]
            for n in names}  # fmt: skip
    assert data == found


def test_eso_find_by_tags_reads_every_batch_page(sm: Any, found: dict[str, bytes]) -> None:
    """``find.tags`` (and ``find.path``): BatchGetSecretValue with tag-key and tag-value filters
    per tag (plus a name filter for the path) and NextToken until none, no MaxResults
    (secretsmanager.go, findByTags and fetchWithBatch)."""
    filters = [{"Key": "tag-key", "Values": ["team"]}, {"Key": "tag-value", "Values": ["payments"]},
               {"Key": "name", "Values": ["eso/find/"]}]  # fmt: skip
    data: dict[str, bytes] = {}
    pages = every_page(sm.batch_get_secret_value, Filters=filters)
    for page in pages:
        assert page["Errors"] == []
        for entry in page["SecretValues"]:
            assert entry["Name"] not in data
            data[entry["Name"]] = entry["SecretBinary"]
    assert len(pages) >= 2 and data == found


def test_eso_push_secret_creates_then_updates_the_secret(sm: Any) -> None:
    """PushSecret: DescribeSecret (not found) -> CreateSecret with SecretBinary, the fixed
    ClientRequestToken, the managed-by tag, ESO's default description and KmsKeyId; the next push:
    DescribeSecret, GetSecretValue, DeleteResourcePolicy on a secret without a policy (no error:
    manageResourcePolicy runs on every push), PutSecretValue with a new token; a push of the same
    value writes nothing (secretsmanager.go, PushSecret, createSecretWithContext,
    putSecretValueWithContext, deleteResourcePolicy)."""
    name = "eso/push/api-key"
    with pytest.raises(ClientError) as missing:
        sm.describe_secret(SecretId=name)
    assert code(missing) == "ResourceNotFoundException"
    made = sm.create_secret(Name=name, SecretBinary=b"first", Tags=[ESO_TAG],
                            Description=ESO_DESCRIPTION, ClientRequestToken=ESO_TOKEN,
                            KmsKeyId=ESO_KMS)  # fmt: skip
    assert made["VersionId"] == ESO_TOKEN and made["Name"] == name

    def push(value: bytes) -> str | None:
        described = sm.describe_secret(SecretId=name)
        assert ESO_TAG in described["Tags"] and described["VersionIdsToStages"]  # isManagedByESO
        current = sm.get_secret_value(SecretId=name)
        deleted = sm.delete_resource_policy(SecretId=name)
        assert body(deleted) == {"ARN": made["ARN"], "Name": name}
        if current.get("SecretBinary") == value:
            return None
        put = sm.put_secret_value(SecretId=name, SecretBinary=value,
                                  ClientRequestToken=str(uuid.uuid4()))  # fmt: skip
        return str(put["VersionId"])

    second = push(b"second")
    assert second is not None and push(b"second") is None
    now = sm.get_secret_value(SecretId=name)
    assert now["SecretBinary"] == b"second" and now["VersionId"] == second
    versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert {v["VersionId"]: v["VersionStages"] for v in versions} == {
        second: ["AWSCURRENT"], ESO_TOKEN: ["AWSPREVIOUS"]}  # fmt: skip


def test_eso_deletes_a_pushed_secret(sm: Any) -> None:
    """PushSecret deletion policy: GetSecretValue, DescribeSecret (managed-by), DeleteSecret by
    the ARN GetSecretValue gave (secretsmanager.go, DeleteSecret); afterwards the secret is
    marked for deletion, as AWS words it."""
    name = "eso/push/gone"
    sm.create_secret(Name=name, SecretBinary=b"x", Tags=[ESO_TAG], ClientRequestToken=ESO_TOKEN)
    arn = sm.get_secret_value(SecretId=name)["ARN"]
    assert ESO_TAG in sm.describe_secret(SecretId=name)["Tags"]
    deleted = sm.delete_secret(SecretId=arn)
    assert deleted["ARN"] == arn and isinstance(deleted["DeletionDate"], datetime)
    with pytest.raises(ClientError) as marked:
        sm.get_secret_value(SecretId=name)
    assert code(marked) == "InvalidRequestException"
    assert "marked for deletion" in marked.value.response["Error"]["Message"]


# -- Terraform: aws_secretsmanager_secret --------------------------------------------------------


def terraform_read(sm: Any, arn: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """resourceSecretRead: DescribeSecret (a DeletedDate reads as gone) and GetResourcePolicy,
    which must succeed (secret.go, findSecretByID; secret_policy.go, findSecretPolicyByID)."""
    described = sm.describe_secret(SecretId=arn)
    assert "DeletedDate" not in described
    return described, body(sm.get_resource_policy(SecretId=arn))


def test_terraform_secret_create_read_update_destroy(sm: Any) -> None:
    """aws_secretsmanager_secret (secret.go): create = CreateSecret (ClientRequestToken from
    id.UniqueId, Description always sent, Tags) + DescribeSecret until found + PutResourcePolicy
    with the normalized policy; read = DescribeSecret + GetResourcePolicy; update = UpdateSecret
    (a new token, Description, no value), TagResource/UntagResource, PutResourcePolicy of a changed
    policy, then DeleteResourcePolicy when the policy is removed; destroy = DeleteSecret (RecoveryWindowInDays 30) then DescribeSecret until DeletedDate."""
    made = sm.create_secret(ClientRequestToken=terraform_unique_id(), Description="",
                            Name="tf/app/db", Tags=[{"Key": "env", "Value": "prod"}])  # fmt: skip
    arn = made["ARN"]
    assert "VersionId" not in made  # no value: no version
    sm.put_resource_policy(ResourcePolicy=json.dumps(POLICY, separators=(",", ":")), SecretId=arn)
    described, policy = terraform_read(sm, arn)
    assert described["Name"] == "tf/app/db"
    assert described["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert described.get("Description", "") == "" and "ReplicationStatus" not in described
    assert policy["ARN"] == arn and policy["Name"] == "tf/app/db"
    assert json.loads(policy["ResourcePolicy"]) == POLICY

    updated = sm.update_secret(ClientRequestToken=terraform_unique_id(),
                               Description="the app's database", SecretId=arn)  # fmt: skip
    assert body(updated) == {"ARN": arn, "Name": "tf/app/db"}
    sm.untag_resource(SecretId=arn, TagKeys=["env"])
    sm.tag_resource(SecretId=arn, Tags=[{"Key": "env", "Value": "staging"}])
    changed = {**POLICY, "Statement": [{**POLICY["Statement"][0], "Sid": "ReadOnlyToo"}]}
    sm.put_resource_policy(ResourcePolicy=json.dumps(changed, separators=(",", ":")), SecretId=arn)
    assert json.loads(terraform_read(sm, arn)[1]["ResourcePolicy"]) == changed
    assert body(sm.delete_resource_policy(SecretId=arn)) == {"ARN": arn, "Name": "tf/app/db"}
    described, policy = terraform_read(sm, arn)
    assert described["Description"] == "the app's database"
    assert described["Tags"] == [{"Key": "env", "Value": "staging"}]
    assert policy == {"ARN": arn, "Name": "tf/app/db"}  # no ResourcePolicy: "no policy"

    deleted = sm.delete_secret(SecretId=arn, RecoveryWindowInDays=30)
    assert deleted["ARN"] == arn
    assert isinstance(sm.describe_secret(SecretId=arn)["DeletedDate"], datetime)
    with pytest.raises(ClientError) as marked:  # findSecretPolicyByID reads this as gone
        sm.get_resource_policy(SecretId=arn)
    assert code(marked) == "InvalidRequestException"
    assert "because it was marked for deletion" in marked.value.response["Error"]["Message"]


def test_terraform_secret_without_policy_reads_arn_and_name(sm: Any) -> None:
    """resourceSecretRead on a secret without a policy: GetResourcePolicy answers 200 with ARN
    and Name only (a not-found error would fail the read); recovery_window_in_days = 0 destroys
    with ForceDeleteWithoutRecovery, after which DescribeSecret is not found (secret.go)."""
    arn = sm.create_secret(ClientRequestToken=terraform_unique_id(), Description="plain",
                           Name="tf/app/plain")["ARN"]  # fmt: skip
    described, policy = terraform_read(sm, arn)
    assert policy == {"ARN": arn, "Name": "tf/app/plain"}
    assert described["Description"] == "plain" and "Tags" not in described
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as gone:
        sm.describe_secret(SecretId=arn)
    assert code(gone) == "ResourceNotFoundException"


# -- Terraform: aws_secretsmanager_secret_version -----------------------------------------------


def terraform_version_read(sm: Any, secret: str, version: str) -> dict[str, Any]:
    """resourceSecretVersionRead: GetSecretValue by SecretId and VersionId (secret_version.go,
    findSecretVersionByTwoPartKey)."""
    return body(sm.get_secret_value(SecretId=secret, VersionId=version))


def current_version(sm: Any, secret: str) -> str:
    """The AWSCURRENT version, found as resourceSecretVersionUpdate finds it: every page of
    ListSecretVersionIds (the SDK's paginator, no MaxResults)."""
    for page in every_page(sm.list_secret_version_ids, SecretId=secret):
        for version in page["Versions"]:
            if "AWSCURRENT" in version["VersionStages"]:
                return str(version["VersionId"])
    raise AssertionError("no AWSCURRENT version")


def test_terraform_secret_version_lifecycle(sm: Any) -> None:
    """aws_secretsmanager_secret_version (secret_version.go): create = PutSecretValue
    (ClientRequestToken from id.UniqueId, SecretString or SecretBinary, VersionStages when set)
    then GetSecretValue by VersionId; update of version_stages = ListSecretVersionIds (paged) to
    find AWSCURRENT, then UpdateSecretVersionStage moving it; delete = UpdateSecretVersionStage
    removing each label but AWSCURRENT."""
    secret = sm.create_secret(ClientRequestToken=terraform_unique_id(), Description="",
                              Name="tf/version/app")["ARN"]  # fmt: skip
    token = terraform_unique_id()
    one = sm.put_secret_value(ClientRequestToken=token, SecretId=secret, SecretString="one")
    assert one["VersionId"] == token and one["VersionStages"] == ["AWSCURRENT"]
    read = terraform_version_read(sm, secret, one["VersionId"])
    assert read["SecretString"] == "one" and read["VersionStages"] == ["AWSCURRENT"]
    raw = base64.b64decode(base64.b64encode(b"\x00\xffbinary"))  # secret_binary is base64
    two = sm.put_secret_value(ClientRequestToken=terraform_unique_id(), SecretId=secret,
                              SecretBinary=raw, VersionStages=["blue"])  # fmt: skip
    assert two["VersionStages"] == ["blue"]
    assert terraform_version_read(sm, secret, two["VersionId"])["SecretBinary"] == raw

    for size in (1, None):  # the paginator across one-version pages, then as Terraform pages
        pages = every_page(sm.list_secret_version_ids, SecretId=secret,
                           **({"MaxResults": size} if size else {}))  # fmt: skip
        ids = [v["VersionId"] for p in pages for v in p["Versions"]]
        assert sorted(ids) == sorted([one["VersionId"], two["VersionId"]])
        assert len(pages) == (2 if size else 1)

    # version_stages = ["AWSCURRENT", "blue"] on the second version
    sm.update_secret_version_stage(MoveToVersionId=two["VersionId"], SecretId=secret,
                                   VersionStage="AWSCURRENT",
                                   RemoveFromVersionId=current_version(sm, secret))  # fmt: skip
    assert sorted(terraform_version_read(sm, secret, two["VersionId"])["VersionStages"]) == [
        "AWSCURRENT", "blue"]  # fmt: skip
    assert terraform_version_read(sm, secret, one["VersionId"])["VersionStages"] == ["AWSPREVIOUS"]
    # destroy the second version's resource: every label but AWSCURRENT comes off
    sm.update_secret_version_stage(RemoveFromVersionId=two["VersionId"], SecretId=secret,
                                   VersionStage="blue")  # fmt: skip
    assert terraform_version_read(sm, secret, two["VersionId"])["VersionStages"] == ["AWSCURRENT"]

    sm.delete_secret(SecretId=secret, RecoveryWindowInDays=7)
    with pytest.raises(ClientError) as marked:  # findSecretVersion reads this as gone
        sm.get_secret_value(SecretId=secret, VersionId=one["VersionId"])
    assert code(marked) == "InvalidRequestException"
    assert "because it was marked for deletion" in marked.value.response["Error"]["Message"]
