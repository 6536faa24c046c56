"""RotateSecret and CancelRotateSecret through the boto3-shaped client: AWS's errors, the
AWSPENDING lifecycle with real rotation functions (processes), failed steps, cancelling, retries,
and rotate_due with a moved clock."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import gitsm
from gitsm.awsclient import ClientError, SecretsManagerClient
from gitsm.awserrors import ParamValidationError
from gitsm.errors import (
    MARKED_DELETED,
    InvalidParameterException,
    OperationError,
    ResourceNotFoundException,
)
from gitsm.history import history
from gitsm.rangecheck import verify_range
from gitsm.rotationstate import NO_FUNCTION
from gitsm.store import SecretStore
from tests.conftest import Clock, commits, error, git
from tests.rotating import ARN, NOOP, PASSWORD, SCRIPTED

AFTER_30 = {"AutomaticallyAfterDays": 30}


@pytest.fixture
def sm(repo_path: Path) -> SecretsManagerClient:
    """A client on a fresh checkout store with secret ``app`` and the function ``noop``."""
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app", SecretString="first value")
    client.store.register_rotation_function("noop", NOOP)
    return client


def rotation_fields(described: dict[str, Any]) -> dict[str, Any]:
    keys = ("RotationEnabled", "RotationLambdaARN", "RotationRules", "LastRotatedDate",
            "NextRotationDate")  # fmt: skip
    return {k: described[k] for k in keys if k in described}


def operations(path: Path) -> list[str]:
    return [e.trailers.get("Operation", "") for e in history(SecretStore.open(path).repo)][::-1]


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        ({"RotationRules": {"AutomaticallyAfterDays": 0}}, "InvalidParameterException",
         "RotationRules.AutomaticallyAfterDays must be within 1-1000."),
        ({"RotationRules": {"AutomaticallyAfterDays": 1001}}, "InvalidParameterException",
         "RotationRules.AutomaticallyAfterDays must be within 1-1000."),
        ({"RotationRules": {"AutomaticallyAfterDays": 7, "ScheduleExpression": "rate(7 days)"}},
         "InvalidParameterException",
         "You cannot specify both rotation frequency and schedule expression together."),
        ({}, "InvalidRequestException", NO_FUNCTION),
        ({"RotationLambdaARN": ARN.format("nope")}, "InvalidRequestException",
         "Secrets Manager cannot invoke the specified Lambda function"),
        ({"RotationRules": {"ScheduleExpression": "rate(2 hours)"}}, "InvalidParameterException",
         "at most every four hours"),
        ({"RotationRules": {"ScheduleExpression": "cron(30 4 * * ? *)"}},
         "InvalidParameterException", "the minutes field must be 0"),
        ({"RotationRules": {"ScheduleExpression": "cron(0 4 1 * MON *)"}},
         "InvalidParameterException", "one of Day-of-month and Day-of-week must be ?"),
        ({"RotationRules": {"ScheduleExpression": "cron(0 20 * * ? *)", "Duration": "6h"}},
         "InvalidParameterException", "would reach into the next UTC day"),
        ({"RotationRules": {"ScheduleExpression": "rate(6 hours)", "Duration": "7h"}},
         "InvalidParameterException", "would reach into the next UTC day or the next"),
        ({"RotationRules": {"AutomaticallyAfterDays": 3, "Duration": "25h"}},
         "InvalidParameterException", "Duration must be a number of hours from 1h to 24h"),
        ({"RotationRules": {"ScheduleExpression": "every day"}}, "InvalidParameterException",
         "Invalid ScheduleExpression every day"),
        ({"ClientRequestToken": "short"}, "InvalidParameterException",
         "ClientRequestToken must be 32-64 characters long."),
    ],
)  # fmt: skip
def test_aws_errors_write_nothing(
    sm: SecretsManagerClient, repo_path: Path, request_: dict[str, Any], code: str, message: str
) -> None:
    before = commits(repo_path)
    params = {"RotationLambdaARN": ARN.format("noop")} if code != "InvalidRequestException" else {}
    call = params | request_
    try:
        sm.rotate_secret(SecretId="app", **call)
    except ClientError as exc:
        got_code, got_message = exc.response["Error"]["Code"], exc.response["Error"]["Message"]
    except ParamValidationError:  # boto3 refuses it before any request (the model's minimums):
        with pytest.raises(OperationError) as raw:  # the store's own check says AWS's words
            sm.store.rotate_secret(
                "app", client_request_token=call.get("ClientRequestToken"),
                rotation_lambda_arn=call.get("RotationLambdaARN"),
                rotation_rules=call.get("RotationRules"),
            )  # fmt: skip
        got_code, got_message = raw.value.code, raw.value.message
    else:
        raise AssertionError("the request was accepted")
    assert got_code == code and message in got_message
    assert commits(repo_path) == before
    assert "RotationEnabled" not in sm.describe_secret(SecretId="app")


def test_a_secret_marked_for_deletion_is_refused(sm: SecretsManagerClient) -> None:
    sm.delete_secret(SecretId="app", RecoveryWindowInDays=7)
    for call in (
        lambda: sm.rotate_secret(SecretId="app", RotationLambdaARN=ARN.format("noop")),
        lambda: sm.cancel_rotate_secret(SecretId="app"),
    ):
        with pytest.raises(sm.exceptions.InvalidRequestException) as info:
            call()
        assert error(info)[1] == MARKED_DELETED


def test_a_pending_version_blocks_another_rotation(sm: SecretsManagerClient) -> None:
    pending = sm.put_secret_value(
        SecretId="app", SecretString="half made", VersionStages=["AWSPENDING"]
    )["VersionId"]
    with pytest.raises(sm.exceptions.InvalidRequestException) as info:
        sm.rotate_secret(SecretId="app", RotationLambdaARN=ARN.format("noop"))
    message = error(info)[1]
    assert message.startswith(f"A previous rotation isn't complete: version {pending} ")
    assert "RotationEnabled" not in sm.describe_secret(SecretId="app")
    # AWSPENDING on the AWSCURRENT version (where a finished rotation may leave it) does not block
    current = sm.describe_secret(SecretId="app")["VersionIdsToStages"]
    old = next(v for v, s in current.items() if "AWSCURRENT" in s)
    sm.update_secret_version_stage(
        SecretId="app", VersionStage="AWSCURRENT", MoveToVersionId=pending,
        RemoveFromVersionId=old,
    )  # fmt: skip
    token = str(uuid.uuid4())
    with pytest.raises(sm.exceptions.InvalidRequestException, match="put no version"):
        sm.rotate_secret(
            SecretId="app", ClientRequestToken=token, RotationLambdaARN=ARN.format("noop")
        )
    stages = sm.describe_secret(SecretId="app")["VersionIdsToStages"]
    assert stages == {old: ["AWSPREVIOUS"], pending: ["AWSCURRENT"], token: ["AWSPENDING"]}


def test_the_generic_function_rotates_and_rotate_due_follows_the_schedule(
    repo_path: Path,
) -> None:
    clock = Clock()
    store = SecretStore.open(repo_path, clock=clock)
    sm = SecretsManagerClient(store)
    sm.create_secret(Name="db", SecretString=json.dumps({"username": "app", "password": "first"}))
    first = sm.describe_secret(SecretId="db")["VersionIdsToStages"]
    store.register_rotation_function("password", PASSWORD)
    assert store.rotate_due() == []  # rotation is not set up
    new = sm.rotate_secret(
        SecretId="db", RotationLambdaARN=ARN.format("password"), RotationRules=AFTER_30
    )["VersionId"]
    described = sm.describe_secret(SecretId="db")
    (old,) = first
    assert described["VersionIdsToStages"] == {old: ["AWSPREVIOUS"], new: ["AWSCURRENT"]}
    midnight = clock.now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert rotation_fields(described) == {
        "RotationEnabled": True,
        "RotationLambdaARN": ARN.format("password"),
        "RotationRules": AFTER_30,
        "LastRotatedDate": clock.now,
        "NextRotationDate": midnight + timedelta(days=31),  # the end of day 30's window
    }
    value = json.loads(sm.get_secret_value(SecretId="db")["SecretString"])
    assert value["username"] == "app" and value["password"] != "first"
    assert len(value["password"]) == 32 and not set(value["password"]) & set("/@\"'\\")
    assert operations(repo_path)[-4:] == [
        "RotateSecret", "PutSecretValue", "UpdateSecretVersionStage", "RotationSucceeded"
    ]  # fmt: skip
    listed = sm.list_secrets()["SecretList"][0]
    assert rotation_fields(listed) == rotation_fields(described)

    clock.advance(days=29)
    assert store.rotate_due() == []
    clock.advance(hours=17)  # just past midnight of day 30: the window has opened
    (done,) = store.rotate_due()
    assert done.error is None and done.name == "db"
    described = sm.describe_secret(SecretId="db")
    assert described["VersionIdsToStages"] == {
        new: ["AWSPREVIOUS"],
        done.version_id: ["AWSCURRENT"],
    }
    assert described["LastRotatedDate"] == clock.now
    assert store.rotate_due() == []


def test_a_failed_step_leaves_awspending_and_an_error_without_the_value(
    sm: SecretsManagerClient, repo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_value = json.dumps({"username": "app", "password": "n3w-Pa55word-xyz"})
    monkeypatch.setenv("GITSM_TEST_VALUE", new_value)
    monkeypatch.setenv("GITSM_TEST_FAIL_AT", "setSecret")
    sm.store.register_rotation_function("scripted", SCRIPTED)
    old = sm.describe_secret(SecretId="app")["VersionIdsToStages"]
    token = str(uuid.uuid4())
    request = {"SecretId": "app", "RotationLambdaARN": ARN.format("scripted"),
               "RotationRules": AFTER_30}  # fmt: skip
    with pytest.raises(sm.exceptions.InvalidRequestException) as info:
        sm.rotate_secret(ClientRequestToken=token, **request)
    message = error(info)[1]
    assert "failed at step setSecret: the rotation function exited with status 1" in message
    assert "connecting with password **** | error: cannot reach the database" in message
    assert "n3w-Pa55word" not in message and "first value" not in message
    assert f"Version {token} keeps AWSPENDING" in message
    stages = sm.describe_secret(SecretId="app")["VersionIdsToStages"]
    assert stages == old | {token: ["AWSPENDING"]}
    assert (
        sm.get_secret_value(SecretId="app", VersionStage="AWSPENDING")["SecretString"] == new_value
    )
    assert sm.get_secret_value(SecretId="app")["SecretString"] == "first value"
    with pytest.raises(sm.exceptions.InvalidRequestException, match="previous rotation isn't"):
        sm.rotate_secret(**request)  # another rotation, with another token

    monkeypatch.delenv("GITSM_TEST_FAIL_AT")  # the function is fixed: retry with the token
    assert sm.rotate_secret(SecretId="app", ClientRequestToken=token)["VersionId"] == token
    described = sm.describe_secret(SecretId="app")
    (previous,) = old
    assert described["VersionIdsToStages"] == {previous: ["AWSPREVIOUS"], token: ["AWSCURRENT"]}
    assert "LastRotatedDate" in described
    before = commits(repo_path)
    assert sm.rotate_secret(SecretId="app", ClientRequestToken=token)["VersionId"] == token
    assert commits(repo_path) == before  # a retry of a finished rotation changes nothing


def test_a_rotation_that_fails_at_once_shows_its_empty_version_until_cancelled(
    sm: SecretsManagerClient, repo_path: Path
) -> None:
    failing = ["sh", "-c", "cat >/dev/null; echo 'no route to the service' >&2; exit 3"]
    sm.store.register_rotation_function("broken", failing)
    with pytest.raises(sm.exceptions.InvalidRequestException) as info:
        sm.cancel_rotate_secret(SecretId="app")  # never set up for rotation
    assert error(info)[1] == NO_FUNCTION
    token = str(uuid.uuid4())
    with pytest.raises(sm.exceptions.InvalidRequestException) as info:
        sm.rotate_secret(SecretId="app", ClientRequestToken=token,
                         RotationLambdaARN="broken", RotationRules=AFTER_30)  # fmt: skip
    assert (
        "failed at step createSecret: the rotation function exited with status 3"
        in (error(info)[1])
        and "no route to the service" in error(info)[1]
    )
    described = sm.describe_secret(SecretId="app")
    assert described["VersionIdsToStages"][token] == ["AWSPENDING"]  # the empty version
    assert described["RotationEnabled"] is True and described["RotationLambdaARN"] == "broken"
    versions = sm.list_secret_version_ids(SecretId="app")["Versions"]
    assert token not in [v["VersionId"] for v in versions]  # only versions with a value
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId="app", VersionStage="AWSPENDING")

    cancelled = sm.cancel_rotate_secret(SecretId="app")
    assert cancelled["VersionId"] == token
    described = sm.describe_secret(SecretId="app")
    assert token not in described["VersionIdsToStages"]
    assert rotation_fields(described) == {
        "RotationEnabled": False, "RotationLambdaARN": "broken", "RotationRules": AFTER_30,
    }  # fmt: skip
    with pytest.raises(sm.exceptions.InvalidRequestException, match="not turned on"):
        sm.cancel_rotate_secret(SecretId="app")
    assert operations(repo_path)[-2:] == ["RotateSecret", "CancelRotateSecret"]

    # RotateSecret turns rotation on again; without rotating now, only its test runs, and fails
    before = commits(repo_path)
    with pytest.raises(sm.exceptions.InvalidRequestException) as info:
        sm.rotate_secret(SecretId="app", RotateImmediately=False)
    assert "rotation test of secret app failed" in error(info)[1]
    assert "at step testSecret" in error(info)[1] and "no route to the service" in error(info)[1]
    assert commits(repo_path) == before + 3  # the settings, saved; the test's version, removed
    assert operations(repo_path)[-3:] == ["RotateSecret", "PutSecretValue", "RotationTestEnded"]
    described = sm.describe_secret(SecretId="app")
    assert described["RotationEnabled"] is True and "NextRotationDate" in described
    assert "LastRotatedDate" not in described and len(described["VersionIdsToStages"]) == 1


RECORDER = """
import json, os, sys
from gitsm.rotation import client
event = json.load(sys.stdin)
sm = client()
seen = {"event": event, "store": os.environ["GITSM_REPO"],
        "described": sm.describe_secret(SecretId=event["SecretId"])["VersionIdsToStages"]}
