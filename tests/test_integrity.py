"""Integrity of a real store: tampering, moved envelopes, no plaintext in git, trailers, fsck,
format refusal, read-only reads, fsync default and packing."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pygit2
import pytest
import yaml

import gitsm
from gitsm import paths
from gitsm.awsclient import ClientError, SecretsManagerClient
from gitsm.errors import StoreError
from gitsm.gitrepo import GitRepo
from gitsm.manifest import dump_secret, load_secret
from gitsm.providers.local import LocalProvider
from gitsm.store import SecretStore
from tests.conftest import git

BRANCH = "refs/heads/main"
TOKEN_A = "a" * 8 + "-tamper-token-" + "a" * 14
TOKEN_B = "b" * 8 + "-other-secret-" + "b" * 14


# -- helpers: rewrite the branch with pygit2, as someone with push access could ------------------


_REPOS: dict[Path, GitRepo] = {}


def _repo(path: Path) -> GitRepo:
    """The git layer on ``path``, without background packing: the byte-flipping tests commit
    hundreds of times, and a ``git gc --auto`` started after one of them holds the branch's ref
    lock for an instant, failing the next commit of rewrite(), which does not retry."""
    if path not in _REPOS:
        _REPOS[path] = GitRepo.open(path, fsync=False)
        _REPOS[path].auto_pack = False
    return _REPOS[path]


def rewrite(path: Path, changes: Mapping[str, bytes | None], message: str = "edit\n") -> str:
    """Commit ``changes`` on top of the store's branch through the git layer (no store checks)."""
    repo = _repo(path)
    with repo.write_lock():
        snap = repo.commit(repo.tip(), changes, message, datetime.now(UTC))
    assert snap.commit_id is not None
    return snap.commit_id


def read_blob(path: Path, file: str) -> bytes:
    repo = pygit2.Repository(str(path))
    commit = cast(pygit2.Commit, repo[repo.references[BRANCH].target])
    return bytes(cast(pygit2.Blob, commit.tree[file]).data)


def head(path: Path) -> str:
    return git(path, "rev-parse", BRANCH).strip()


def canonical(doc: dict[str, Any]) -> bytes:
    """Re-serialize an envelope exactly as gitsm writes it (so only the cryptography can object)."""
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response["Error"]["Code"])
    return type(exc).__name__


def get_outcome(client: SecretsManagerClient, **kw: str) -> str:
    """'value:<...>' when GetSecretValue returns, else the error code."""
    try:
        got = client.get_secret_value(**kw)
    except Exception as exc:  # any other exception is a finding, reported by the caller
        return error_code(exc)
    return f"value:{got.get('SecretString', got.get('SecretBinary'))!r}"


