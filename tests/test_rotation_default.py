"""The store's default rotation function (gitsm's managed rotation): RotateSecret without a
RotationLambdaARN on a secret without one rotates with it, on real stores with the shipped generic
password function run as processes."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gitsm import paths
from gitsm.awsclient import SecretsManagerClient
from gitsm.errors import InvalidRequestException, ResourceNotFoundException
from gitsm.history import history
from gitsm.rangecheck import verify_range
from gitsm.rotationstate import NO_FUNCTION
from gitsm.store import SecretStore
from tests.conftest import Clock, commits, error
from tests.rotating import ARN, NOOP, PASSWORD

AFTER_10 = {"AutomaticallyAfterDays": 10}
EXCLUDED = set("/@\"'\\")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sm(repo_path: Path, clock: Clock) -> SecretsManagerClient:
    """A client on a store whose default rotation function is the generic password function."""
    store = SecretStore.open(repo_path, clock=clock)
    store.register_rotation_function("password", PASSWORD)
    assert store.set_default_rotation_function("password") is True
    return SecretsManagerClient(store)


def trailers(path: Path) -> dict[str, str]:
    """The newest commit's Gitsm-* trailers."""
    return next(iter(history(SecretStore.open(path).repo))).trailers


def rotate(sm: SecretsManagerClient, **extra: Any) -> str:
    """RotateSecret on ``db`` without a RotationLambdaARN; the new version's id."""
    version = sm.rotate_secret(SecretId="db", RotationRules=AFTER_10, **extra)["VersionId"]
    assert isinstance(version, str)
    return version


def test_without_a_default_rotate_secret_keeps_aws_refusal(
    store: SecretStore, repo_path: Path
) -> None:
    sm = SecretsManagerClient(store)
    sm.create_secret(Name="db", SecretString="first")
    store.register_rotation_function("password", PASSWORD)  # registered, but not the default
    before = commits(repo_path)
    with pytest.raises(sm.exceptions.InvalidRequestException) as info:
        sm.rotate_secret(SecretId="db", RotationRules=AFTER_10)
    assert error(info) == ("InvalidRequestException", NO_FUNCTION)
    assert commits(repo_path) == before
    assert "RotationEnabled" not in sm.describe_secret(SecretId="db")


def test_a_plain_value_rotates_with_the_default_like_a_lambda_rotation(
    sm: SecretsManagerClient, repo_path: Path, clock: Clock
) -> None:
    first = sm.create_secret(Name="db", SecretString="first password")["VersionId"]
    new = rotate(sm)
    described = sm.describe_secret(SecretId="db")
    assert described["VersionIdsToStages"] == {first: ["AWSPREVIOUS"], new: ["AWSCURRENT"]}
    midnight = clock.now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert "RotationLambdaARN" not in described  # no function of its own: the store's default
    assert {k: described[k] for k in ("RotationEnabled", "RotationRules", "LastRotatedDate",
                                      "NextRotationDate")} == {
        "RotationEnabled": True, "RotationRules": AFTER_10, "LastRotatedDate": clock.now,
        "NextRotationDate": midnight + timedelta(days=11),
    }  # fmt: skip
    listed = sm.list_secrets()["SecretList"][0]
    assert "RotationLambdaARN" not in listed and listed["RotationEnabled"] is True
    value = sm.get_secret_value(SecretId="db")["SecretString"]
    assert value != "first password" and len(value) == 32 and not set(value) & EXCLUDED
    manifest = (repo_path / "secrets" / "db" / "~secret.yaml").read_text()
    assert "rotation_enabled: true" in manifest and "rotation_lambda_arn" not in manifest
    assert verify_range(repo_path, "..main") == []


def test_a_json_value_gets_a_new_password_field_and_keeps_the_others(
    sm: SecretsManagerClient,
) -> None:
    doc = {"engine": "postgres", "username": "app", "password": "first", "port": 5432}
    sm.create_secret(Name="db", SecretString=json.dumps(doc))
    rotate(sm)
    value = json.loads(sm.get_secret_value(SecretId="db")["SecretString"])
    assert {k: v for k, v in value.items() if k != "password"} == {
        k: v for k, v in doc.items() if k != "password"
    }
    assert value["password"] != "first" and len(value["password"]) == 32


