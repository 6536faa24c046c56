"""The lean path (gitsm.cli.lean) prints, fails and exits exactly as the typer commands do, and
leaves every command line it does not fully understand to typer."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gitsm.cli import lean
from gitsm.cli.app import app

TOKEN = "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1"

SAME = [
    ["get-secret-value", "--secret-id", "app/db"],
    ["get-secret-value", "--secret-id", "app/db", "--version-stage", "AWSPREVIOUS"],
    ["get-secret-value", "--secret-id", "nope"],
    ["get-secret-value"],
    ["--output", "text", "get-secret-value", "--secret-id", "app/db"],
    ["get-secret-value", "--secret-id", "app/db", "--output", "yaml", "--query", "Name"],
    ["--query", "SecretString", "--output", "text", "get-secret-value", "--secret-id", "app/db"],
    ["get-secret-value", "--secret-id", "app/db", "--query", "bad["],
    ["--output", "bogus", "get-secret-value", "--secret-id", "app/db"],
    ["secretsmanager", "describe-secret", "--secret-id", "app/db"],
    ["list-secrets"],
    ["list-secrets", "--max-items", "1"],
    ["list-secrets", "--filters", "Key=name,Values=app/", "Key=tag-key,Values=team"],
    ["list-secrets", "--sort-order", "desc", "--no-include-planned-deletion", "--no-paginate"],
    ["list-secrets", "--no-paginate", "--max-items", "1"],
    ["batch-get-secret-value", "--secret-id-list", "app/db", "app/api", "--debug"],
    ["put-secret-value", "--secret-id", "app/api", "--secret-string", "s3cret-value",
     "--client-request-token", TOKEN],
    ["put-secret-value", "--secret-id", "app/api", "--secret-string", "other-value",
     "--client-request-token", TOKEN],
    ["update-secret", "--secret-id", "app/db", "--description", "the db"],
    ["update-secret", "--secret-id", "app/db", "--cli-binary-format", "raw"],
    ["tag-resource", "--secret-id", "app/db", "--tags", "Key=team,Value=core"],
    ["replicate-secret-to-regions", "--secret-id", "app/db", "--add-replica-regions",
     "Region=eu-west-1", "Region=ap-south-1,KmsKeyId=alias/aws/secretsmanager"],
    ["remove-regions-from-replication", "--secret-id", "app/db", "--remove-replica-regions",
     "eu-west-1", "us-west-9"],
    ["--region", "eu-west-1", "stop-replication-to-replica", "--secret-id", "app/db"],
    ["create-secret", "--name", "app/new", "--secret-string", "v", "--add-replica-regions",
     "Region=us-west-2"],
]  # fmt: skip
"""Command lines the lean path runs; each is run by typer first (writes are repeated, so each
one's second run changes nothing or fails alike)."""

TYPERS = [
    [],
    ["--help"],
    ["--version"],
    ["secretsmanager"],
    ["init", "x"],
    ["materialize", "--help"],
    ["get-secret-value", "--help"],
    ["get-secret-value", "--secret-id=app/db"],
    ["get-secret-value", "--secret-id", "app/db", "--secret-id", "app/api"],
    ["get-secret-value", "--secret-id", "-x"],
    ["get-secret-value", "--secret-id"],
    ["get-secret-value", "--secret-id", "app/db", "--unknown"],
    ["get-secret-value", "--secret-id", "app/db", "stray"],
    ["get-secret-value", "--", "--secret-id", "app/db"],
    ["get-secret-value", "--generate-cli-skeleton"],
    ["--no-debug", "get-secret-value", "--secret-id", "app/db"],
    ["--repo", "--debug", "get-secret-value"],
    ["batch-get-secret-value", "--secret-id-list"],
    ["list-secrets", "--include-planned-deletion", "--no-include-planned-deletion"],
]
"""Command lines the lean path leaves to typer (help, errors of the command line, other verbs)."""


@pytest.fixture
def secrets_made(store: Path) -> Path:
    for name, value in (("app/db", "hunter2-db"), ("app/api", "hunter2-api")):
        result = CliRunner().invoke(
            app, ["--repo", str(store), "create-secret", "--name", name, "--secret-string", value]
        )
        assert result.exit_code == 0, result.stderr
    return store


@pytest.mark.parametrize("args", SAME, ids=" ".join)
def test_the_lean_path_answers_like_typer(
    secrets_made: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--repo", str(secrets_made), *args]
    typer_run = CliRunner().invoke(app, argv)
    code = lean.dispatch(argv)
    out, err = capsys.readouterr()
    assert code is not None, "the lean path declined a plain command line"
    assert (code, out, err) == (typer_run.exit_code, typer_run.stdout, typer_run.stderr)


@pytest.mark.parametrize("args", TYPERS, ids=" ".join)
def test_anything_else_is_left_to_typer(
    secrets_made: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert lean.dispatch(["--repo", str(secrets_made), *args]) is None
    assert capsys.readouterr() == ("", "")


def test_shell_completion_is_left_to_typer(
    secrets_made: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(lean.COMPLETE_VAR, "complete_bash")
    assert lean.dispatch(["--repo", str(secrets_made), "list-secrets"]) is None


def test_parse_gives_typer_s_values() -> None:
    values = lean.parse(
        "ListSecrets",
        ["--filters", "Key=name,Values=a", "Key=name,Values=b", "--no-include-planned-deletion",
         "--page-size", "5", "--repo", "r", "--debug"],
    )  # fmt: skip
    assert values == {
        "m_Filters": ["Key=name,Values=a", "Key=name,Values=b"],
        "m_IncludePlannedDeletion": False,
        "p_PageSize": "5",
        "g_repo": "r",
        "g_debug": True,
    }