# -- tamper ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["local-default", "age"])
def test_flipping_any_byte_of_a_version_file_is_a_decryption_failure(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    kms_key: dict[str, str] = {}
    if key == "age":  # an envelope whose data key is wrapped in an age stanza
        from pyrage import x25519

        identity = x25519.Identity.generate()
        monkeypatch.setenv("GITSM_AGE_KEY", str(identity))
        kms_key = {"KmsKeyId": str(identity.to_public())}
    client = gitsm.client(repo=bare_path)
    name = "prod/db/password"
    client.create_secret(
        Name=name, SecretString="original-plaintext", ClientRequestToken=TOKEN_A, **kms_key
    )
    vpath = paths.version_path(name, TOKEN_A)
    original = read_blob(bare_path, vpath)
    assert len(original) > 300
    # every byte XOR 0x01 (the age envelope is twice as long: every other byte), a sample XOR 0xFF
    step = 1 if key == "local-default" else 2
    wrong: dict[str, list[int]] = {}
    for mask, offsets in (
        (0x01, range(0, len(original), step)),
        (0xFF, range(3, len(original), 7)),
    ):
        for i in offsets:
            data = bytearray(original)
            data[i] ^= mask
            rewrite(bare_path, {vpath: bytes(data)})
            outcome = get_outcome(client, SecretId=name)
            if outcome != "DecryptionFailure":
                wrong.setdefault(f"mask {mask:#04x}: {outcome}", []).append(i)
    assert wrong == {}, f"tampered envelopes that did not fail with DecryptionFailure: {wrong}"
    rewrite(bare_path, {vpath: original})
    assert client.get_secret_value(SecretId=name)["SecretString"] == "original-plaintext"


def test_tampered_binary_version_truncated_or_extended(bare_path: Path) -> None:
    client = gitsm.client(repo=bare_path)
    value = os.urandom(64)
    client.create_secret(Name="bin", SecretBinary=value, ClientRequestToken=TOKEN_A)
    vpath = paths.version_path("bin", TOKEN_A)
    original = read_blob(bare_path, vpath)
    doc = json.loads(original)
    raw = base64.b64decode(doc["ciphertext"])
    variants = [
        original[:-1], original + b"\n", original.replace(b"\n", b"\r\n"), b"", b"{}\n",
        canonical(dict(doc, ciphertext=base64.b64encode(raw[:-1]).decode())),
        canonical(dict(doc, ciphertext=base64.b64encode(raw + b"\0").decode())),
        canonical(dict(doc, ciphertext=base64.b64encode(raw[:-16]).decode())),
        canonical(dict(doc, nonce=base64.b64encode(os.urandom(12)).decode())),
        canonical(dict(doc, type="string")),
        canonical(dict(doc, keys=[])),
        canonical(dict(doc, keys=[dict(doc["keys"][0], key_id=str(uuid.uuid4()))])),
        canonical(dict(doc, keys=[dict(doc["keys"][0], provider="other")])),
    ]  # fmt: skip
    for i, data in enumerate(variants):
        rewrite(bare_path, {vpath: data})
        assert get_outcome(client, SecretId="bin") == "DecryptionFailure", i
    # a repeated stanza is the same key: it may open, but only to the true value
    rewrite(bare_path, {vpath: canonical(dict(doc, keys=doc["keys"] * 2))})
    assert get_outcome(client, SecretId="bin") in ("DecryptionFailure", f"value:{value!r}")


def _manifest(path: Path, name: str) -> Any:
    return load_secret(read_blob(path, paths.manifest_path(name)), paths.manifest_path(name))


def _with_version_as_current(secret: Any, vid: str, template: Any) -> bytes:
    versions = {k: replace(v, stages=[]) for k, v in secret.versions.items()}
    versions[vid] = replace(template, version_id=vid, stages=["AWSCURRENT"])
    return dump_secret(replace(secret, versions=versions))


@pytest.mark.parametrize("rebind", [False, True], ids=["as-is", "fields-rewritten"])
def test_version_moved_to_another_secret_fails(bare_path: Path, rebind: bool) -> None:
    client = gitsm.client(repo=bare_path)
    client.create_secret(
        Name="team/a", SecretString="alpha-secret-value", ClientRequestToken=TOKEN_A
    )
    client.create_secret(
        Name="team/b", SecretString="beta-secret-value", ClientRequestToken=TOKEN_B
    )
    a, b = _manifest(bare_path, "team/a"), _manifest(bare_path, "team/b")
    env_a = read_blob(bare_path, paths.version_path("team/a", TOKEN_A))
    if rebind:  # also make the envelope claim to belong to team/b
        env_a = canonical(dict(json.loads(env_a), secret="team/b"))
    # 1. copy A's envelope into B under its own VersionId and list it in B's manifest as current
    rewrite(bare_path, {
        paths.version_path("team/b", TOKEN_A): env_a,
        paths.manifest_path("team/b"): _with_version_as_current(b, TOKEN_A, a.versions[TOKEN_A]),
    })  # fmt: skip
    assert get_outcome(client, SecretId="team/b") == "DecryptionFailure"
    assert get_outcome(client, SecretId="team/b", VersionId=TOKEN_A) == "DecryptionFailure"
    # 2. overwrite B's own version file with A's envelope (B's manifest restored)
    if rebind:
        env_a = canonical(dict(json.loads(env_a), version_id=TOKEN_B))
    rewrite(bare_path, {
        paths.version_path("team/b", TOKEN_B): env_a,
        paths.manifest_path("team/b"): dump_secret(b),
    })  # fmt: skip
    assert get_outcome(client, SecretId="team/b") == "DecryptionFailure"
    assert client.get_secret_value(SecretId="team/a")["SecretString"] == "alpha-secret-value"


@pytest.mark.parametrize("rebind", [False, True], ids=["as-is", "fields-rewritten"])
def test_version_moved_to_another_version_id_fails(bare_path: Path, rebind: bool) -> None:
    client = gitsm.client(repo=bare_path)
    client.create_secret(Name="svc", SecretString="first-value", ClientRequestToken=TOKEN_A)
    client.put_secret_value(SecretId="svc", SecretString="second-value", ClientRequestToken=TOKEN_B)
    secret = _manifest(bare_path, "svc")
    env_a = read_blob(bare_path, paths.version_path("svc", TOKEN_A))
    new_vid = str(uuid.uuid4())
    if rebind:
        env_a = canonical(dict(json.loads(env_a), version_id=new_vid))
    rewrite(bare_path, {
        paths.version_path("svc", new_vid): env_a,
        paths.manifest_path("svc"): _with_version_as_current(secret, new_vid, secret.versions[TOKEN_A]),
    })  # fmt: skip
    assert get_outcome(client, SecretId="svc") == "DecryptionFailure"
    # swap the two versions' files: each now sits under the other's VersionId
    env_b = read_blob(bare_path, paths.version_path("svc", TOKEN_B))
    rewrite(bare_path, {
        paths.version_path("svc", TOKEN_A): env_b,
        paths.version_path("svc", TOKEN_B): read_blob(bare_path, paths.version_path("svc", TOKEN_A)),
        paths.manifest_path("svc"): dump_secret(secret),
    })  # fmt: skip
    assert get_outcome(client, SecretId="svc", VersionId=TOKEN_A) == "DecryptionFailure"
    assert get_outcome(client, SecretId="svc", VersionId=TOKEN_B) == "DecryptionFailure"


def test_whole_secret_copied_over_another_is_refused(bare_path: Path) -> None:
    """Copying A's manifest and envelopes over B must not make B answer with A's value."""
    client = gitsm.client(repo=bare_path)
    client.create_secret(
        Name="team/a", SecretString="alpha-secret-value", ClientRequestToken=TOKEN_A
    )
    client.create_secret(
        Name="team/b", SecretString="beta-secret-value", ClientRequestToken=TOKEN_B
    )
    rewrite(bare_path, {
        paths.secret_dir("team/b"): None,
        paths.manifest_path("team/b"): read_blob(bare_path, paths.manifest_path("team/a")),
        paths.version_path("team/b", TOKEN_A): read_blob(bare_path, paths.version_path("team/a", TOKEN_A)),
    })  # fmt: skip
    for call in (
        lambda: client.get_secret_value(SecretId="team/b"),
        lambda: client.describe_secret(SecretId="team/b"),
        lambda: client.list_secrets(),
        lambda: client.put_secret_value(SecretId="team/b", SecretString="x-value"),
    ):
        with pytest.raises(StoreError, match="names secret team/a"):
            call()
    assert client.get_secret_value(SecretId="team/a")["SecretString"] == "alpha-secret-value"


# -- no plaintext in git --------------------------------------------------------------------------


def _forms(value: bytes) -> set[bytes]:
    out = {
        value,
        base64.b64encode(value),
        base64.urlsafe_b64encode(value).rstrip(b"="),
        value.hex().encode(),
        value.hex().upper().encode(),
        hashlib.sha256(value).hexdigest().encode(),
        hashlib.sha1(value).hexdigest().encode(),
        hashlib.md5(value).hexdigest().encode(),
        base64.b64encode(hashlib.sha256(value).digest()),
    }
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return out
    out.add(json.dumps(text)[1:-1].encode())
    out.add(json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8"))
    try:
        doc = json.loads(text)
    except ValueError:
        return out
    if isinstance(doc, dict):  # the fields of a JSON secret, one by one
        for v in doc.values():
            if isinstance(v, str) and len(v) >= 12:
                out |= _forms(v.encode())
    return out


def _run_operations(client: SecretsManagerClient, key_dir: Path) -> list[bytes]:
    u = uuid.uuid4().hex
    s1 = f"PLAINTEXT-one-{u}"
    s2 = json.dumps({"username": f"admin-{u}", "password": f"P@ss/w0rd+{u}", "port": 5432})
    s3 = f"unicodé-välue-☃-{u}"
    b1, b2 = os.urandom(48), b"\x00\xffbinary-" + u.encode() + os.urandom(16)
    s4 = f"retry-value-{u}"
    client.create_secret(Name="prod/db", SecretString=s1, Description="database login",
                         Tags=[{"Key": "team", "Value": "core"}])  # fmt: skip
    client.update_secret(SecretId="prod/db", SecretString=s2)
    client.put_secret_value(SecretId="prod/db", SecretBinary=b1, VersionStages=["AWSPENDING"])
    token = str(uuid.uuid4())
    client.put_secret_value(SecretId="prod/db", SecretString=s3, ClientRequestToken=token)
    client.put_secret_value(SecretId="prod/db", SecretString=s3, ClientRequestToken=token)
    client.create_secret(Name="prod/db/binary", SecretBinary=b2)
    client.create_secret(Name="prod/api.key", SecretString=s4, ClientRequestToken="r" * 40)
    with pytest.raises(client.exceptions.ResourceExistsException):
        client.create_secret(
            Name="prod/api.key", SecretString=s4 + "x", ClientRequestToken="r" * 40
        )
    new_key = LocalProvider(home=key_dir.parent, env={}).create_key()
    client.update_secret(SecretId="prod/db", KmsKeyId=new_key)
    versions = client.list_secret_version_ids(SecretId="prod/db", IncludeDeprecated=True)
    current = client.get_secret_value(SecretId="prod/db")["VersionId"]
    other = next(v["VersionId"] for v in versions["Versions"] if v["VersionId"] != current)
    client.update_secret_version_stage(SecretId="prod/db", VersionStage="AWSCURRENT",
                                       MoveToVersionId=other, RemoveFromVersionId=current)  # fmt: skip
    client.delete_secret(SecretId="prod/db/binary", RecoveryWindowInDays=7)
    client.restore_secret(SecretId="prod/db/binary")
    client.delete_secret(SecretId="prod/api.key", ForceDeleteWithoutRecovery=True)
    assert client.get_secret_value(SecretId="prod/db/binary")["SecretBinary"] == b2
    return [s.encode() for s in (s1, s2, s3, s4)] + [b1, b2]


def test_no_plaintext_in_any_git_object(any_path: Path) -> None:
    client = gitsm.client(repo=any_path)
    values = _run_operations(client, Path(os.environ["GITSM_HOME"]) / "keys")
    git(any_path, "gc", "--quiet")  # packed objects are searched too
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=any_path, check=True, capture_output=True,
    ).stdout  # fmt: skip
    assert len(objects) > 2000
    messages = git(any_path, "log", "--format=%B").encode()
    files = b"".join(p.read_bytes() for p in any_path.rglob("*") if p.is_file())
    for value in values:
        for form in _forms(value):
            assert len(form) >= 12
            assert form not in objects, f"a git object holds a form of a value: {form[:20]!r}"
            assert form not in messages
            assert form not in files, "a file of the repository holds a form of a value"
    assert git(any_path, "fsck", "--strict") == ""


# -- history: trailers and fsck -------------------------------------------------------------------


def _trailers(path: Path, *keys: str) -> list[dict[str, str]]:
    fields = "%x1f".join(f"%(trailers:key=Gitsm-{k},valueonly,separator=%x1d)" for k in keys)
    out = git(path, "log", f"--format=%s%x1f{fields}%x1e")
    rows = []
    for record in out.split("\x1e")[:-1]:
        parts = record.strip("\n").split("\x1f")
        row = {"subject": parts[0]}
        row.update({k: v.strip() for k, v in zip(keys, parts[1:], strict=True)})
        rows.append(row)
    return rows


def test_git_log_shows_trailers_and_fsck_is_clean(any_path: Path) -> None:
    client = gitsm.client(repo=any_path)
    t1, t2, t3 = str(uuid.uuid4()), "tok/../with spaces & slashes/" + "x" * 10, str(uuid.uuid4())
    evil = "evil-token-padding-\nGitsm-Operation: DeleteSecret\n-x"
    client.create_secret(Name="app/one", SecretString="v1-secret-content", ClientRequestToken=t1)
    client.update_secret(
        SecretId="app/one", SecretString="v2-secret-content", ClientRequestToken=t2
    )
    client.put_secret_value(SecretId="app/one", SecretString="v3-secret-content",
                            ClientRequestToken=t3, VersionStages=["AWSPENDING"])  # fmt: skip
    client.put_secret_value(
        SecretId="app/one", SecretString="v4-secret-content", ClientRequestToken=evil
    )
    got = client.get_secret_value(SecretId="app/one", VersionId=evil)
    assert got["SecretString"] == "v4-secret-content" and got["VersionId"] == evil
    client.tag_resource(SecretId="app/one", Tags=[{"Key": "k", "Value": "v"}])
    client.delete_secret(SecretId="app/one", RecoveryWindowInDays=7)
    keys = ("Operation", "Secret", "Version-Id", "Client-Request-Token")
    rows = list(reversed(_trailers(any_path, *keys)))
    assert [r["Operation"] for r in rows] == [
        "Init", "CreateSecret", "UpdateSecret", "PutSecretValue", "PutSecretValue", "TagResource",
        "DeleteSecret",
    ]  # fmt: skip
    assert [r["subject"] for r in rows[1:]] == [f"{r['Operation']} app/one" for r in rows[1:]]
    assert all(r["Secret"] == "app/one" for r in rows[1:])
    assert [r["Version-Id"] for r in rows[1:5]] == [
        t1,
        t2,
        t3,
        "evil-token-padding-%0AGitsm-Operation: DeleteSecret%0A-x",
    ]
    assert [r["Client-Request-Token"] for r in rows[1:5]] == [r["Version-Id"] for r in rows[1:5]]
    assert rows[5]["Version-Id"] == rows[5]["Client-Request-Token"] == ""
    assert git(any_path, "fsck", "--strict") == ""
    assert git(any_path, "fsck", "--strict", "--no-dangling", "--full") == ""
    for line in git(any_path, "log", "--format=%B").splitlines():
        assert "secret-content" not in line


# -- format, read-only reads, fsync ---------------------------------------------------------------


def test_newer_store_format_is_refused(bare_path: Path) -> None:
    client = gitsm.client(repo=bare_path)
    client.create_secret(Name="x", SecretString="value-of-x")
    config = yaml.safe_load(read_blob(bare_path, paths.CONFIG_PATH))
    config["format"] = 2
    rewrite(bare_path, {paths.CONFIG_PATH: yaml.safe_dump(config).encode()})
    tip = head(bare_path)
    with pytest.raises(StoreError, match=r"format 2.*newer.*Upgrade gitsm") as info:
        gitsm.client(repo=bare_path)
    assert info.value.exit_code == 253
    for call in (
        lambda: client.get_secret_value(SecretId="x"),
        lambda: client.put_secret_value(SecretId="x", SecretString="other-value"),
        lambda: client.create_secret(Name="y", SecretString="value-of-y"),
    ):
        with pytest.raises(StoreError, match="format 2"):
            call()
    assert head(bare_path) == tip


def test_newer_manifest_format_is_refused(bare_path: Path) -> None:
    client = gitsm.client(repo=bare_path)
    client.create_secret(Name="x", SecretString="value-of-x")
    mpath = paths.manifest_path("x")
    doc = yaml.safe_load(read_blob(bare_path, mpath))
    doc["format"] = 2
    rewrite(bare_path, {mpath: yaml.safe_dump(doc).encode()})
    with pytest.raises(StoreError, match="format 2"):
        client.get_secret_value(SecretId="x")


def test_reads_make_no_commits(any_path: Path) -> None:
    client = gitsm.client(repo=any_path)
    client.create_secret(
        Name="r/one", SecretString="read-me-value", Tags=[{"Key": "a", "Value": "b"}]
    )
    client.create_secret(Name="r/two", SecretBinary=b"\x01\x02binary")
    token = client.put_secret_value(SecretId="r/one", SecretString="again-value")["VersionId"]
    gitdir = Path(git(any_path, "rev-parse", "--absolute-git-dir").strip())

    def state() -> tuple[str, str, str, set[str]]:
        count = git(any_path, "rev-list", "--count", "--all")
        reflog = git(any_path, "reflog", "show", "--all")
        objects = {str(p.relative_to(gitdir)) for p in (gitdir / "objects").rglob("*")}
        return count, head(any_path), reflog, objects

    before = state()
    client.get_secret_value(SecretId="r/one")
    client.get_secret_value(SecretId="r/one", VersionStage="AWSPREVIOUS")
    client.describe_secret(SecretId="r/two")
    client.list_secrets()
    client.list_secrets(Filters=[{"Key": "name", "Values": ["r/"]}], MaxResults=1)
    client.list_secret_version_ids(SecretId="r/one", IncludeDeprecated=True)
    client.batch_get_secret_value(SecretIdList=["r/one", "r/two", "missing"])
    client.get_random_password()
    for bad in ({"SecretId": "missing"}, {"SecretId": "r/one", "VersionStage": "NOPE"}):
        with pytest.raises(ClientError):
            client.get_secret_value(**bad)
    # requests that change nothing make no commit either
    client.put_secret_value(SecretId="r/one", SecretString="again-value", ClientRequestToken=token)
    client.update_secret(SecretId="r/one", SecretString="again-value", ClientRequestToken=token)
    client.tag_resource(SecretId="r/one", Tags=[{"Key": "a", "Value": "b"}])
    client.untag_resource(SecretId="r/one", TagKeys=["absent"])
    client.restore_secret(SecretId="r/one")
    assert state() == before


def test_fsync_on_by_default_and_off_with_env(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITSM_FSYNC", raising=False)
    assert SecretStore.open(repo_path).repo.fsync is True
    assert gitsm.client(repo=repo_path).store.repo.fsync is True
    assert gitsm.init(repo_path).repo.fsync is True
    for off in ("0", "false", "no", "off"):
        monkeypatch.setenv("GITSM_FSYNC", off)
        assert gitsm.client(repo=repo_path).store.repo.fsync is False
    monkeypatch.setenv("GITSM_FSYNC", "1")
    assert gitsm.client(repo=repo_path).store.repo.fsync is True
    assert gitsm.client(repo=repo_path, fsync=False).store.repo.fsync is False


# -- packing --------------------------------------------------------------------------------------


def _count_objects(path: Path) -> dict[str, int]:
    out = git(path, "count-objects", "-v")
    return {k: int(v) for k, v in re.findall(r"^([\w-]+): (\d+)$", out, re.M)}


ONE_WRITE = 8
"""Loose objects one write adds at most here: a commit, four trees (root, secrets/, the secret's
directory, ~versions/) and two blobs (manifest, envelope)."""


def test_writes_keep_the_repository_packed(bare_path: Path) -> None:
    git(bare_path, "config", "gc.auto", "50")
    client = gitsm.client(repo=bare_path)
    busy = [f"busy/{i}" for i in range(4)]  # each stays under the quota of 200 young versions
    for name in busy:
        client.create_secret(Name=name, SecretString="value-0000")
    threshold = (50 + 255) // 256
    bucket = bare_path / "objects" / "17"
    writes = 0
    while not (bucket.is_dir() and len(os.listdir(bucket)) > threshold) and writes < 600:
        writes += 1
        client.update_secret(SecretId=busy[writes % 4], SecretString=f"value-{writes:04d}")
    assert writes < 600, "objects/17 never filled up"
    peak = _count_objects(bare_path)["count"]
    client.update_secret(SecretId="busy/0", SecretString="value-final")  # the following write
    deadline = time.monotonic() + 30
    counts = _count_objects(bare_path)
    while time.monotonic() < deadline:
        counts = _count_objects(bare_path)
        if (
            counts["packs"] >= 1
            and counts["count"] < peak // 2 + ONE_WRITE
            and not (bare_path / "gc.pid").exists()
        ):
            break
        time.sleep(0.1)
    assert counts["packs"] >= 1, f"no pack after {writes + 1} writes: {counts}"
    # the objects of the write after the peak may stay loose: without a gc there are peak + them
    assert counts["count"] < peak // 2 + ONE_WRITE, (
        f"loose objects did not fall (peak {peak}): {counts}"
    )
    assert client.get_secret_value(SecretId="busy/0")["SecretString"] == "value-final"
    # A background gc's pack-refs briefly holds the branch's lock; a write that meets it retries,
    # which can leave its first commit object dangling (harmless, pruned by a later gc).
    assert git(bare_path, "fsck", "--strict", "--no-dangling") == ""


def test_pack_now(any_path: Path) -> None:
    client = gitsm.client(repo=any_path)
    for i in range(5):
        client.create_secret(Name=f"p/{i}", SecretString=f"packed-value-{i}")
    assert _count_objects(any_path)["count"] > 0
    client.store.repo.pack()
    counts = _count_objects(any_path)
    assert counts["packs"] >= 1 and counts["count"] == 0, counts
    assert client.get_secret_value(SecretId="p/3")["SecretString"] == "packed-value-3"
    client.update_secret(SecretId="p/3", SecretString="after-pack")
    assert client.get_secret_value(SecretId="p/3")["SecretString"] == "after-pack"
    assert git(any_path, "fsck", "--strict") == ""
