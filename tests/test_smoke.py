"""A first end-to-end pass through the client on both kinds of repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitsm.awsclient import SecretsManagerClient
from tests.conftest import git


def test_create_update_get_roundtrip(client: SecretsManagerClient, any_path: Path) -> None:
    created = client.create_secret(Name="prod/db/password", SecretString="s3cr3t-value")
    assert created["Name"] == "prod/db/password"
    assert created["ARN"].startswith("arn:aws:secretsmanager:")
    updated = client.update_secret(SecretId=created["ARN"], SecretString="n3w-value")
    got = client.get_secret_value(SecretId="prod/db/password")
    assert got["SecretString"] == "n3w-value"
    assert got["VersionId"] == updated["VersionId"]
    assert got["VersionStages"] == ["AWSCURRENT"]
    prev = client.get_secret_value(SecretId="prod/db/password", VersionStage="AWSPREVIOUS")
    assert prev["SecretString"] == "s3cr3t-value"
    assert git(any_path, "fsck", "--strict") == ""
    subjects = git(any_path, "log", "--format=%s").splitlines()
    assert subjects == ["UpdateSecret prod/db/password", "CreateSecret prod/db/password", "Init"]


def test_missing_secret_is_resource_not_found(client: SecretsManagerClient) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException) as info:
        client.get_secret_value(SecretId="nope")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert (
        info.value.response["Error"]["Message"]
        == "Secrets Manager can't find the specified secret."
    )
