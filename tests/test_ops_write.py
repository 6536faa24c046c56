"""Write operations through the boto3-shaped client: CreateSecret, UpdateSecret, PutSecretValue.

Covers the happy paths, ClientRequestToken idempotency (no commit on a retry), the staging-label
rules of new versions, and KmsKeyId changes (re-wrapping in the same commit).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from gitsm import errors, paths
from gitsm.awsclient import ParamValidationError, SecretsManagerClient
from gitsm.providers.local import LocalProvider
from tests.conftest import commits, error, git

ARN_RE = re.compile(r"arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:(?P<name>.+)-[A-Za-z0-9]{6}")


def envelope_doc(path: Path, name: str, version_id: str) -> dict[str, Any]:
    """The JSON envelope of one version, read from the branch tip with the git CLI."""
    blob = git(path, "show", f"HEAD:{paths.version_path(name, version_id)}")
    doc: dict[str, Any] = json.loads(blob)
    return doc


def stages(client: SecretsManagerClient, name: str) -> dict[str, list[str]]:
    """VersionIdsToStages of DescribeSecret, with each label list sorted."""
    described = client.describe_secret(SecretId=name)
    return {vid: sorted(s) for vid, s in described["VersionIdsToStages"].items()}


def tok(char: str) -> str:
    """A valid 36-character ClientRequestToken made of one repeated character."""
    return str(uuid.UUID(char * 32))


# -- CreateSecret ----------------------------------------------------------------------------------


def test_create_with_string_value(client: SecretsManagerClient, any_path: Path) -> None:
    before = commits(any_path)
    out = client.create_secret(
        Name="app/db", SecretString="hunter2", Description="the db",
        Tags=[{"Key": "team", "Value": "core"}],
    )  # fmt: skip
    assert commits(any_path) == before + 1
    match = ARN_RE.fullmatch(out["ARN"])
    assert match and match["name"] == "app/db"
    assert out["Name"] == "app/db"
    assert uuid.UUID(out["VersionId"]).version == 4
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = client.get_secret_value(SecretId="app/db")
    assert got["SecretString"] == "hunter2"
    assert "SecretBinary" not in got
    assert got["VersionStages"] == ["AWSCURRENT"]
    assert got["ARN"] == out["ARN"]
    described = client.describe_secret(SecretId="app/db")
    assert described["Description"] == "the db"
    assert described["Tags"] == [{"Key": "team", "Value": "core"}]
    assert described["VersionIdsToStages"] == {out["VersionId"]: ["AWSCURRENT"]}
    assert git(any_path, "log", "-1", "--format=%s") == "CreateSecret app/db\n"


def test_create_with_binary_value(client: SecretsManagerClient) -> None:
    data = bytes(range(256))
    out = client.create_secret(Name="bin", SecretBinary=data)
    got = client.get_secret_value(SecretId="bin")
    assert got["SecretBinary"] == data
    assert "SecretString" not in got
    assert got["VersionId"] == out["VersionId"]


def test_create_without_value_has_no_version(client: SecretsManagerClient) -> None:
    out = client.create_secret(Name="empty", Description="later")
    assert "VersionId" not in out
    # AWS returns only the fields that have a value: no VersionIdsToStages without versions.
    assert "VersionIdsToStages" not in client.describe_secret(SecretId="empty")
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.get_secret_value(SecretId="empty")
    assert "AWSCURRENT" in error(info)[1]
    assert client.list_secret_version_ids(SecretId="empty")["Versions"] == []


def test_create_without_value_ignores_the_token(
    client: SecretsManagerClient, any_path: Path
) -> None:
    token = tok("f")
    out = client.create_secret(Name="tokonly", ClientRequestToken=token)
    assert "VersionId" not in out
    assert "Version-Id" not in git(any_path, "log", "-1", "--format=%B")
    assert "VersionIdsToStages" not in client.describe_secret(SecretId="tokonly")
    put = client.put_secret_value(SecretId="tokonly", ClientRequestToken=token, SecretString="v")
    assert put["VersionId"] == token
    assert put["VersionStages"] == ["AWSCURRENT"]


def test_create_existing_name_is_resource_exists(
    client: SecretsManagerClient, any_path: Path
) -> None:
    client.create_secret(Name="dup", SecretString="one")
    before = commits(any_path)
    with pytest.raises(client.exceptions.ResourceExistsException) as info:
        client.create_secret(Name="dup", SecretString="two")
    assert error(info) == (
        "ResourceExistsException",
        "The operation failed because the secret dup already exists.",
    )
    with pytest.raises(client.exceptions.ResourceExistsException):
        client.create_secret(Name="dup")
    assert commits(any_path) == before
    assert client.get_secret_value(SecretId="dup")["SecretString"] == "one"


def test_secret_id_accepts_name_full_arn_and_partial_arn(client: SecretsManagerClient) -> None:
    arn = client.create_secret(Name="by/arn", SecretString="v")["ARN"]
    partial = arn[:-7]
    for secret_id in ("by/arn", arn, partial):
        assert client.get_secret_value(SecretId=secret_id)["ARN"] == arn
    wrong_suffix = arn[:-6] + ("A" if arn[-6] != "A" else "B") + arn[-5:]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_secret_value(SecretId=wrong_suffix)
    other_account = arn.replace(arn.split(":")[4], "000000000000")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_secret_value(SecretId=other_account)


# -- ClientRequestToken -----------------------------------------------------------------------------


def test_create_token_retry_is_a_no_op(client: SecretsManagerClient, any_path: Path) -> None:
    token = tok("a")
    first = client.create_secret(Name="t/create", ClientRequestToken=token, SecretString="v1")
    assert first["VersionId"] == token
    before = commits(any_path)
    again = client.create_secret(Name="t/create", ClientRequestToken=token, SecretString="v1")
    assert commits(any_path) == before
    assert {k: again[k] for k in ("ARN", "Name", "VersionId")} == {
        k: first[k] for k in ("ARN", "Name", "VersionId")
    }
    with pytest.raises(client.exceptions.ResourceExistsException) as info:
        client.create_secret(Name="t/create", ClientRequestToken=token, SecretString="v2")
    assert error(info) == (
        "ResourceExistsException",
        f"You can't use ClientRequestToken {token} because that value is already in use for a "
        f"version of secret {first['ARN']}.",
    )
    # The same bytes as binary instead of string are another value.
    with pytest.raises(client.exceptions.ResourceExistsException):
        client.create_secret(Name="t/create", ClientRequestToken=token, SecretBinary=b"v1")
    assert commits(any_path) == before


def test_put_token_retry_is_a_no_op(client: SecretsManagerClient, any_path: Path) -> None:
    arn = client.create_secret(Name="t/put", SecretString="v0")["ARN"]
    token = tok("b")
    first = client.put_secret_value(SecretId="t/put", ClientRequestToken=token, SecretString="v1")
    assert first["VersionId"] == token
    assert first["VersionStages"] == ["AWSCURRENT"]
    before = commits(any_path)
    again = client.put_secret_value(SecretId="t/put", ClientRequestToken=token, SecretString="v1")
    assert commits(any_path) == before
    assert again["VersionId"] == token
    assert again["VersionStages"] == ["AWSCURRENT"]
    assert again["ARN"] == arn
    with pytest.raises(client.exceptions.ResourceExistsException) as info:
        client.put_secret_value(SecretId="t/put", ClientRequestToken=token, SecretString="v2")
    assert error(info)[1] == (
        f"You can't use ClientRequestToken {token} because that value is already in use for a "
        f"version of secret {arn}."
    )
    assert commits(any_path) == before
    assert len(client.list_secret_version_ids(SecretId="t/put")["Versions"]) == 2


def test_update_token_retry_is_a_no_op(client: SecretsManagerClient, any_path: Path) -> None:
    arn = client.create_secret(Name="t/upd", SecretString="v0")["ARN"]
    token = tok("c")
    first = client.update_secret(SecretId="t/upd", ClientRequestToken=token, SecretString="v1")
    assert first["VersionId"] == token
    before = commits(any_path)
    again = client.update_secret(SecretId="t/upd", ClientRequestToken=token, SecretString="v1")
    assert commits(any_path) == before
    assert again["VersionId"] == token
    with pytest.raises(client.exceptions.ResourceExistsException) as info:
        client.update_secret(SecretId="t/upd", ClientRequestToken=token, SecretString="v2")
    assert error(info)[1] == (
        f"You can't use ClientRequestToken {token} because that value is already in use for a "
        f"version of secret {arn}."
    )
    assert commits(any_path) == before
    assert client.get_secret_value(SecretId="t/upd")["SecretString"] == "v1"


def test_retry_of_an_older_version_moves_no_labels(
    client: SecretsManagerClient, any_path: Path
) -> None:
    token = tok("d")
    client.create_secret(Name="t/old", ClientRequestToken=token, SecretString="v1")
    newer = client.put_secret_value(SecretId="t/old", SecretString="v2")["VersionId"]
    before = commits(any_path)
    again = client.put_secret_value(SecretId="t/old", ClientRequestToken=token, SecretString="v1")
    assert again["VersionId"] == token
    assert again["VersionStages"] == ["AWSPREVIOUS"]
    assert commits(any_path) == before
    assert stages(client, "t/old") == {token: ["AWSPREVIOUS"], newer: ["AWSCURRENT"]}


def test_values_without_token_get_fresh_uuid4_version_ids(client: SecretsManagerClient) -> None:
    ids = [client.create_secret(Name="u", SecretString="a")["VersionId"]]
    ids.append(client.put_secret_value(SecretId="u", SecretString="a")["VersionId"])
    ids.append(client.update_secret(SecretId="u", SecretString="a")["VersionId"])
    assert len(set(ids)) == 3
    for vid in ids:
        assert uuid.UUID(vid).version == 4
        assert str(uuid.UUID(vid)) == vid


# -- label rules of new versions --------------------------------------------------------------------


def test_update_and_put_rotate_current_and_previous(client: SecretsManagerClient) -> None:
    v1 = client.create_secret(Name="lbl", SecretString="1")["VersionId"]
    v2 = client.update_secret(SecretId="lbl", SecretString="2")["VersionId"]
    assert stages(client, "lbl") == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}
    put = client.put_secret_value(SecretId="lbl", SecretString="3")
    v3 = put["VersionId"]
    assert put["VersionStages"] == ["AWSCURRENT"]
    # v1 lost AWSPREVIOUS and is now unlabeled: DescribeSecret lists labelled versions only.
    assert stages(client, "lbl") == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    assert client.get_secret_value(SecretId="lbl")["SecretString"] == "3"
    assert (
        client.get_secret_value(SecretId="lbl", VersionStage="AWSPREVIOUS")["SecretString"] == "2"
    )
    assert client.get_secret_value(SecretId="lbl", VersionId=v1)["VersionStages"] == []


def test_put_with_version_stages_moves_only_those(client: SecretsManagerClient) -> None:
    v1 = client.create_secret(Name="only", SecretString="1")["VersionId"]
    put = client.put_secret_value(SecretId="only", SecretString="2", VersionStages=["X"])
    v2 = put["VersionId"]
    assert put["VersionStages"] == ["X"]
    assert stages(client, "only") == {v1: ["AWSCURRENT"], v2: ["X"]}
    assert client.get_secret_value(SecretId="only")["SecretString"] == "1"
    v3 = client.put_secret_value(SecretId="only", SecretString="3", VersionStages=["X", "Y"])[
        "VersionId"
    ]
    assert stages(client, "only") == {v1: ["AWSCURRENT"], v3: ["X", "Y"]}
    v4 = client.put_secret_value(
        SecretId="only", SecretString="4", VersionStages=["AWSCURRENT", "Z"]
    )["VersionId"]
    assert stages(client, "only") == {
        v1: ["AWSPREVIOUS"],
        v3: ["X", "Y"],
        v4: ["AWSCURRENT", "Z"],
    }
    assert client.get_secret_value(SecretId="only", VersionStage="X")["SecretString"] == "3"


def test_first_version_always_gets_awscurrent(client: SecretsManagerClient) -> None:
    client.create_secret(Name="first")
    put = client.put_secret_value(SecretId="first", SecretString="1", VersionStages=["X"])
    assert sorted(put["VersionStages"]) == ["AWSCURRENT", "X"]
    assert client.get_secret_value(SecretId="first")["SecretString"] == "1"


def test_update_of_a_secret_without_value_gets_awscurrent(client: SecretsManagerClient) -> None:
    client.create_secret(Name="later")
    vid = client.update_secret(SecretId="later", SecretString="now")["VersionId"]
    assert stages(client, "later") == {vid: ["AWSCURRENT"]}


def test_more_than_20_labels_on_a_version_is_limit_exceeded(
    client: SecretsManagerClient, any_path: Path
) -> None:
    client.create_secret(Name="many")
    labels20 = [f"L{i:02d}" for i in range(20)]
    before = commits(any_path)
    # The first version also gets AWSCURRENT: 21 labels.
    with pytest.raises(client.exceptions.LimitExceededException) as info:
        client.put_secret_value(SecretId="many", SecretString="x", VersionStages=labels20)
    assert "20" in error(info)[1]
    assert commits(any_path) == before
    assert "VersionIdsToStages" not in client.describe_secret(SecretId="many")
    # 19 custom labels + AWSCURRENT = 20 is fine.
    vid = client.put_secret_value(SecretId="many", SecretString="x", VersionStages=labels20[:19])[
        "VersionId"
    ]
    assert len(stages(client, "many")[vid]) == 20
    before = commits(any_path)
    with pytest.raises(client.exceptions.LimitExceededException):
        client.update_secret_version_stage(SecretId="many", VersionStage="L99", MoveToVersionId=vid)
    assert commits(any_path) == before


def test_put_more_than_20_version_stages_is_refused(
    client: SecretsManagerClient, any_path: Path
) -> None:
    client.create_secret(Name="many21", SecretString="x")
    before = commits(any_path)
    with pytest.raises(client.exceptions.InvalidParameterException) as info:
        client.put_secret_value(
            SecretId="many21", SecretString="y", VersionStages=[f"L{i}" for i in range(21)]
        )
    assert "1-20" in error(info)[1]
    with pytest.raises(errors.InvalidParameterException):  # the core's own check
        client.store.put_secret_value("many21", secret_string="y", version_stages=[])
    # boto3 refuses an empty list before any request (the model's min of 1).
    with pytest.raises(ParamValidationError, match="Invalid length for parameter VersionStages"):
        client.put_secret_value(SecretId="many21", SecretString="y", VersionStages=[])
    assert commits(any_path) == before


# -- PutSecretValue / UpdateSecret errors -----------------------------------------------------------


def test_put_without_value_is_invalid_request(client: SecretsManagerClient, any_path: Path) -> None:
    client.create_secret(Name="nov", SecretString="x")
    before = commits(any_path)
    with pytest.raises(client.exceptions.InvalidRequestException) as info:
        client.put_secret_value(SecretId="nov")
    assert error(info) == (
        "InvalidRequestException",
        "You must provide either SecretString or SecretBinary.",
    )
    assert commits(any_path) == before


def test_writes_to_a_missing_secret_are_not_found(client: SecretsManagerClient) -> None:
    message = "Secrets Manager can't find the specified secret."
    calls = [
        lambda: client.put_secret_value(SecretId="ghost", SecretString="x"),
        lambda: client.update_secret(SecretId="ghost", SecretString="x"),
        lambda: client.update_secret(SecretId="ghost", Description="d"),
    ]
    for call in calls:
        with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
            call()
        assert error(info) == ("ResourceNotFoundException", message)


def test_unknown_and_missing_parameters_are_refused_before_any_write(
    client: SecretsManagerClient, any_path: Path
) -> None:
    before = commits(any_path)
    with pytest.raises(ParamValidationError, match="Unknown parameter"):
        client.create_secret(Name="p", SecretString="x", Bogus=1)
    with pytest.raises(ParamValidationError, match="Missing required parameter"):
        client.put_secret_value(SecretString="x")
    assert commits(any_path) == before


# -- UpdateSecret metadata --------------------------------------------------------------------------


def test_update_description_only_makes_one_commit_and_no_version(
    client: SecretsManagerClient, any_path: Path
) -> None:
    vid = client.create_secret(Name="meta", SecretString="x", Description="old")["VersionId"]
    before = commits(any_path)
    out = client.update_secret(SecretId="meta", Description="new")
    assert "VersionId" not in out
    assert out["Name"] == "meta"
    assert commits(any_path) == before + 1
    described = client.describe_secret(SecretId="meta")
    assert described["Description"] == "new"
    assert described["VersionIdsToStages"] == {vid: ["AWSCURRENT"]}
    assert git(any_path, "log", "-1", "--format=%s") == "UpdateSecret meta\n"
    # Unchanged description: nothing to do, no commit.
    client.update_secret(SecretId="meta", Description="new")
    assert commits(any_path) == before + 1
    # Nothing at all to change: no commit either.
    client.update_secret(SecretId="meta")
    assert commits(any_path) == before + 1


def test_update_with_a_new_kms_key_rewraps_labelled_versions(
    client: SecretsManagerClient, any_path: Path
) -> None:
    name = "rekey/me"
    v1 = client.create_secret(Name=name, SecretString="one")["VersionId"]
    v2 = client.put_secret_value(SecretId=name, SecretString="two")["VersionId"]
    v3 = client.put_secret_value(SecretId=name, SecretString="three")["VersionId"]
    v4 = client.put_secret_value(SecretId=name, SecretString="four", VersionStages=["AWSPENDING"])[
        "VersionId"
    ]
    assert stages(client, name) == {v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT"], v4: ["AWSPENDING"]}
    old_key = envelope_doc(any_path, name, v1)["keys"][0]["key_id"]
    assert all(envelope_doc(any_path, name, v)["keys"][0]["key_id"] == old_key for v in (v2, v3))
    assert "KmsKeyId" not in client.describe_secret(SecretId=name)
    old_docs = {v: envelope_doc(any_path, name, v) for v in (v1, v2, v3, v4)}

    new_key = LocalProvider().create_key()
    before = commits(any_path)
    out = client.update_secret(SecretId=name, KmsKeyId=new_key)
    assert "VersionId" not in out
    assert commits(any_path) == before + 1
    changed = set(git(any_path, "diff", "--name-only", "HEAD~1", "HEAD").split())
    assert changed == {paths.manifest_path(name)} | {
        paths.version_path(name, v) for v in (v2, v3, v4)
    }
    for v in (v2, v3, v4):
        doc = envelope_doc(any_path, name, v)
        assert [k["key_id"] for k in doc["keys"]] == [new_key]
        # Re-wrapped, not re-encrypted: the ciphertext is unchanged.
        assert doc["ciphertext"] == old_docs[v]["ciphertext"]
    assert envelope_doc(any_path, name, v1) == old_docs[v1]  # unlabeled: left alone
    assert client.describe_secret(SecretId=name)["KmsKeyId"] == new_key
    assert client.get_secret_value(SecretId=name)["SecretString"] == "three"
    assert client.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == (
        "two"
    )
    assert client.get_secret_value(SecretId=name, VersionStage="AWSPENDING")["SecretString"] == (
        "four"
    )
    assert client.get_secret_value(SecretId=name, VersionId=v1)["SecretString"] == "one"
    listed = client.list_secret_version_ids(SecretId=name)["Versions"]
    assert {v["VersionId"]: v["KmsKeyIds"] for v in listed}[v3] == [new_key]

    # New versions use the new key; the same key again changes nothing.
    v5 = client.put_secret_value(SecretId=name, SecretString="five")["VersionId"]
    assert envelope_doc(any_path, name, v5)["keys"][0]["key_id"] == new_key
    before = commits(any_path)
    client.update_secret(SecretId=name, KmsKeyId=new_key)
    assert commits(any_path) == before


def test_update_with_kms_key_and_value_in_one_commit(
    client: SecretsManagerClient, any_path: Path
) -> None:
    v1 = client.create_secret(Name="kv", SecretString="one")["VersionId"]
    new_key = LocalProvider().create_key()
    before = commits(any_path)
    v2 = client.update_secret(SecretId="kv", KmsKeyId=new_key, SecretString="two")["VersionId"]
    assert commits(any_path) == before + 1
    for v in (v1, v2):
        assert envelope_doc(any_path, "kv", v)["keys"][0]["key_id"] == new_key
    assert client.get_secret_value(SecretId="kv")["SecretString"] == "two"
    assert client.get_secret_value(SecretId="kv", VersionStage="AWSPREVIOUS")["SecretString"] == (
        "one"
    )


def test_create_with_a_custom_kms_key(client: SecretsManagerClient, any_path: Path) -> None:
    key = LocalProvider().create_key()
    vid = client.create_secret(Name="custom", KmsKeyId=key, SecretString="x")["VersionId"]
    assert envelope_doc(any_path, "custom", vid)["keys"][0]["key_id"] == key
    assert client.describe_secret(SecretId="custom")["KmsKeyId"] == key
    assert client.get_secret_value(SecretId="custom")["SecretString"] == "x"


def test_default_kms_key_is_omitted_from_describe(client: SecretsManagerClient) -> None:
    client.create_secret(Name="dflt", KmsKeyId="alias/aws/secretsmanager", SecretString="x")
    assert "KmsKeyId" not in client.describe_secret(SecretId="dflt")
    listed = client.list_secrets()["SecretList"]
    assert all("KmsKeyId" not in s for s in listed)


def test_unknown_kms_key_is_encryption_failure_and_writes_nothing(
    client: SecretsManagerClient, any_path: Path
) -> None:
    vid = client.create_secret(Name="k", SecretString="x")["VersionId"]
    before = commits(any_path)
    head = git(any_path, "rev-parse", "HEAD")
    for bad_key in (str(uuid.uuid4()), "alias/does-not-exist", "not-a-key"):
        with pytest.raises(client.exceptions.EncryptionFailure) as info:
            client.update_secret(SecretId="k", KmsKeyId=bad_key)
        assert bad_key in error(info)[1]
        with pytest.raises(client.exceptions.EncryptionFailure):
            client.update_secret(SecretId="k", KmsKeyId=bad_key, SecretString="y")
        with pytest.raises(client.exceptions.EncryptionFailure):
            client.create_secret(Name="k2", KmsKeyId=bad_key, SecretString="y")
        with pytest.raises(client.exceptions.EncryptionFailure):
            client.create_secret(Name="k3", KmsKeyId=bad_key)
    assert commits(any_path) == before
    assert git(any_path, "rev-parse", "HEAD") == head
    assert "KmsKeyId" not in client.describe_secret(SecretId="k")
    assert client.get_secret_value(SecretId="k")["VersionId"] == vid
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_secret(SecretId="k2")


def test_commit_trailers_name_the_operation_and_version(
    client: SecretsManagerClient, any_path: Path
) -> None:
    token = tok("e")
    out = client.create_secret(Name="trail", ClientRequestToken=token, SecretString="zzsecretzz")
    body = git(any_path, "log", "-1", "--format=%B")
    assert "Gitsm-Operation: CreateSecret" in body
    assert "Gitsm-Secret: trail" in body
    assert f"Gitsm-Version-Id: {token}" in body
    assert f"Gitsm-Client-Request-Token: {token}" in body
    assert out["ARN"] in body
    assert "zzsecretzz" not in git(any_path, "log", "--format=%B")


def test_update_to_the_default_key_it_already_uses_changes_nothing(
    client: SecretsManagerClient, any_path: Path
) -> None:
    vid = client.create_secret(Name="same-key", SecretString="x")["VersionId"]
    envelope = envelope_doc(any_path, "same-key", vid)
    before = commits(any_path)
    client.update_secret(SecretId="same-key", KmsKeyId="alias/aws/secretsmanager")
    assert commits(any_path) == before
    assert envelope_doc(any_path, "same-key", vid) == envelope
    assert "KmsKeyId" not in client.describe_secret(SecretId="same-key")
