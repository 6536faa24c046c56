"""The commands through typer's CliRunner: options, outputs and exit codes."""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gitsm.cli import awsmodel
from gitsm.cli.app import app
from tests.cli.conftest import ACCOUNT, REGION, Invoke

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")
VALUE = "s3cr3t-Value-42"


def out(result: object) -> object:
    assert result.exit_code == 0, (result.exit_code, result.stderr)  # type: ignore[attr-defined]
    return json.loads(result.stdout)  # type: ignore[attr-defined]


def test_help_shows_every_command_and_option() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    for op in awsmodel.OPERATIONS.values():
        assert op["command"] in top.stdout
        page = runner.invoke(app, [op["command"], "--help"])
        assert page.exit_code == 0, op["command"]
        hidden = set((op["paginator"] or {}).values())
        for member, option in op["options"].items():
            assert (option in page.stdout) != (member in hidden), (op["command"], option)
        assert "--cli-input-json" in page.stdout and "--generate-cli-skeleton" in page.stdout
    for verb in ("init", "log", "purge-deleted-secrets"):
        assert verb in top.stdout
        assert runner.invoke(app, [verb, "--help"]).exit_code == 0
    assert re.match(r"gitsm/\S+ Python/", runner.invoke(app, ["--version"]).stdout)


def test_create_get_describe(cli: Invoke) -> None:
    created = out(cli("create-secret", "--name", "prod/db", "--secret-string", VALUE))
    assert list(created) == ["ARN", "Name", "VersionId"]
    assert created["ARN"].startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-")
    assert uuid.UUID(created["VersionId"]).version == 4
    got = out(cli("get-secret-value", "--secret-id", "prod/db"))
    assert got["SecretString"] == VALUE and got["VersionStages"] == ["AWSCURRENT"]
    assert ISO.match(got["CreatedDate"])
    described = out(cli("describe-secret", "--secret-id", created["ARN"]))
    assert described["VersionIdsToStages"] == {created["VersionId"]: ["AWSCURRENT"]}
    assert "SecretString" not in described
    table = cli("describe-secret", "--secret-id", "prod/db", "--output", "table")
    assert "DescribeSecret" in table.stdout and "VersionIdsToStages" in table.stdout


def test_update_secret_reference_examples(cli: Invoke) -> None:
    out(cli("create-secret", "--name", "MyTestSecret", "--secret-string", VALUE))
    described = out(cli("secretsmanager", "update-secret", "--secret-id", "MyTestSecret",
                        "--description", "This is a new description for the secret."))  # fmt: skip
    assert list(described) == ["ARN", "Name"]
    new = '{"user":"diegor","password":"EXAMPLE-PASSWORD"}'
    updated = out(cli("update-secret", "--secret-id", "MyTestSecret", "--secret-string", new))
    assert list(updated) == ["ARN", "Name", "VersionId"]
    got = out(cli("get-secret-value", "--secret-id", "MyTestSecret"))
    assert got["SecretString"] == new and got["VersionId"] == updated["VersionId"]


def test_global_options_before_or_after_the_command(cli: Invoke) -> None:
    out(cli("create-secret", "--name", "a", "--secret-string", VALUE))
    before = cli("--output", "text", "--query", "Name", "get-secret-value", "--secret-id", "a")
    assert before.stdout == "a\n"
    after = cli("--output", "yaml", "get-secret-value", "--secret-id", "a", "--output", "text",
                "--query", "SecretString")  # fmt: skip
    assert after.stdout == VALUE + "\n"


def test_tokens_retries_and_labels(cli: Invoke) -> None:
    token = "t" * 32
    first = out(cli("create-secret", "--name", "a", "--secret-string", "v1",
                    "--client-request-token", token))  # fmt: skip
    assert first["VersionId"] == token
    again = out(cli("create-secret", "--name", "a", "--secret-string", "v1",
                    "--client-request-token", token))  # fmt: skip
    assert again == first
    put = out(cli("put-secret-value", "--secret-id", "a", "--secret-string", "v2",
                  "--version-stages", "AWSCURRENT", "BLUE"))  # fmt: skip
    assert put["VersionStages"] == ["AWSCURRENT", "BLUE"]
    moved = cli("update-secret-version-stage", "--secret-id", "a", "--version-stage", "BLUE",
                "--move-to-version-id", token, "--remove-from-version-id", put["VersionId"])  # fmt: skip
    assert list(out(moved)) == ["ARN", "Name"]
    versions = out(cli("list-secret-version-ids", "--secret-id", "a", "--query",
                       "Versions[].[VersionId, VersionStages]"))  # fmt: skip
    assert sorted(versions) == sorted([[put["VersionId"], ["AWSCURRENT"]],
                                       [token, ["AWSPREVIOUS", "BLUE"]]])  # fmt: skip


