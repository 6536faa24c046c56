"""Rotation on the command line: rotate-secret and cancel-rotate-secret (generated from the AWS
model), ``gitsm rotation ...``, ``gitsm rotate-due`` and ``run-lambda``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from gitsm.store import SecretStore
from tests.cli.conftest import Invoke, run_gitsm
from tests.cli.test_commands import out
from tests.conftest import Clock

EVENT = {"Step": "testSecret", "SecretId": "arn", "ClientRequestToken": "t" * 32}


def test_functions_rotate_and_cancel(cli: Invoke) -> None:
    registered = out(cli("rotation", "register-function", "noop",
                         "--command", "sh -c 'cat >/dev/null'", "--timeout-seconds", "60"))  # fmt: skip
    assert registered == {"FunctionName": "noop", "Command": ["sh", "-c", "cat >/dev/null"],
                          "TimeoutSeconds": 60, "Changed": True}  # fmt: skip
    listed = out(cli("rotation", "list-functions"))
    assert [f["FunctionName"] for f in listed["RotationFunctions"]] == ["noop"]
    out(cli("create-secret", "--name", "app", "--secret-string", "first value"))
    started = out(cli("rotate-secret", "--secret-id", "app", "--rotation-lambda-arn", "noop",
                      "--rotation-rules", "ScheduleExpression=rate(10 days),Duration=4h",
                      "--no-rotate-immediately"))  # fmt: skip
    assert set(started) == {"ARN", "Name"}
    described = out(cli("describe-secret", "--secret-id", "app"))
    assert described["RotationEnabled"] is True and described["RotationLambdaARN"] == "noop"
    assert described["RotationRules"] == {"AutomaticallyAfterDays": 10, "Duration": "4h",
                                          "ScheduleExpression": "rate(10 days)"}  # fmt: skip
    assert described["NextRotationDate"].endswith("T04:00:00+00:00")
    failed = cli("rotate-secret", "--secret-id", "app")  # noop puts no version: it fails
    assert failed.exit_code == 254
    assert "(InvalidRequestException) when calling the RotateSecret operation" in failed.stderr
    assert "put no version" in failed.stderr
    cancelled = out(cli("cancel-rotate-secret", "--secret-id", "app"))
    assert set(cancelled) == {"ARN", "Name", "VersionId"}
    assert out(cli("describe-secret", "--secret-id", "app"))["RotationEnabled"] is False
    again = cli("cancel-rotate-secret", "--secret-id", "app")
    assert again.exit_code == 254 and "not turned on" in again.stderr
    gone = out(cli("rotation", "deregister-function", "noop"))
    assert gone == {"FunctionName": "noop"}
    bad = cli("rotation", "register-function", "x", "--command", "'unclosed")
    assert bad.exit_code == 252 and "--command" in bad.stderr


def test_rotate_due_reports_each_failure_and_exits_254(cli: Invoke, store: Path) -> None:
    nothing = out(cli("rotate-due"))
    assert nothing == {"Rotated": [], "Failed": []}
    # passes the test that RotateImmediately=false runs (testSecret), fails a rotation
    failing = ["sh", "-c", "grep -q testSecret && exit 0; echo 'db down' >&2; exit 2"]
    past = SecretStore.open(store, clock=Clock(datetime(2020, 1, 1, tzinfo=UTC)))
    past.register_rotation_function("broken", failing)
    past.create_secret("app", secret_string="first value")
    past.rotate_secret("app", rotation_lambda_arn="broken", rotate_immediately=False,
                       rotation_rules={"AutomaticallyAfterDays": 1})  # due since 2020  # fmt: skip
    result = cli("rotate-due")
    assert result.exit_code == 254
    report = json.loads(result.stdout)
    assert report["Rotated"] == [] and [f["Name"] for f in report["Failed"]] == ["app"]
    error = report["Failed"][0]["Error"]
    assert error["Code"] == "InvalidRequestException" and "db down" in error["Message"]
    assert "1 of 1 due rotation(s) failed (app)" in result.stderr
    pending = report["Failed"][0]["VersionId"]
    stages = out(cli("describe-secret", "--secret-id", "app"))["VersionIdsToStages"]
    assert stages[pending] == ["AWSPENDING"]
    again = json.loads(cli("rotate-due").stdout)  # the failed rotation is retried, same token
    assert again["Failed"][0]["VersionId"] == pending


def test_run_lambda_runs_a_handler_file_and_fails_on_its_exception(tmp_path: Path) -> None:
    handler = tmp_path / "handler.py"
    handler.write_text(
        "import sys\n"
        "def lambda_handler(event, context):\n"
        "    print('step', event['Step'], file=sys.stderr)\n"
        "def broken(event, context):\n"
        "    raise RuntimeError('cannot reach the service')\n"
    )
    event = json.dumps(EVENT).encode()
    done = run_gitsm(["rotation", "run-lambda", "handler.py"], input=event, cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == b"step testSecret\n"
    failed = run_gitsm(["rotation", "run-lambda", "handler.py:broken"], input=event, cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stderr.rstrip().endswith(b"RuntimeError: cannot reach the service")
    not_an_event = run_gitsm(["rotation", "run-lambda", "handler.py"], input=b"[]", cwd=tmp_path)
    assert not_an_event.returncode == 1 and b"not a rotation event" in not_an_event.stderr


def test_a_default_function_rotates_secrets_without_a_function(cli: Invoke) -> None:
    out(cli("create-secret", "--name", "app", "--secret-string", "first value"))
    refused = cli("rotate-secret", "--secret-id", "app")
    assert (
        refused.exit_code == 254 and "doesn't already have a Lambda function ARN" in refused.stderr
    )
    unknown = cli("rotation", "set-default-function", "password")
    assert unknown.exit_code == 254 and "(ResourceNotFoundException)" in unknown.stderr
    out(cli("rotation", "register-function", "password", "--command",
            "gitsm rotation run-lambda gitsm.rotation.password"))  # fmt: skip
    chosen = out(cli("rotation", "set-default-function", "password"))
    assert chosen == {"DefaultFunctionName": "password", "Changed": True}
    assert out(cli("rotation", "list-functions"))["DefaultFunctionName"] == "password"
    rotated = out(cli("rotate-secret", "--secret-id", "app",
                      "--rotation-rules", "AutomaticallyAfterDays=10"))  # fmt: skip
    described = out(cli("describe-secret", "--secret-id", "app"))
    assert described["VersionIdsToStages"][rotated["VersionId"]] == ["AWSCURRENT"]
    assert described["RotationEnabled"] is True and "RotationLambdaARN" not in described
    assert described["RotationRules"] == {"AutomaticallyAfterDays": 10}
    value = out(cli("get-secret-value", "--secret-id", "app"))["SecretString"]
    assert value != "first value" and len(value) == 32
    in_use = cli("rotation", "deregister-function", "password")
    assert in_use.exit_code == 254 and "is the store's default" in in_use.stderr
    cleared = out(cli("rotation", "set-default-function", "--none"))
    assert cleared == {"DefaultFunctionName": None, "Changed": True}
    both = cli("rotation", "set-default-function", "password", "--none")
    assert both.exit_code == 252 and "either NAME or --none" in both.stderr