got = sm.get_secret_value(SecretId=event["SecretId"], VersionId=event["ClientRequestToken"],
                          VersionStage="AWSPENDING")
seen["pending"] = {k: got[k] for k in ("VersionId", "SecretString", "VersionStages")}
with open(os.environ["GITSM_TEST_RECORD"], "a") as out:
    out.write(json.dumps(seen) + "\\n")
"""


def test_without_rotating_now_the_test_step_runs_on_a_temporary_pending_copy(
    sm: SecretsManagerClient, repo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """API reference, RotateSecret, RotateImmediately: "If you set RotateImmediately to false,
    Secrets Manager tests the rotation configuration by running the testSecret step of the Lambda
    rotation function. This test creates an AWSPENDING version of the secret and then removes
    it." What the step sees is what moto's AWS-verified
    test_rotate_secret_using_lambda_dont_rotate_immediately records on AWS: the token with
    AWSPENDING, holding the AWSCURRENT value, in the store itself (so through any client);
    afterwards the version is gone: the store has the settings and two commits that made and
    removed the version, which verify --range accepts."""
    import sys

    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("GITSM_TEST_RECORD", str(record))
    sm.store.register_rotation_function("recorder", [sys.executable, "-c", RECORDER])
    start = git(repo_path, "rev-parse", "HEAD").strip()
    before = commits(repo_path)
    versions = sm.list_secret_version_ids(SecretId="app", IncludeDeprecated=True)["Versions"]
    token = str(uuid.uuid4())
    answer = sm.rotate_secret(SecretId="app", ClientRequestToken=token, RotateImmediately=False,
                              RotationLambdaARN=ARN.format("recorder"), RotationRules=AFTER_30)  # fmt: skip
    assert "VersionId" not in answer
    [seen] = [json.loads(line) for line in record.read_text().splitlines()]
    assert seen["event"]["Step"] == "testSecret" and seen["event"]["ClientRequestToken"] == token
    assert seen["pending"] == {"VersionId": token, "SecretString": "first value",
                               "VersionStages": ["AWSPENDING"]}  # fmt: skip
    assert seen["described"][token] == ["AWSPENDING"] and seen["store"] == str(repo_path)
    assert operations(repo_path)[-3:] == ["RotateSecret", "PutSecretValue", "RotationTestEnded"]
    assert commits(repo_path) == before + 3
    described = sm.describe_secret(SecretId="app")
    assert token not in described["VersionIdsToStages"] and described["RotationEnabled"] is True
    assert (
        sm.list_secret_version_ids(SecretId="app", IncludeDeprecated=True)["Versions"] == versions
    )
    assert not list(repo_path.glob(f"secrets/app/~versions/{token}.json"))  # nor in the checkout
    assert [str(p) for p in verify_range(repo_path, f"{start}..HEAD")] == []
    git(repo_path, "fsck", "--strict")

    sm.create_secret(Name="empty")  # no value to test with: the step does not run
    sm.rotate_secret(SecretId="empty", RotateImmediately=False,
                     RotationLambdaARN="recorder", RotationRules=AFTER_30)  # fmt: skip
    assert len(record.read_text().splitlines()) == 1


def test_a_rotation_test_during_a_rotation_in_progress_leaves_its_label(
    sm: SecretsManagerClient, repo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another version holds AWSPENDING (a rotation that failed and waits for its retry),
    RotateImmediately=false makes the test's version in a scratch copy of the store: the
    rotation in progress keeps its label, and the store gets only the settings."""
    import sys

    pending = str(uuid.uuid4())
    sm.put_secret_value(SecretId="app", SecretString="next value", ClientRequestToken=pending,
                        VersionStages=["AWSPENDING"])  # fmt: skip
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("GITSM_TEST_RECORD", str(record))
    sm.store.register_rotation_function("recorder", [sys.executable, "-c", RECORDER])
    before = commits(repo_path)
    token = str(uuid.uuid4())
    sm.rotate_secret(SecretId="app", ClientRequestToken=token, RotateImmediately=False,
                     RotationLambdaARN=ARN.format("recorder"), RotationRules=AFTER_30)  # fmt: skip
    [seen] = [json.loads(line) for line in record.read_text().splitlines()]
    assert seen["described"][token] == ["AWSPENDING"] and seen["store"] != str(repo_path)
    assert seen["pending"]["SecretString"] == "first value"
    assert commits(repo_path) == before + 1 and operations(repo_path)[-1] == "RotateSecret"
    stages = sm.describe_secret(SecretId="app")["VersionIdsToStages"]
    assert stages[pending] == ["AWSPENDING"] and token not in stages
    assert not Path(seen["store"]).exists()  # the scratch copy is gone