def test_tags_filters_delete_restore(cli: Invoke) -> None:
    out(cli("create-secret", "--name", "p/a", "--tags", "Key=team,Value=blue", "Key=env,Value=p"))
    out(cli("create-secret", "--name", "p/b", "--tags", '[{"Key":"team","Value":"red"}]'))
    assert cli("tag-resource", "--secret-id", "p/b", "--tags", "Key=x,Value=1").stdout == ""
    assert cli("untag-resource", "--secret-id", "p/a", "--tag-keys", "env", "nope").stdout == ""
    tags = out(cli("describe-secret", "--secret-id", "p/a", "--query", "Tags"))
    assert tags == [{"Key": "team", "Value": "blue"}]
    names = out(cli("list-secrets", "--filters", "Key=tag-value,Values=red,blue",
                    "--query", "SecretList[].Name"))  # fmt: skip
    assert names == ["p/a", "p/b"]
    deleted = out(cli("delete-secret", "--secret-id", "p/a", "--recovery-window-in-days", "7"))
    assert ISO.match(deleted["DeletionDate"])
    assert out(cli("list-secrets", "--query", "SecretList[].Name")) == ["p/b"]
    listed = cli("list-secrets", "--include-planned-deletion", "--query", "length(SecretList)")
    assert out(listed) == 2
    assert list(out(cli("restore-secret", "--secret-id", "p/a"))) == ["ARN", "Name"]
    forced = cli("delete-secret", "--secret-id", "p/b", "--force-delete-without-recovery")
    assert out(forced)["Name"] == "p/b"


def test_binary_values(cli: Invoke, tmp_path: Path) -> None:
    data = bytes(range(256))
    encoded = base64.b64encode(data).decode()
    out(cli("create-secret", "--name", "bin", "--secret-binary", encoded))
    got = out(cli("get-secret-value", "--secret-id", "bin"))
    assert got["SecretBinary"] == encoded and "SecretString" not in got
    out(cli("put-secret-value", "--secret-id", "bin", "--secret-binary", "raw text",
            "--cli-binary-format", "raw-in-base64-out"))  # fmt: skip
    got = out(cli("get-secret-value", "--secret-id", "bin", "--query", "SecretBinary"))
    assert base64.b64decode(got) == b"raw text"
    piped = cli("put-secret-value", "--secret-id", "bin", "--secret-binary", "fileb:///dev/stdin",
                input=b"\x00\xffpiped")  # fmt: skip
    assert piped.exit_code == 0, piped.stderr
    got = out(cli("get-secret-value", "--secret-id", "bin", "--query", "SecretBinary"))
    assert base64.b64decode(got) == b"\x00\xffpiped"


def test_cli_input_json_yaml_and_overrides(cli: Invoke, tmp_path: Path) -> None:
    doc = tmp_path / "in.json"
    doc.write_text(json.dumps({"Name": "j", "SecretString": VALUE, "Description": "from json",
                               "Tags": [{"Key": "k", "Value": "v"}]}))  # fmt: skip
    out(cli("create-secret", "--cli-input-json", f"file://{doc}", "--description", "override"))
    described = out(cli("describe-secret", "--secret-id", "j"))
    assert described["Description"] == "override" and described["Tags"] == [
        {"Key": "k", "Value": "v"}
    ]
    out(cli("update-secret", "--cli-input-yaml", "SecretId: j\nSecretString: y-value\n"))
    assert out(cli("get-secret-value", "--secret-id", "j", "--query", "SecretString")) == "y-value"


def test_skeletons(cli: Invoke) -> None:
    skeleton = out(cli("update-secret", "--generate-cli-skeleton"))
    assert skeleton == {"SecretId": "", "ClientRequestToken": "", "Description": "",
                        "KmsKeyId": "", "SecretBinary": None, "SecretString": ""}  # fmt: skip
    assert "SecretId: ''" in cli("update-secret", "--generate-cli-skeleton", "yaml-input").stdout
    sample = cli("update-secret", "--secret-id", "x", "--generate-cli-skeleton", "output",
                 "--query", "Name", "--output", "text")  # fmt: skip
    assert sample.stdout == "Name\n"
    missing = cli("update-secret", "--generate-cli-skeleton", "output")
    assert missing.exit_code == 252 and "--secret-id" in missing.stderr
    assert cli("update-secret", "--generate-cli-skeleton", "inptu").exit_code == 252


def test_list_secrets_pages_like_the_aws_cli(cli: Invoke) -> None:
    for n in range(5):
        out(cli("create-secret", "--name", f"s{n}"))
    names = ["s0", "s1", "s2", "s3", "s4"]
    assert out(cli("list-secrets", "--page-size", "2", "--query", "SecretList[].Name")) == names
    first = out(cli("list-secrets", "--max-items", "3", "--page-size", "2"))
    assert [s["Name"] for s in first["SecretList"]] == names[:3]
    rest = out(cli("list-secrets", "--starting-token", first["NextToken"], "--page-size", "2"))
    assert [s["Name"] for s in rest["SecretList"]] == names[3:] and "NextToken" not in rest
    manual = out(cli("list-secrets", "--max-results", "2"))
    assert len(manual["SecretList"]) == 2 and manual["NextToken"]
    assert cli("list-secrets", "--no-paginate", "--max-items", "2").exit_code == 252
    assert cli("list-secrets", "--starting-token", "bogus").exit_code == 252


