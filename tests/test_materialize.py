"""Materialization on a real store: every format parsed back and compared with the values, JSON
keys, versions, fail-closed errors that list every problem, and reads from one commit.

The store (made here and reused by tests/cli/test_materialize_cmd.py) holds awkward values: quotes,
backslashes, ``$``, backticks, ``%``, non-ASCII, multi-line with CRLF, a JSON document, raw bytes, a
secret pending deletion, one with two versions, and one whose key this machine does not hold.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from dotenv import dotenv_values

import gitsm
from gitsm.materialize import MaterializeError, Spec, materialize, parse_flag
from gitsm.materialize import read as read_mod
from gitsm.materialize.formats import escape_command_data
from gitsm.materialize.read import read_values
from gitsm.store import SecretStore
from tests.test_materialize_quoting import parse_github_env

PLAIN = "s3cr3t-plain-Value"
TRICKY = 'it\'s "quoted" \\back\\slash\\ $HOME ${HOME} `id` %25 ü € #hash = sign;|&'
MULTI = "-----BEGIN KEY-----\nline two 'x' \"y\"\n\n  indented\r\nlast line\n"
DOC = {"user": "admin", "password": "pa'ss\"w0rd\\", "port": 5432, "db-host": "db.internal",
       "nested": {"a": [1, 2]}, "empty": ""}  # fmt: skip
BINARY = bytes(range(256))
OLD, NEW = "old-value-1", "new-value-2"
UNREADABLE = "only-the-other-key-holder-reads-this"

TEXT_VALUES = {"PLAIN": PLAIN, "TRICKY": TRICKY, "MULTI": MULTI}
SECRET_OF = {"PLAIN": "ci/plain", "TRICKY": "ci/tricky", "MULTI": "ci/multi"}


def make_store(path: Path) -> SecretStore:
    """A store with the secrets above; ``ci/locked`` uses a key held only in GITSM_LOCAL_KEYS."""
    store = gitsm.init(path)
    for name, value in SECRET_OF.items():
        store.create_secret(value, secret_string=TEXT_VALUES[name])
    store.create_secret("ci/json", secret_string=json.dumps(DOC))
    store.create_secret("ci/bin", secret_binary=BINARY)
    store.create_secret("ci/gone", secret_string="deleted-value")
    store.delete_secret("ci/gone", recovery_window_in_days=7)
    store.create_secret("ci/versioned", secret_string=OLD)
    store.update_secret("ci/versioned", secret_string=NEW)
    key_id = str(uuid.uuid4())
    os.environ["GITSM_LOCAL_KEYS"] = f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"
    try:
        gitsm.SecretStore.open(path).create_secret(
            "ci/locked", secret_string=UNREADABLE, kms_key_id=key_id
        )
    finally:
        del os.environ["GITSM_LOCAL_KEYS"]
    return gitsm.SecretStore.open(path)


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    return make_store(tmp_path / "store")


def spec_of(*flags: str) -> Spec:
    """A spec from flags: ``"--env X=ref"`` or ``"--file p=ref"``."""
    spec = Spec()
    spec.extend([parse_flag(*flag.split(" ", 1)) for flag in flags])
    return spec


ALL_ENV = [f"--env {name}={ref}" for name, ref in SECRET_OF.items()] + [
    "--env USER=ci/json#user",
    "--env PASSWORD=ci/json#password",
    "--env PORT=ci/json#port",
    "--env NESTED=ci/json#nested",
    "--env WHOLE=ci/json",
]
EXPECTED = {
    **TEXT_VALUES,
    "USER": "admin",
    "PASSWORD": DOC["password"],
    "PORT": "5432",
    "NESTED": '{"a":[1,2]}',
    "WHOLE": json.dumps(DOC),
}


def run(store: SecretStore, spec: Spec, fmt: str, out: Path | None = None) -> bytes:
    stdout = io.BytesIO()
    materialize(store, spec, fmt, out=None if out is None else str(out), stdout=stdout)
    return stdout.getvalue()


DOTENV_REFUSED = {"TRICKY": "' or two backslashes in a row, and $", "MULTI": "carriage return",
                  "PASSWORD": "ends with a backslash"}  # fmt: skip


def test_dotenv_round_trips_through_python_dotenv_and_sh(
    store: SecretStore, tmp_path: Path
) -> None:
    """Values no quoting can give back to both readers are refused, naming the entry; the rest are
    read back exactly by python-dotenv and by ``set -a; . ./ci.env`` in sh."""
    out = tmp_path / "ci.env"
    with pytest.raises(MaterializeError) as info:
        run(store, spec_of(*ALL_ENV), "dotenv", out)
    assert len(info.value.problems) == len(DOTENV_REFUSED) and not out.exists()
    for problem, (name, why) in zip(info.value.problems, DOTENV_REFUSED.items(), strict=True):
        assert f"--env {name}: " in problem and why in problem, problem
    for value in (TRICKY, MULTI, DOC["password"]):
        assert value not in info.value.message
    kept = [flag for flag in ALL_ENV if flag.split()[1].split("=")[0] not in DOTENV_REFUSED]
    expected = {k: v for k, v in EXPECTED.items() if k not in DOTENV_REFUSED}
    run(store, spec_of(*kept), "dotenv", out)
    assert dict(dotenv_values(out, interpolate=False)) == expected == dict(dotenv_values(out))
    assert out.stat().st_mode & 0o777 == 0o600
    names = " ".join(f'"${name}"' for name in expected)
    proc = subprocess.run(
        ["sh", "-c", f"set -a; . ./ci.env; printf '%s\\0' {names}"],
        capture_output=True, check=True, cwd=tmp_path, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert proc.stdout.decode().split("\0")[:-1] == list(expected.values())


def test_export_round_trips_through_bash(store: SecretStore, tmp_path: Path) -> None:
    script = tmp_path / "exports.sh"
    script.write_bytes(run(store, spec_of(*ALL_ENV), "export"))
    names = " ".join(f'"${name}"' for name in EXPECTED)
    proc = subprocess.run(
        ["bash", "-c", f'set -eu; source "$1"; printf "%s\\0" {names}', "bash", str(script)],
        capture_output=True, check=True, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert proc.stdout.decode().split("\0")[:-1] == list(EXPECTED.values())


def test_json_round_trips(store: SecretStore) -> None:
    assert json.loads(run(store, spec_of(*ALL_ENV), "json")) == EXPECTED


def test_k8s_manifest_round_trips(store: SecretStore) -> None:
    spec = spec_of(*ALL_ENV, "--file certs/tls.bin=ci/bin")
    spec.k8s_name, spec.k8s_namespace = "app-secrets", "prod"
    doc = yaml.safe_load(run(store, spec, "k8s"))
    assert doc["apiVersion"] == "v1" and doc["kind"] == "Secret" and doc["type"] == "Opaque"
    assert doc["metadata"] == {"name": "app-secrets", "namespace": "prod"}
    data = {k: base64.b64decode(v, validate=True) for k, v in doc["data"].items()}
    assert data == {**{k: v.encode() for k, v in EXPECTED.items()}, "tls.bin": BINARY}


def test_github_masks_every_value_and_line_then_appends(
    store: SecretStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "github_env"
    env_file.write_text("EARLIER=kept\n")
    monkeypatch.setenv("GITHUB_ENV", str(env_file))
    masks = run(store, spec_of(*ALL_ENV), "github").decode()
    assert parse_github_env(env_file.read_bytes().decode()) == {"EARLIER": "kept", **EXPECTED}
    masked = [line.removeprefix("::add-mask::") for line in masks.splitlines()]
    assert all(line.startswith("::add-mask::") for line in masks.splitlines())
    for value in EXPECTED.values():
        assert escape_command_data(value) in masked
        for part in re.split(r"\r\n|\n", value):
            assert not part.strip() or escape_command_data(part) in masked
    assert "%0A" in masks and "%25" in masks  # the runner's escapes: multi-line, percent


def test_files_binary_raw_modes_and_every_key(store: SecretStore, tmp_path: Path) -> None:
    spec = spec_of("--file tls/key.der=ci/bin", "--file conf/*=ci/json", "--file multi=ci/multi")
    spec.entries[2] = replace(spec.entries[2], mode=0o440)
    out = tmp_path / "out"
    summary = materialize(store, spec, "files", out=str(out))
    assert summary.count == 2 + len(DOC) and summary.commit
    assert (out / "tls/key.der").read_bytes() == BINARY
    assert (out / "multi").read_bytes() == MULTI.encode()
    for key, value in DOC.items():
        expected = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        assert (out / "conf" / key).read_text() == expected
    for directory in (out, out / "tls", out / "conf"):
        assert directory.stat().st_mode & 0o777 == 0o700
    assert (out / "tls/key.der").stat().st_mode & 0o777 == 0o600
    assert (out / "multi").stat().st_mode & 0o777 == 0o440
    assert not [p for p in out.rglob("*") if "gitsm-" in p.name]


def test_every_key_as_env_names(store: SecretStore) -> None:
    got = json.loads(run(store, spec_of("--env APP_*=ci/json"), "json"))
    assert got == {"APP_USER": "admin", "APP_PASSWORD": DOC["password"], "APP_PORT": "5432",
                   "APP_DB_HOST": "db.internal", "APP_NESTED": '{"a":[1,2]}', "APP_EMPTY": ""}  # fmt: skip


def test_versions_by_stage_and_id(store: SecretStore) -> None:
    old_id = next(v.version_id for v in store.describe_secret("ci/versioned").versions.values()
                  if "AWSPREVIOUS" in v.stages)  # fmt: skip
    spec = spec_of("--env CUR=ci/versioned", "--env PREV=ci/versioned?version-stage=AWSPREVIOUS",
                   f"--env BYID=ci/versioned?version-id={old_id}")  # fmt: skip
    assert json.loads(run(store, spec, "json")) == {"CUR": NEW, "PREV": OLD, "BYID": OLD}


def test_fail_closed_lists_every_problem_and_no_value(store: SecretStore, tmp_path: Path) -> None:
    spec = spec_of(
        "--file a=ci/plain",
        "--file b=ci/missing",
        "--file b2=ci/missing",  # one secret, one error naming both
        "--file c=ci/gone",
        "--file d=ci/locked",
        "--file e=ci/json#no_such_key",
        "--file f=ci/plain#key",
        "--file g=ci/versioned?version-stage=NOPE",
    )
    out = tmp_path / "out"
    with pytest.raises(MaterializeError) as info:
        materialize(store, spec, "files", out=str(out))
    message = info.value.message
    assert info.value.exit_code == 254 and len(info.value.problems) == 6
    for fragment in ("ci/missing (--file b, --file b2): ResourceNotFoundException",
                     "ci/gone (--file c): InvalidRequestException",
                     "ci/locked (--file d): DecryptionFailure",
                     'ci/json#no_such_key: the JSON SecretString has no key "no_such_key"',
                     "ci/plain#key: the secret is not a JSON object",
                     "staging label: NOPE"):  # fmt: skip
        assert fragment in message, message
    for value in (PLAIN, UNREADABLE, "deleted-value", "admin", DOC["password"], "db.internal"):
        assert value not in message  # keys and secrets are named, values never
    assert not out.exists()


def test_formats_refuse_what_they_cannot_hold(store: SecretStore) -> None:
    with pytest.raises(MaterializeError, match="SecretBinary, which --format dotenv cannot hold"):
        run(store, spec_of("--env BIN=ci/bin"), "dotenv")
    with pytest.raises(MaterializeError, match="also written by"):
        run(store, spec_of("--env A_*=ci/json", "--env A_USER=ci/plain"), "json")


def test_reads_come_from_one_commit(store: SecretStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes landing mid-read change nothing: every value comes from the commit read first."""
    writer = gitsm.SecretStore.open(store.repo.workdir or store.repo.gitdir)
    first = store.repo.tip().commit_id
    before = {n: store.get_secret_value(n).secret_string for n in ("ci/versioned", "ci/plain")}
    calls = {"n": 0}
    real = store.get_secret_values

    def racing(requests: Any, snapshot: Any = None) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            writer.update_secret("ci/plain", secret_string="changed-mid-read")
            writer.update_secret("ci/versioned", secret_string="changed-too")
        return real(requests, snapshot)

    monkeypatch.setattr(store, "get_secret_values", racing)
    monkeypatch.setattr(read_mod, "CHUNK", 1)  # one read per call: the write lands between them
    spec = spec_of("--env A=ci/versioned", "--env B=ci/plain")
    results, commit = read_values(store, spec.entries)
    assert calls["n"] == 2 and commit == first != store.repo.tip().commit_id
    values = {r[0]: v.secret_string for r, v in results.items()}  # type: ignore[union-attr]
    assert values == before
    assert "changed-mid-read" not in values.values() and "changed-too" not in values.values()