def test_a_step_past_its_timeout_fails(sm: SecretsManagerClient) -> None:
    sm.store.register_rotation_function("slow", ["sleep", "30"], timeout_seconds=1)
    with pytest.raises(sm.exceptions.InvalidRequestException) as info:
        sm.rotate_secret(SecretId="app", RotationLambdaARN=ARN.format("slow"))
    assert "did not finish within its timeout of 1 s" in error(info)[1]


def test_rotation_functions_are_registered_by_commits(store: SecretStore, repo_path: Path) -> None:
    before = commits(repo_path)
    assert store.register_rotation_function("pw", PASSWORD) is True
    assert store.register_rotation_function("pw", PASSWORD) is False  # no change, no commit
    assert store.register_rotation_function("pw", PASSWORD, timeout_seconds=60) is True
    assert commits(repo_path) == before + 2
    assert store.rotation_functions()["pw"].timeout_seconds == 60
    assert operations(repo_path)[-1] == "RegisterRotationFunction"
    store.deregister_rotation_function("pw")
    assert store.rotation_functions() == {}
    with pytest.raises(ResourceNotFoundException):
        store.deregister_rotation_function("pw")
    for name, command in (("bad name!", PASSWORD), ("ok", []), ("ok", ["x\0y"])):
        with pytest.raises(InvalidParameterException):
            store.register_rotation_function(name, command)
    assert commits(repo_path) == before + 3