def test_random_password_and_batch(cli: Invoke) -> None:
    pw = out(CliRunner().invoke(app, ["get-random-password", "--password-length", "20",
                                      "--exclude-punctuation", "--no-include-space"]))  # fmt: skip
    assert len(pw["RandomPassword"]) == 20 and pw["RandomPassword"].isalnum()
    out(cli("create-secret", "--name", "b1", "--secret-string", VALUE))
    batch = out(cli("batch-get-secret-value", "--secret-id-list", "b1", "missing"))
    assert [v["Name"] for v in batch["SecretValues"]] == ["b1"]
    assert batch["Errors"][0]["ErrorCode"] == "ResourceNotFoundException"


def test_store_selection(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    out(runner.invoke(app, ["--repo", str(store), "create-secret", "--name", "sel"]))
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["describe-secret", "--secret-id", "sel"]).exit_code == 253
    monkeypatch.setenv("GITSM_REPO", str(store))
    assert out(runner.invoke(app, ["describe-secret", "--secret-id", "sel"]))["Name"] == "sel"
    monkeypatch.delenv("GITSM_REPO")
    (store / "deep" / "dir").mkdir(parents=True)
    monkeypatch.chdir(store / "deep" / "dir")
    assert out(runner.invoke(app, ["describe-secret", "--secret-id", "sel"]))["Name"] == "sel"
    assert out(runner.invoke(app, ["describe-secret", "--secret-id", "sel", "--region", REGION]))
    # --region overrides the store's region for the call: the ARNs it makes and accepts
    made = out(runner.invoke(app, ["create-secret", "--name", "sel2", "--region", "eu-west-1"]))
    assert made["ARN"].startswith(f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:sel2-")
    by_arn = ["describe-secret", "--secret-id", made["ARN"]]
    assert out(runner.invoke(app, [*by_arn, "--region", "eu-west-1"]))["Name"] == "sel2"
    assert runner.invoke(app, by_arn).exit_code == 254  # that ARN is not of the store's region
    plain = out(runner.invoke(app, ["create-secret", "--name", "sel3"]))
    assert plain["ARN"].startswith(f"arn:aws:secretsmanager:{REGION}:")  # the config is unchanged


def test_init_is_idempotent(store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    again = out(runner.invoke(app, ["init", str(store)]))
    assert again["Created"] is False and again["AccountId"] == ACCOUNT and again["Region"] == REGION
    bare = out(runner.invoke(app, ["--repo", str(tmp_path / "b.git"), "init", "--bare"]))
    assert bare["Bare"] is True and bare["Created"] is True and len(bare["AccountId"]) == 12
    assert out(runner.invoke(app, ["init", str(tmp_path / "b.git")]))["Created"] is False


def test_log_shows_operations_never_values(cli: Invoke, store: Path) -> None:
    created = out(cli("create-secret", "--name", "lg", "--secret-string", VALUE))
    token = "k" * 40
    out(cli("put-secret-value", "--secret-id", "lg", "--secret-string", VALUE + "2",
            "--client-request-token", token))  # fmt: skip
    out(cli("create-secret", "--name", "other"))
    result = cli("log")
    assert VALUE not in result.stdout
    ops = out(result)["Operations"]
    assert [o["Operation"] for o in ops] == [
        "CreateSecret",
        "PutSecretValue",
        "CreateSecret",
        "Init",
    ]
    assert ops[1]["VersionId"] == token and ops[1]["ClientRequestToken"] == token
    assert ops[1]["Name"] == "lg" and ops[1]["ARN"] == created["ARN"]
    assert ISO.match(ops[0]["Date"]) and "<" in ops[0]["Author"]
    assert ops[0]["Committer"] == ops[0]["Author"]
    for secret_id in ("lg", created["ARN"], created["ARN"][:-7]):
        mine = out(cli("log", "--secret-id", secret_id, "--query", "Operations[].Operation"))
        assert mine == ["PutSecretValue", "CreateSecret"]
    assert len(out(cli("log", "--max-items", "1"))["Operations"]) == 1
    text = cli("log", "--output", "text").stdout.splitlines()
    assert len(text) == 4 and all(line.startswith("OPERATIONS\t") for line in text)


@pytest.mark.in_process_only(
    reason="it moves the store's clock forward by patching SecretStore.open"
)
def test_purge_deleted_secrets(cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from gitsm.model import utcnow
    from gitsm.store import SecretStore

    out(cli("create-secret", "--name", "gone"))
    out(cli("delete-secret", "--secret-id", "gone", "--recovery-window-in-days", "7"))
    assert out(cli("purge-deleted-secrets")) == {"PurgedSecrets": []}
    opened = SecretStore.open.__func__  # type: ignore[attr-defined]

    def later(cls: type[SecretStore], *args: object, **kwargs: object) -> SecretStore:
        return opened(cls, *args, clock=lambda: utcnow() + timedelta(days=8), **kwargs)

    monkeypatch.setattr(SecretStore, "open", classmethod(later))
    assert out(cli("purge-deleted-secrets")) == {"PurgedSecrets": ["gone"]}
    assert (
        out(cli("log", "--max-items", "1"))["Operations"][0]["Operation"] == "PurgeDeletedSecrets"
    )