def test_a_secret_without_a_value_gets_a_first_password(sm: SecretsManagerClient) -> None:
    sm.create_secret(Name="db")
    token = str(uuid.uuid4())
    assert rotate(sm, ClientRequestToken=token) == token
    described = sm.describe_secret(SecretId="db")
    assert described["VersionIdsToStages"] == {token: ["AWSCURRENT"]}
    value = sm.get_secret_value(SecretId="db")["SecretString"]
    assert len(value) == 32 and not set(value) & EXCLUDED


def test_the_secret_follows_the_default_and_its_own_function_wins(
    sm: SecretsManagerClient, repo_path: Path
) -> None:
    store = sm.store
    sm.create_secret(Name="db", SecretString="first")
    sm.create_secret(Name="own", SecretString="first")
    store.register_rotation_function("noop", NOOP)  # succeeds at every step, puts no version
    sm.rotate_secret(SecretId="db", RotationRules=AFTER_10, RotateImmediately=False)
    sm.rotate_secret(SecretId="own", RotationLambdaARN=ARN.format("noop"), RotateImmediately=False)
    assert store.set_default_rotation_function("noop") is True
    assert trailers(repo_path) == {
        "Operation": "SetDefaultRotationFunction", "Rotation-Function": "noop"
    }  # fmt: skip
    with pytest.raises(InvalidRequestException, match="put no version"):
        sm.store.rotate_secret("db")  # the default now: noop
    sm.cancel_rotate_secret(SecretId="db")  # a secret without a function of its own cancels
    assert sm.describe_secret(SecretId="db")["RotationEnabled"] is False
    assert store.set_default_rotation_function(None) is True
    assert store.set_default_rotation_function(None) is False  # no change, no commit
    assert trailers(repo_path) == {"Operation": "SetDefaultRotationFunction"}
    with pytest.raises(sm.exceptions.InvalidRequestException) as info:
        sm.rotate_secret(SecretId="db")
    assert error(info) == ("InvalidRequestException", NO_FUNCTION)
    with pytest.raises(InvalidRequestException, match="put no version"):
        sm.store.rotate_secret("own")  # its own function, default or not
    assert verify_range(repo_path, "..main") == []


def test_setting_the_default_writes_one_commit_and_checks_the_name(
    sm: SecretsManagerClient, repo_path: Path
) -> None:
    store = sm.store
    before = commits(repo_path)
    assert store.set_default_rotation_function("password") is False  # the default already
    with pytest.raises(ResourceNotFoundException, match="no rotation function named nope"):
        store.set_default_rotation_function("nope")
    with pytest.raises(InvalidRequestException, match="is the store's default"):
        store.deregister_rotation_function("password")
    assert commits(repo_path) == before
    assert store.default_rotation_function() == "password"
    config = (repo_path / ".gitsm" / "config.yaml").read_text()
    assert config.endswith("default_rotation_function: password\n")


def test_rotate_due_and_a_test_without_rotating_use_the_default(
    sm: SecretsManagerClient, clock: Clock
) -> None:
    sm.create_secret(Name="db", SecretString="first")
    sm.rotate_secret(SecretId="db", RotationRules=AFTER_10, RotateImmediately=False)
    assert sm.get_secret_value(SecretId="db")["SecretString"] == "first"  # the test left nothing
    clock.advance(days=11)
    (done,) = sm.store.rotate_due()
    assert done.error is None and done.name == "db"
    assert sm.get_secret_value(SecretId="db")["SecretString"] != "first"
    assert sm.describe_secret(SecretId="db")["LastRotatedDate"] == clock.now


def test_an_unregistered_default_left_by_a_merge_is_named(
    sm: SecretsManagerClient, repo_path: Path
) -> None:
    """A merge can leave the default naming a function the other side removed: the config still
    reads, and RotateSecret says what is wrong."""
    store = sm.store
    edited = replace(store.config(), default_rotation_function="gone")
    with store.repo.write_lock():
        store.repo.commit(store.repo.tip(), {paths.CONFIG_PATH: edited.dump()}, "hand edit\n",
                          datetime.now(UTC))  # fmt: skip
    sm.create_secret(Name="db", SecretString="first")
    with pytest.raises(InvalidRequestException, match="default rotation function gone") as info:
        store.rotate_secret("db")
    assert "is not registered" in info.value.message
