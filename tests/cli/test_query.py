"""``--query`` that cannot run, or fails on the output: what the exit status and messages say.

The rule (README, CLI section): 0 exactly when the operation took effect, and no output, error or
``--debug`` trace ever holds a value. A ``--query`` that does not parse or calls a function wrongly
fails before anything runs (252, no commit); one that fails on a read's output exits 255 naming the
function and the types; one that fails on a write's output exits 0 with a warning naming what
landed (the commit is there).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gitsm.cli import output
from tests.cli.conftest import GITSM_BIN, Invoke, run_gitsm
from tests.conftest import git

PLAIN = "Plain-Secret-Value-8c1f"
INNER = ("json-user-7ad2", "json-password-91be")
JSON_VALUE = json.dumps({"user": INNER[0], "password": INNER[1]})
NEW = "New-Secret-Value-5e03"
VALUES = (PLAIN, JSON_VALUE, *INNER, NEW)

DOES_NOT_PARSE = ("Name[", "Bad value for --query Name[")
UNKNOWN_FUNCTION = ("foo(Name)", "Unknown function: foo()")
WRONG_ARITY = ("abs(Name, `1`)", "function abs() takes 1 argument, received 2")
STATIC = [DOES_NOT_PARSE, UNKNOWN_FUNCTION, WRONG_ARITY]
RUNTIME = "in function {fn}(), invalid type for value (not shown), expected one of: {types}"


def commits(store: Path) -> int:
    return int(git(store, "rev-list", "--count", "main"))


def no_value_shown(result: Any) -> None:
    shown = result.stdout + result.stderr
    for value in VALUES:
        assert value not in shown, f"a value reached the output: {shown!r}"


@pytest.fixture
def seeded(cli: Invoke, store: Path) -> Path:
    """The store with a plain secret and a JSON one."""
    assert cli("create-secret", "--name", "plain", "--secret-string", PLAIN).exit_code == 0
    assert cli("create-secret", "--name", "json", "--secret-string", JSON_VALUE).exit_code == 0
    return store


READS = {
    "get-plain": ["get-secret-value", "--secret-id", "plain"],
    "get-json": ["get-secret-value", "--secret-id", "json"],
    "batch": ["batch-get-secret-value", "--secret-id-list", "plain", "json"],
}
READ_RUNTIME = {  # a function given a value field: jmespath's own message would quote the value
    "get-plain": ("abs(SecretString)", RUNTIME.format(fn="abs", types="number"), "string"),
    "get-json": ("sum(SecretString)", RUNTIME.format(fn="sum", types="array-number"), "string"),
    "batch": ("sum(SecretValues[].SecretString)", RUNTIME.format(fn="sum", types="array-number"),
              "string"),
}  # fmt: skip


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("read", list(READS))
@pytest.mark.parametrize("static", STATIC, ids=["parse", "unknown-function", "arity"])
def test_a_query_that_cannot_run_fails_a_read_before_it_runs(
    cli: Invoke, seeded: Path, read: str, static: tuple[str, str], debug: bool
) -> None:
    expression, message = static
    result = cli(*READS[read], "--query", expression, *(["--debug"] if debug else []))
    assert result.exit_code == 252, result.stderr
    assert message in result.stderr and result.stdout == ""
    no_value_shown(result)


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("read", list(READ_RUNTIME))
def test_a_query_failing_on_a_value_names_the_function_never_the_value(
    cli: Invoke, seeded: Path, read: str, debug: bool
) -> None:
    expression, message, received = READ_RUNTIME[read]
    before = commits(seeded)
    result = cli(*READS[read], "--query", expression, *(["--debug"] if debug else []))
    assert result.exit_code == 255, result.stderr
    assert message in result.stderr and f"received: {received}" in result.stderr
    assert ("Traceback" in result.stderr) == debug  # the --debug path ran, and shows no value
    assert "JMESPathTypeError" not in result.stderr  # nothing of jmespath's own error is chained
    assert result.stdout == ""
    no_value_shown(result)
    assert commits(seeded) == before


def test_any_other_failure_of_the_expression_shows_its_kind_only(cli: Invoke, seeded: Path) -> None:
    # contains(string, number) fails inside Python rather than in jmespath's type checks
    result = cli(*READS["get-plain"], "--query", "contains(SecretString, `1`)", "--debug")
    assert result.exit_code == 255 and result.stdout == ""
    assert "--query: the expression failed on this output (TypeError" in result.stderr
    no_value_shown(result)


WRITES = {
    "put-secret-value": ["put-secret-value", "--secret-id", "plain", "--secret-string", NEW],
    "update-secret": ["update-secret", "--secret-id", "plain", "--secret-string", NEW],
    "delete-secret": ["delete-secret", "--secret-id", "plain", "--force-delete-without-recovery"],
    "create-secret": ["create-secret", "--name", "fresh", "--secret-string", NEW],
}


def secret_state(cli: Invoke) -> tuple[Any, ...]:
    """What the writes above change: plain's versions and whether 'fresh' exists."""
    plain = cli("list-secret-version-ids", "--secret-id", "plain", "--include-deprecated")
    fresh = cli("describe-secret", "--secret-id", "fresh")
    return plain.exit_code, plain.stdout, fresh.exit_code