def test_forked_helper_reads_half(store: SecretStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """With many requests a forked helper reads half of them; the results are the same."""
    monkeypatch.setattr(read_mod, "PARALLEL_MIN", 2)
    monkeypatch.setattr(read_mod, "_cpus", lambda: 2)
    monkeypatch.setattr(read_mod.threading, "active_count", lambda: 1)
    forks = {"n": 0}
    real_fork = os.fork

    def counting_fork() -> int:
        forks["n"] += 1
        return real_fork()

    monkeypatch.setattr(read_mod.os, "fork", counting_fork)
    spec = spec_of(*ALL_ENV, "--env GONE=ci/gone", "--env LOCKED=ci/locked")
    results, _ = read_values(store, spec.entries)
    assert forks["n"] == 1
    got = {r[0]: (v.secret_string if not isinstance(v, Exception) else v.code)
           for r, v in results.items()}  # fmt: skip
    assert got["ci/tricky"] == TRICKY and got["ci/multi"] == MULTI
    assert got["ci/gone"] == "InvalidRequestException" and got["ci/locked"] == "DecryptionFailure"


def test_progress_only_on_a_terminal(store: SecretStore) -> None:
    from gitsm.materialize.progress import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progress(300, "gitsm: reading secrets", stream=stream)
        for _ in range(300):
            bar.tick()
        bar.close()
    assert "300/300" in tty.getvalue() and tty.getvalue().endswith("\r\x1b[K")
    assert pipe.getvalue() == ""
    small = Tty()
    Progress(10, "x", stream=small).tick()
    assert small.getvalue() == ""
    quiet = io.StringIO()
    materialize(store, spec_of("--env A=ci/plain"), "json", stdout=io.BytesIO(), progress=quiet)
    assert quiet.getvalue() == ""
