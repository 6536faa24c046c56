"""The materialize spec file and the --env/--file flags: what parses, and the errors for what not."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitsm.materialize import Entry, SpecError, load_spec, parse_flag
from gitsm.materialize.spec import parse_mode

SPEC = """\
version: 1
format: k8s
out: secret.yaml
mode: "0640"
kubernetes: {name: app, namespace: prod}
secrets:
  - secret_id: prod/db
    json_key: password
    env: DB_PASSWORD
    file: db/password
    mode: "0400"
  - secret_id: arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/tls-AbCdEf
    version_id: 0123456789abcdef0123456789abcdef
    file: tls.der
  - secret_id: prod/app
    version_stage: AWSPREVIOUS
    env: APP_*
    file: conf/*.txt
"""


def test_spec_file_parses(tmp_path: Path) -> None:
    path = tmp_path / "gitsm.materialize.yaml"
    path.write_text(SPEC)
    spec = load_spec(path)
    assert (spec.format, spec.out, spec.mode, spec.k8s_name, spec.k8s_namespace) == (
        "k8s", "secret.yaml", 0o640, "app", "prod")  # fmt: skip
    db, tls, app = spec.entries
    assert (db.secret_id, db.json_key, db.env, db.file, db.mode) == (
        "prod/db", "password", "DB_PASSWORD", "db/password", 0o400)  # fmt: skip
    assert tls.version_id == "0123456789abcdef0123456789abcdef" and tls.mode is None
    assert app.every_key and app.version_stage == "AWSPREVIOUS" and not db.every_key
    assert db.where.endswith("secrets[0]") and app.ref == "prod/app?version-stage=AWSPREVIOUS"


def test_flags_parse() -> None:
    entry = parse_flag("--env", "DB_PASSWORD=prod/db#password")
    assert (entry.env, entry.secret_id, entry.json_key, entry.file) == (
        "DB_PASSWORD", "prod/db", "password", None)  # fmt: skip
    entry = parse_flag("--file", "certs/tls.der=prod/tls?version-id=v1&version-stage=AWSCURRENT")
    assert (entry.file, entry.secret_id, entry.version_id, entry.version_stage) == (
        "certs/tls.der", "prod/tls", "v1", "AWSCURRENT")  # fmt: skip
    assert parse_flag("--env", "APP_*=prod/app").every_key
    # secret names may hold '=': only the first '=' separates the destination
    assert parse_flag("--env", "X=team=a/key").secret_id == "team=a/key"
    assert parse_flag("--env", "K=s#key with spaces").json_key == "key with spaces"


@pytest.mark.parametrize(
    ("option", "text", "fragment"),
    [
        ("--env", "NOEQUALS", "expected NAME="),
        ("--env", "1BAD=prod/db", "not an environment variable name"),
        ("--env", "A-B=prod/db", "not an environment variable name"),
        ("--env", "A**=prod/db", "not an environment variable name"),
        ("--env", "A=prod/db#", "json_key is empty"),
        ("--env", "A_*=prod/db#key", "drop json_key"),
        ("--env", "A=prod/db?stage=x", "expected version-stage=LABEL"),
        ("--file", "dir/=prod/db", "is not a file path"),
        ("--file", "*/x=prod/db", "in the file name only"),
        ("--file", "=prod/db", "expected PATH="),
    ],
)
def test_bad_flags(option: str, text: str, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_flag(option, text)
    assert fragment in info.value.message
    assert info.value.exit_code == 252


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("secrets: []", "non-empty list"),
        ("[1, 2]", "expected a mapping"),
        ("version: 2\nsecrets: [{secret_id: a, env: A}]", "spec version 2"),
        ("secret: [{secret_id: a, env: A}]", "unknown field(s) secret"),
        ("secrets: [{secretid: a, env: A}]", "unknown field secretid"),
        ("secrets: [{env: A}]", "secret_id is required"),
        ("secrets: [{secret_id: a}]", "give env"),
        ("secrets: [{secret_id: a, env: A, mode: 600}]", "quoted octal"),
        ("secrets: [{secret_id: a, env: A, mode: rw}]", "octal text"),
        ("secrets: [{secret_id: a, env: A}, {secret_id: b, env: A}]", "env A is also set by"),
        ("secrets: [{secret_id: a, env: 'A_*', file: x}]", "in both env and file"),
        ("secrets: [{secret_id: [a], env: A}]", "secret_id must be text"),
        (
            "secrets: [{env: A, json_key: true, secret_id: 7, version_id: {}}]",
            "version_id must be text",
        ),  # the first in the documented field order
        ("secrets: [{secret_id: a, env: A, version_stage: 1.5}]", "version_stage must be text"),
        ("secrets: {secret_id: a", "not valid YAML at line"),
    ],
)
def test_bad_spec_files(tmp_path: Path, body: str, fragment: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(body)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert fragment in info.value.message, info.value.message
    assert info.value.message.startswith(str(path))


def test_numbers_are_taken_as_their_text(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("secrets:\n  - {secret_id: 2024, json_key: 7, file: out, env: A}\n")
    entry = load_spec(path).entries[0]
    assert (entry.secret_id, entry.json_key, entry.file, entry.env) == ("2024", "7", "out", "A")


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read the spec file"):
        load_spec(tmp_path / "nope.yaml")


def test_modes() -> None:
    assert parse_mode("0600", "m") == parse_mode("600", "m") == parse_mode("0o600", "m") == 0o600
    assert parse_mode(0o400, "m") == 0o400  # YAML 1.1 reads an unquoted 0400 as octal
    for bad in (600, "0800", "12345", True, -1):
        with pytest.raises(SpecError):
            parse_mode(bad, "m")


def test_entry_ref_names_the_secret_not_a_value() -> None:
    entry = Entry("prod/db", version_id="v1", json_key="password", env="X")
    assert entry.ref == "prod/db?version-id=v1#password"