@pytest.mark.parametrize("write", list(WRITES))
@pytest.mark.parametrize("static", STATIC, ids=["parse", "unknown-function", "arity"])
def test_a_query_that_cannot_run_fails_a_write_before_it_writes(
    cli: Invoke, seeded: Path, write: str, static: tuple[str, str]
) -> None:
    expression, message = static
    before, state = commits(seeded), secret_state(cli)
    for debug in ([], ["--debug"]):
        result = cli(*WRITES[write], "--query", expression, *debug)
        assert result.exit_code == 252, result.stderr
        assert message in result.stderr and result.stdout == ""
        no_value_shown(result)
    assert commits(seeded) == before
    assert secret_state(cli) == state


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_whose_query_fails_at_run_time_landed_and_says_so(
    cli: Invoke, seeded: Path, write: str, debug: bool
) -> None:
    before = commits(seeded)
    result = cli(*WRITES[write], "--query", "abs(Name)", *(["--debug"] if debug else []))
    assert result.exit_code == 0, result.stderr
    assert commits(seeded) == before + 1
    assert result.stdout == ""
    warning = result.stderr
    operation = "".join(word.title() for word in write.split("-"))
    assert f"gitsm: warning: {operation} took effect (ARN arn:aws:secretsmanager:" in warning
    assert "only its output could not be shown" in warning
    assert (
        RUNTIME.format(fn="abs", types="number") in warning and "nothing is left to redo" in warning
    )
    assert ("Traceback" in warning) == debug
    no_value_shown(result)
    if write == "delete-secret":
        assert "DeletionDate " in warning
        assert cli("describe-secret", "--secret-id", "plain").exit_code == 254  # really gone
        return
    name = "fresh" if write == "create-secret" else "plain"
    current = cli("get-secret-value", "--secret-id", name, "--query", "[VersionId, SecretString]")
    version_id, value = json.loads(current.stdout)
    assert value == NEW and f"VersionId {version_id})" in warning


def test_tagging_names_the_secret_it_changed(cli: Invoke, seeded: Path) -> None:
    before = commits(seeded)
    result = cli("tag-resource", "--secret-id", "plain", "--tags", "Key=team,Value=db",
                 "--query", "length(Name)")  # fmt: skip
    assert result.exit_code == 0 and commits(seeded) == before + 1
    assert "TagResource took effect (SecretId plain)" in result.stderr
    assert "expected one of: string, array, object, received: null" in result.stderr
    tags = cli("describe-secret", "--secret-id", "plain", "--query", "Tags", "--output", "text")
    assert tags.stdout.split() == ["team", "db"]


def test_every_operation_is_a_read_or_a_write() -> None:
    from gitsm.apimodel import ACCESS
    from gitsm.cli.awsmodel import OPERATIONS

    assert set(OPERATIONS) <= set(ACCESS) and set(ACCESS.values()) == {"read", "write"}


