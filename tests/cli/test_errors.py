"""Exit codes 252-255, the aws CLI's error lines, no traceback without --debug, no values shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gitsm.awsclient import SecretsManagerClient
from gitsm.cli.app import app
from tests.cli.conftest import Invoke

VALUE = "Hunter2-Very-Secret"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["get-secret-value", "--secret-id", "a", "--bogus"], "Unknown options: --bogus"),
        (["get-secret-value"], "the following arguments are required: --secret-id"),
        (
            ["delete-secret", "--secret-id", "a", "--recovery-window-in-days", "x"],
            "expected an integer",
        ),
        (["get-secret-value", "--secret-id", "a", "--query", "a["], "Bad value for --query"),
        (["get-secret-value", "--secret-id", "a", "--output", "xml"], "Invalid choice"),
        (["no-such-command"], "No such command"),
        (["create-secret", "--name", "a", "--tags", "Key"], "Invalid shorthand"),
        (["create-secret", "--cli-input-json", '{"Name": "a", "Type": "x"}'], "Unknown parameter"),
        (["get-secret-value", "--secret-id", "a", "--cli-binary-format", "hex"], "Invalid choice"),
    ],
)
def test_252_command_line_does_not_parse(cli: Invoke, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.exit_code == 252
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_252_includes_the_usage_hint(cli: Invoke) -> None:
    result = cli("get-secret-value")
    assert result.stderr.startswith("usage: gitsm [options] <command> [parameters]")
    assert result.stderr.rstrip().endswith(
        "gitsm: error: the following arguments are required: --secret-id"
    )


def test_253_environment(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["--repo", str(tmp_path / "none"), "list-secrets"])
    assert missing.exit_code == 253 and "gitsm init" in missing.stderr
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / ".git").mkdir()
    not_git = runner.invoke(app, ["--repo", str(tmp_path / "plain"), "list-secrets"])
    assert not_git.exit_code == 253
    assert "An error occurred" not in missing.stderr + not_git.stderr


def test_254_operation_errors(cli: Invoke) -> None:
    result = cli("get-secret-value", "--secret-id", "missing")
    assert result.exit_code == 254
    assert result.stderr.strip() == (
        "An error occurred (ResourceNotFoundException) when calling the GetSecretValue "
        "operation: Secrets Manager can't find the specified secret."
    )
    cli("create-secret", "--name", "a")
    unknown_key = cli("update-secret", "--secret-id", "a", "--kms-key-id", "alias/none")
    assert unknown_key.exit_code == 254 and "(EncryptionFailure)" in unknown_key.stderr
    window = cli("delete-secret", "--secret-id", "a", "--recovery-window-in-days", "3")
    assert window.exit_code == 254 and "(InvalidParameterException)" in window.stderr


@pytest.mark.in_process_only(reason="it breaks SecretsManagerClient.describe_secret by patching it")
def test_255_anything_else_and_debug(cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: SecretsManagerClient, **kwargs: object) -> dict[str, object]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(SecretsManagerClient, "describe_secret", broken)
    plain = cli("describe-secret", "--secret-id", "a")
    assert plain.exit_code == 255
    assert "disk on fire" in plain.stderr and "Traceback" not in plain.stderr
    debug = cli("describe-secret", "--secret-id", "a", "--debug")
    assert debug.exit_code == 255 and "Traceback" in debug.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["create-secret", "--name", "bad name!", "--secret-string", VALUE],
        [
            "create-secret",
            "--name",
            "dup",
            "--secret-string",
            VALUE,
            "--client-request-token",
            "z" * 32,
        ],
        ["put-secret-value", "--secret-id", "missing", "--secret-string", VALUE],
        [
            "put-secret-value",
            "--secret-id",
            "dup",
            "--secret-string",
            VALUE,
            "--client-request-token",
            "short",
        ],
        ["put-secret-value", "--secret-id", "dup", "--secret-binary", VALUE],
        [
            "put-secret-value",
            "--secret-id",
            "dup",
            "--secret-string",
            VALUE,
            "--secret-binary",
            "AAAA",
        ],
        ["put-secret-value", "--secret-id", "dup", "--secret-string", VALUE, "extra", "--debug"],
        [
            "update-secret",
            "--secret-id",
            "dup",
            "--secret-string",
            VALUE,
            "--kms-key-id",
            "alias/x",
            "--debug",
        ],
        [
            "put-secret-value",
            "--cli-input-json",
            f'{{"SecretId": "missing", "SecretString": "{VALUE}"}}',
        ],
    ],
)
def test_a_value_never_reaches_stderr(cli: Invoke, args: list[str]) -> None:
    cli("create-secret", "--name", "dup", "--secret-string", "other-value-1",
        "--client-request-token", "z" * 32)  # fmt: skip
    result = cli(*args)
    assert result.exit_code in (252, 254), result.stderr
    assert VALUE not in result.stderr and VALUE not in result.stdout
    assert "Hunter2" not in result.stderr
