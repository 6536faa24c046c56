"""``gitsm keys ...`` and ``--kms-key-id`` through the CLI: local keys, aliases, recipients, rekey
and its exposure report, in real stores."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pyrage import x25519
from typer.testing import CliRunner

from gitsm import paths
from gitsm.cli.app import app
from tests.cli.conftest import GITSM_BIN, Invoke, run_gitsm
from tests.conftest import git

VALUE = "s3cr3t-Value-42"


def run_with(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed ``gitsm`` with its own environment (as CI would run it)."""
    return subprocess.run([str(GITSM_BIN), *args], capture_output=True, text=True, env=env)


def out(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    return json.loads(result.stdout) if result.stdout.strip() else None


def fails(result: Any, code: int, *words: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    for word in words:
        assert word in result.stderr, result.stderr
    return str(result.stderr)


def commits(store: Path) -> int:
    return int(git(store, "rev-list", "--count", "HEAD"))


def new_key(cli: Invoke) -> str:
    created = out(cli("keys", "create-key"))
    assert set(created) == {"KeyId", "Provider", "KeyRing"} and created["Provider"] == "local"
    return str(created["KeyId"])


@pytest.fixture
def identity() -> Any:
    return x25519.Identity.generate()


def test_create_key_prints_an_id_and_key_material_only_on_request(
    cli: Invoke, store: Path, tmp_path: Path
) -> None:
    before = commits(store)
    key_id = new_key(cli)
    assert (Path(os.environ["GITSM_HOME"]) / "keys" / f"{key_id}.key").stat().st_mode & 0o077 == 0
    exported = out(cli("keys", "create-key", "--export"))
    entry = exported["LocalKeysEntry"]
    assert entry.startswith(exported["KeyId"] + ":") and len(entry) > 60
    assert out(cli("keys", "export-key", key_id))["LocalKeysEntry"].startswith(key_id + ":")
    assert commits(store) == before  # keys live in the key ring, not in the store
    unknown = cli("keys", "export-key", "00000000-0000-4000-8000-000000000000")
    fails(unknown, 254, "(ResourceNotFoundException) when calling the ExportKey operation")

    # The exported entry is all CI needs (GITSM_LOCAL_KEYS, an empty key ring): a subprocess reads.
    out(cli("keys", "create-alias", "alias/ci", "--recipient", exported["KeyId"]))
    out(cli("create-secret", "--name", "ci/token", "--secret-string", VALUE,
            "--kms-key-id", "alias/ci"))  # fmt: skip
    ci_env = {**os.environ, "GITSM_HOME": str(tmp_path / "ci-home"), "GITSM_LOCAL_KEYS": entry}
    args = ["--repo", str(store), "get-secret-value", "--secret-id", "ci/token"]
    args += ["--query", "SecretString", "--output", "text"]
    done = run_with(args, ci_env)
    assert done.returncode == 0 and done.stdout == VALUE + "\n", done.stderr
    listed = run_with(["--repo", str(store), "keys", "list"], ci_env)
    held = json.loads(listed.stdout)["HeldKeys"]
    assert held == [{"Provider": "local", "KeyId": exported["KeyId"]}]
    assert entry.split(":", 1)[1] not in listed.stdout + listed.stderr


def test_alias_lifecycle_one_commit_each(cli: Invoke, store: Path, identity: Any) -> None:
    key_id, recipient = new_key(cli), str(identity.to_public())
    before = commits(store)
    created = out(cli("keys", "create-alias", "alias/team", "--recipient", key_id, recipient))
    assert created == {
        "AliasName": "alias/team",
        "IsDefault": False,
        "UsableHere": True,
        "Recipients": [
            {"Provider": "local", "KeyId": key_id, "UsableHere": True},
            {"Provider": "age", "KeyId": recipient, "UsableHere": False},
        ],
    }
    assert commits(store) == before + 1
    assert git(store, "log", "-1", "--format=%s").strip() == "PutKeyAlias"
    assert git(store, "status", "--porcelain") == ""
    assert out(cli("keys", "describe-alias", "alias/team")) == created

    out(cli("create-secret", "--name", "app/a", "--secret-string", VALUE,
            "--kms-key-id", "alias/team"))  # fmt: skip
    out(cli("create-secret", "--name", "app/b", "--secret-string", VALUE))  # the default key
    listing = out(cli("keys", "list"))
    aliases = {a["AliasName"]: a for a in listing["Aliases"]}
    assert listing["DefaultKmsKeyId"] == "alias/aws/secretsmanager"
    assert aliases["alias/team"]["SecretCount"] == 1
    assert aliases["alias/aws/secretsmanager"]["IsDefault"] is True
    assert {"Provider": "local", "KeyId": key_id} in listing["HeldKeys"]
    text = cli("keys", "list", "--query", "Aliases[].AliasName", "--output", "text")
    assert text.stdout.split() == ["alias/aws/secretsmanager", "alias/team"]

    other = new_key(cli)
    added = out(cli("keys", "add-recipient", "alias/team", other))
    assert [r["KeyId"] for r in added["Recipients"]] == [key_id, recipient, other]
    removed = cli("keys", "remove-recipient", "alias/team", recipient, other)
    assert [r["KeyId"] for r in out(removed)["Recipients"]] == [key_id]
    assert "gitsm keys rekey --alias alias/team" in removed.stderr
    assert commits(store) == before + 5

    fails(cli("keys", "delete-alias", "alias/team"), 254,
          "(InvalidRequestException) when calling the DeleteKeyAlias operation", "in use")  # fmt: skip
    out(cli("keys", "create-alias", "alias/spare", "--recipient", key_id))
    assert cli("keys", "delete-alias", "alias/spare").stdout == ""
    fails(cli("keys", "describe-alias", "alias/spare"), 254,
          "(ResourceNotFoundException) when calling the DescribeKeyAlias operation")  # fmt: skip


def test_bad_alias_commands_fail_cleanly_and_change_nothing(cli: Invoke, store: Path) -> None:
    key_id = new_key(cli)
    out(cli("keys", "create-alias", "alias/one", "--recipient", key_id))
    before = commits(store)
    fails(cli("keys", "create-alias", "alias/x"), 252, "--recipient")
    fails(cli("keys", "create-alias", "alias/one", "--recipient", key_id), 254,
          "(ResourceExistsException)")  # fmt: skip
    fails(cli("keys", "create-alias", "team", "--recipient", key_id), 254,
          "(InvalidParameterException)", "Invalid key alias")  # fmt: skip
    fails(cli("keys", "create-alias", "alias/x", "--recipient", "not-a-key"), 254,
          "No key provider recognises 'not-a-key'")  # fmt: skip
    fails(cli("keys", "add-recipient", "alias/nope", key_id), 254, "(ResourceNotFoundException)")
    fails(cli("keys", "remove-recipient", "alias/one", new_key(cli)), 254,
          "is not a recipient of alias/one")  # fmt: skip
    fails(cli("keys", "remove-recipient", "alias/one", key_id), 254, "without recipients")
    fails(cli("keys", "rekey"), 252, "name what to re-key")
    fails(cli("keys", "rekey", "--secret-id", "a", "--prefix", "b"), 252, "not allowed with")
    fails(cli("keys", "rekey", "--all", "--prefix", "b"), 252, "not allowed with")
    assert commits(store) == before


def test_age_writers_need_only_the_recipient_and_readers_the_identity(
    cli: Invoke, store: Path, identity: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITSM_AGE_KEY", raising=False)
    monkeypatch.delenv("GITSM_AGE_IDENTITY_FILE", raising=False)
    recipient = str(identity.to_public())
    out(cli("keys", "create-alias", "alias/age", "--recipient", recipient))
    out(cli("create-secret", "--name", "app/age", "--secret-string", VALUE,
            "--kms-key-id", "alias/age"))  # fmt: skip
    out(cli("put-secret-value", "--secret-id", "app/age", "--secret-string", VALUE + "-2"))
    refused = cli("get-secret-value", "--secret-id", "app/age")
    stderr = fails(refused, 254, "(DecryptionFailure) when calling the GetSecretValue", recipient)
    assert VALUE not in stderr + refused.stdout
    monkeypatch.setenv("GITSM_AGE_KEY", str(identity))
    got = out(cli("get-secret-value", "--secret-id", "app/age"))
    assert got["SecretString"] == VALUE + "-2"
    assert out(cli("keys", "describe-alias", "alias/age"))["UsableHere"] is True
    assert str(identity) not in cli("keys", "list").stdout  # identities are never listed


def test_rekey_rewraps_and_reports_what_removed_recipients_could_read(
    cli: Invoke, store: Path, identity: Any
) -> None:
    key_id, recipient = new_key(cli), str(identity.to_public())
    out(cli("keys", "create-alias", "alias/team", "--recipient", key_id, recipient))
    first = out(cli("create-secret", "--name", "team/db", "--secret-string", VALUE,
                    "--kms-key-id", "alias/team"))["VersionId"]  # fmt: skip
    second = out(cli("put-secret-value", "--secret-id", "team/db",
                     "--secret-string", VALUE + "-2"))["VersionId"]  # fmt: skip
    out(cli("create-secret", "--name", "other/x", "--secret-string", VALUE))  # default key
    out(cli("keys", "remove-recipient", "alias/team", recipient))
    before = commits(store)

    done = cli("keys", "rekey", "--alias", "alias/team")
    report = out(done)
    assert commits(store) == before + 1
    assert git(store, "log", "-1", "--format=%s").strip().startswith("Rekey")
    assert sorted(r["VersionId"] for r in report["Rewrapped"]) == sorted([first, second])
    assert report["RemovedRecipients"] == [f"age:{recipient}"]
    exposed = {e["VersionId"]: e for e in report["Exposures"]}
    assert set(exposed) == {first, second}
    assert exposed[second]["VersionStages"] == ["AWSCURRENT"] and exposed[second]["InTree"]
    assert exposed[first]["VersionStages"] == ["AWSPREVIOUS"]
    assert all(e["Recipients"] == [f"age:{recipient}"] for e in exposed.values())
    assert report["SecretsToRotate"] == ["team/db"]
    assert "Rotate these values" in report["Hint"] and "rotate these values" in done.stderr
    assert git(store, "status", "--porcelain") == ""

    # Re-keying again changes nothing; history still tells (exposure-report, also by recipient).
    again = out(cli("keys", "rekey", "--all"))
    assert again["Rewrapped"] == [] and again["SecretsInScope"] == 2
    assert commits(store) == before + 1
    only = out(cli("keys", "exposure-report", "--recipient", recipient,
                   "--query", "Exposures[].VersionId"))  # fmt: skip
    assert sorted(only) == sorted([first, second])
    assert out(cli("keys", "exposure-report", "--prefix", "other/")) == {
        "Exposures": [], "SecretsToRotate": []
    }  # fmt: skip
    one = out(cli("keys", "rekey", "--secret-id", "team/db", "--force"))
    assert len(one["Rewrapped"]) == 2 and one["SecretsInScope"] == 1
    assert VALUE not in json.dumps(one)


@pytest.mark.parametrize(
    "key", ["alias/nope", "00000000-0000-4000-8000-000000000000", "not-a-key", "age1zzz"]
)
def test_an_unknown_kms_key_id_is_an_encryption_failure_and_nothing_is_written(
    cli: Invoke, store: Path, key: str
) -> None:
    out(cli("create-secret", "--name", "app/kept", "--secret-string", VALUE))
    before = (commits(store), git(store, "rev-parse", "HEAD"))
    for args, op in (
        (["create-secret", "--name", "app/new", "--secret-string", VALUE], "CreateSecret"),
        (
            ["update-secret", "--secret-id", "app/kept", "--secret-string", "other-1"],
            "UpdateSecret",
        ),
        (["update-secret", "--secret-id", "app/kept"], "UpdateSecret"),
    ):
        result = cli(*args, "--kms-key-id", key)
        stderr = fails(result, 254, f"(EncryptionFailure) when calling the {op} operation", key)
        assert VALUE not in stderr and result.stdout == ""
    assert (commits(store), git(store, "rev-parse", "HEAD")) == before
    assert git(store, "status", "--porcelain") == ""
    assert out(cli("list-secrets", "--query", "SecretList[].Name")) == ["app/kept"]
    described = out(cli("describe-secret", "--secret-id", "app/kept"))
    assert "KmsKeyId" not in described or described["KmsKeyId"] != key


def test_the_installed_entry_point_runs_keys_verbs(store: Path) -> None:
    done = run_gitsm(["keys", "list", "--repo", str(store), "--output", "yaml"])
    assert done.returncode == 0, done.stderr
    assert b"DefaultKmsKeyId: alias/aws/secretsmanager" in done.stdout
    bare = run_gitsm(["keys"])
    assert bare.returncode == 252 and b"create-alias" in bare.stdout + bare.stderr


def test_a_malformed_key_source_is_an_environment_failure(
    cli: Invoke, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITSM_LOCAL_KEYS", "not-an-entry")
    for args in (["keys", "list"], ["keys", "create-key"]):
        result = cli(*args)
        fails(result, 253, "GITSM_LOCAL_KEYS is malformed: entry 1 of 1 is not")
        assert "Internal error" not in result.stderr
        assert "not-an-entry" not in result.stderr  # an entry may be key material: never shown


# -- the default key -----------------------------------------------------------------------------


def ring() -> list[str]:
    """The files of this test's key ring ($GITSM_HOME/keys)."""
    directory = Path(os.environ["GITSM_HOME"]) / "keys"
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def head(store: Path) -> str:
    return git(store, "rev-parse", "HEAD").strip()


def stanza_providers(store: Path, name: str, version_id: str) -> list[str]:
    doc = json.loads(git(store, "show", f"HEAD:{paths.version_path(name, version_id)}"))
    return [s["provider"] for s in doc["keys"]]


def test_set_default_commits_once_and_prints_what_changed(
    cli: Invoke, store: Path, identity: Any
) -> None:
    recipient = str(identity.to_public())
    out(cli("keys", "create-alias", "alias/team", "--recipient", recipient))
    before = commits(store)
    done = cli("keys", "set-default", "alias/team")
    assert out(done) == {"DefaultKmsKeyId": "alias/team", "Changed": True}
    assert done.stderr == ""  # no remote: nothing to warn about
    assert commits(store) == before + 1
    trailers = git(store, "log", "-1", "--format=%(trailers:only,unfold)").split("\n")[:-2]
    assert trailers == ["Gitsm-Operation: SetDefaultKey", "Gitsm-Key-Id: alias/team"]
    assert git(store, "show", "--name-only", "--format=", "HEAD").split() == [".gitsm/config.yaml"]
    assert git(store, "status", "--porcelain") == ""

    again = out(cli("keys", "set-default", "alias/team"))
    assert again == {"DefaultKmsKeyId": "alias/team", "Changed": False}
    assert commits(store) == before + 1

    assert out(cli("keys", "set-default", recipient))["Changed"] is True
    assert f"Gitsm-Key-Id: {recipient}" in git(store, "log", "-1", "--format=%B")
    assert out(cli("keys", "list"))["DefaultKmsKeyId"] == recipient
    made = out(cli("create-secret", "--name", "app/db", "--secret-string", VALUE))
    assert stanza_providers(store, "app/db", made["VersionId"]) == ["age"]
    assert ring() == []  # no local key was made for it


@pytest.mark.parametrize(
    "key", ["alias/nope", "00000000-0000-4000-8000-000000000000", "not-a-key", "age1zzz"]
)
def test_set_default_to_an_unknown_key_fails_and_writes_nothing(
    cli: Invoke, store: Path, key: str
) -> None:
    before = head(store)
    result = cli("keys", "set-default", key)
    fails(result, 254, "(InvalidParameterException) when calling the SetDefaultKey operation", key)
    assert result.stdout == "" and head(store) == before
    assert out(cli("keys", "list"))["DefaultKmsKeyId"] == "alias/aws/secretsmanager"
    fails(cli("keys", "set-default"), 252, "KEY")


def test_init_with_kms_key_id(tmp_path: Path, identity: Any) -> None:
    runner = CliRunner()
    recipient, path = str(identity.to_public()), tmp_path / "team"
    made = runner.invoke(app, ["init", str(path), "--kms-key-id", recipient])
    assert out(made)["DefaultKmsKeyId"] == recipient and made.stderr == ""
    assert commits(path) == 1
    secret = out(runner.invoke(app, ["--repo", str(path), "create-secret", "--name", "first",
                                     "--secret-string", VALUE]))  # fmt: skip
    assert stanza_providers(path, "first", secret["VersionId"]) == ["age"] and ring() == []

    arn = "arn:aws:kms:us-west-2:123456789012:key/EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"
    again = runner.invoke(app, ["init", str(path), "--kms-key-id", arn])
    assert out(again)["DefaultKmsKeyId"] == recipient and out(again)["Created"] is False
    assert "was not applied" in again.stderr and f"gitsm keys set-default {arn}" in again.stderr
    same = runner.invoke(app, ["init", str(path), "--kms-key-id", recipient])
    assert out(same)["Created"] is False and same.stderr == ""
    assert commits(path) == 2

    for key, words in (("not-a-key", "No key provider recognises"),
                       ("alias/team", "has no key alias alias/team yet")):  # fmt: skip
        failed = runner.invoke(app, ["init", str(tmp_path / "bad"), "--kms-key-id", key])
        fails(failed, 254, "(InvalidParameterException) when calling the Init operation", words)
        assert not (tmp_path / "bad").exists()


def test_a_shared_store_needs_a_team_default(cli: Invoke, store: Path, identity: Any) -> None:
    assert cli("keys", "list").stderr == ""
    git(store, "remote", "add", "origin", "git@git.example.com:team/secrets.git")
    out(cli("create-secret", "--name", "app/empty"))  # no value, no key needed
    before = head(store)
    for args, op in (
        (["create-secret", "--name", "app/db", "--secret-string", VALUE], "CreateSecret"),
        (["put-secret-value", "--secret-id", "app/empty", "--secret-string", VALUE],
         "PutSecretValue"),
    ):  # fmt: skip
        result = cli(*args)
        fails(result, 254, f"(EncryptionFailure) when calling the {op} operation",
              "shared through a git remote", "gitsm keys set-default alias/team")  # fmt: skip
        assert VALUE not in result.stderr and result.stdout == ""
    assert head(store) == before and ring() == []
    assert (
        "warning: This store is shared through a git remote but has no default key"
        in cli("keys", "list").stderr
    )

    local = new_key(cli)  # a machine-local default is allowed when asked for, and reported
    assert "machine-local default key" in cli("keys", "set-default", local).stderr
    assert "machine-local default key" in cli("keys", "list").stderr

    out(cli("keys", "create-alias", "alias/team", "--recipient", str(identity.to_public())))
    done = cli("keys", "set-default", "alias/team")
    assert out(done)["Changed"] is True and done.stderr == ""
    made = out(cli("put-secret-value", "--secret-id", "app/empty", "--secret-string", VALUE))
    assert stanza_providers(store, "app/empty", made["VersionId"]) == ["age"]
    assert cli("keys", "list").stderr == "" and ring() == [f"{local}.key"]