@pytest.mark.in_process_only(reason="it makes output.render fail by patching it")
def test_a_value_read_from_the_store_is_masked_in_any_error(
    cli: Invoke, seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def leaky(data: Any, **_: Any) -> str:
        raise RuntimeError(f"cannot format {json.dumps(data, default=str)}")

    monkeypatch.setattr(output, "render", leaky)  # an error whose text quotes the response
    for read in ("get-plain", "get-json", "batch"):
        result = cli(*READS[read], "--debug")
        assert result.exit_code == 255 and "cannot format" in result.stderr
        assert "****" in result.stderr
        no_value_shown(result)


# -- gitsm's own writing verbs -------------------------------------------------------------------


def test_init_checks_the_query_first_and_reports_a_store_it_made(tmp_path: Path) -> None:
    target = tmp_path / "new-store"
    refused = run_gitsm(["init", str(target), "--query", "foo(Path)"])
    assert refused.returncode == 252 and b"Unknown function: foo()" in refused.stderr
    assert not target.exists()
    made = run_gitsm(["init", str(target), "--query", "abs(Path)"])
    assert made.returncode == 0 and made.stdout == b""
    assert f"Init took effect (Path {target})".encode() in made.stderr
    assert commits(target) == 1


def test_keys_verbs_check_the_query_first_and_report_what_they_wrote(
    cli: Invoke, store: Path
) -> None:
    key_id = json.loads(cli("keys", "create-key").stdout)["KeyId"]
    before = commits(store)
    refused = cli("keys", "create-alias", "alias/team", "--recipient", key_id, "--query", "abs(")
    assert refused.exit_code == 252 and commits(store) == before
    made = cli("keys", "create-alias", "alias/team", "--recipient", key_id,
               "--query", "abs(AliasName)")  # fmt: skip
    assert made.exit_code == 0 and commits(store) == before + 1
    assert "PutKeyAlias took effect (AliasName alias/team)" in made.stderr
    assert "'gitsm keys list' shows the result" in made.stderr
    created = cli("keys", "create-key", "--export", "--query", "abs(LocalKeysEntry)")
    assert created.exit_code == 0 and "CreateKey took effect (KeyId " in created.stderr
    entry = json.loads(cli("keys", "export-key", key_id).stdout)["LocalKeysEntry"]
    material = entry.split(":", 1)[1]
    shown = cli("keys", "export-key", key_id, "--query", "abs(LocalKeysEntry)", "--debug")
    assert shown.exit_code == 255 and material not in shown.stdout + shown.stderr


def test_hook_install_checks_the_query_first_and_reports_the_hook(cli: Invoke, store: Path) -> None:
    hook = store / ".git" / "hooks" / "pre-commit"
    assert cli("hook", "install", "--query", "Hook[").exit_code == 252 and not hook.exists()
    done = cli("hook", "install", "--query", "abs(Hook)")
    assert done.exit_code == 0 and hook.is_file()
    assert f"HookInstall took effect (Hook {hook}, Action installed)" in done.stderr
    gone = cli("hook", "uninstall", "--query", "abs(Removed)")
    assert gone.exit_code == 0 and not hook.exists()
    assert "HookUninstall took effect (Hook " in gone.stderr


def test_purge_checks_the_query_first(cli: Invoke, seeded: Path) -> None:
    before = commits(seeded)
    assert cli("purge-deleted-secrets", "--query", "nope()").exit_code == 252
    done = cli("purge-deleted-secrets", "--query", "abs(PurgedSecrets)")
    assert done.exit_code == 0 and "PurgeDeletedSecrets took effect (PurgedSecrets " in done.stderr
    assert commits(seeded) == before  # nothing was due for purging: no commit


# -- the installed entry point: a closed pipe and an encoding that cannot show the output --------


def test_a_write_into_a_closed_pipe_landed_and_says_so(seeded: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before gitsm writes anything
    before = commits(seeded)
    try:
        done = subprocess.run(
            [str(GITSM_BIN), "--repo", str(seeded), *WRITES["put-secret-value"]],
            stdout=write_end, stderr=subprocess.PIPE, env=dict(os.environ),
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert done.returncode == 0, done.stderr
    assert commits(seeded) == before + 1
    assert b"PutSecretValue took effect" in done.stderr and b"broken pipe" in done.stderr
    assert NEW.encode() not in done.stderr and b"Exception ignored" not in done.stderr


def test_an_output_the_encoding_cannot_show_never_shows_a_character_of_a_value(
    seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accented = "Välue-With-Ümlauts-77"
    repo = ["--repo", str(seeded)]
    assert (
        run_gitsm([*repo, "create-secret", "--name", "u", "--secret-string", accented]).returncode
        == 0
    )
    monkeypatch.setenv("PYTHONIOENCODING", "ascii")
    read = run_gitsm([*repo, "get-secret-value", "--secret-id", "u", "--debug"])
    assert read.returncode == 255 and read.stdout == b""
    assert b"encoding (ascii) cannot show some characters" in read.stderr
    assert b"\\xe4" not in read.stderr and "ä".encode() not in read.stderr
    assert b"lue-With" not in read.stderr
    target = tmp_path / "störe"
    made = run_gitsm(["init", str(target)])
    assert made.returncode == 0 and made.stdout == b""
    assert b"Init took effect" in made.stderr and b"encoding (ascii)" in made.stderr
    assert commits(target) == 1
