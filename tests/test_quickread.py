"""The quick read (gitsm.quickread, gitsm.plaingit) answers exactly what the full reader answers,
or nothing: every case it is not certain of is left to the full reader.

Each test reads the same secret both ways on a real store (written by gitsm, changed with the git
CLI or pygit2 where a test needs a store gitsm would not write) and compares the answers; the
randomized test mutates a manifest many ways and checks that whenever the quick read answers,
the full reader gives the same answer.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import pygit2
import pytest

import gitsm
from gitsm import quickread
from gitsm.awserrors import ClientError, ParamValidationError
from gitsm.keys import KeyService
from gitsm.plaingit import Doubt
from tests.conftest import git
from tests.rotating import ARN, PASSWORD

SECRET_TOKEN = "EXAMPLE1-90ab-cdef-fedc-ba987SECRET2"
POLICY = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":'
          '"arn:aws:iam::123456789012:root"},"Action":"secretsmanager:GetSecretValue",'
          '"Resource":"*"}]}')  # fmt: skip


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A HOME without git config of the user's (whose sections could send the read elsewhere)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)


def full(path: Path, **params: Any) -> dict[str, Any]:
    """GetSecretValue through the full reader, as the CLI shows it (no ResponseMetadata)."""
    out = gitsm.client(repo=path).get_secret_value(**params)
    out.pop("ResponseMetadata")
    out["CreatedDate"] = out["CreatedDate"].isoformat()
    return out


def quick(path: Path, **params: Any) -> dict[str, Any]:
    """GetSecretValue through the quick read (raises Doubt when it leaves it to the full one)."""
    return quickread.get_secret_value(
        str(path), params["SecretId"], params.get("VersionId"), params.get("VersionStage")
    )


def same(path: Path, **params: Any) -> dict[str, Any]:
    """The quick read's answer, after checking it is the full reader's."""
    expected = full(path, **params)
    answer = quick(path, **params)
    assert answer == expected
    return answer


def doubted(path: Path, **params: Any) -> None:
    with pytest.raises(Doubt):
        quick(path, **params)


def commit_file(path: Path, name: str, data: bytes | None, message: str = "edit") -> None:
    """Commit ``name`` with ``data`` (None: removed) on the store's branch, as a hand edit would."""
    repo = pygit2.Repository(str(path))
    branch = repo.head.name
    tip = repo.head.peel(pygit2.Commit)
    index = pygit2.Index()
    index.read_tree(tip.tree)
    if data is None:
        index.remove(name)
    else:
        index.add(pygit2.IndexEntry(name, repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB))
    tree = index.write_tree(repo)
    who = pygit2.Signature("Test", "test@example.com")
    repo.create_commit(branch, who, who, message, tree, [tip.id])


def manifest_name(secret: str) -> str:
    from gitsm.paths import manifest_path

    return manifest_path(secret)


def blob(path: Path, name: str) -> bytes:
    repo = pygit2.Repository(str(path))
    return bytes(repo.head.peel(pygit2.Commit).tree[name].data)


def fill(path: Path) -> None:
    """The secrets every case starts from, written through the library."""
    c = gitsm.client(repo=path)
    c.create_secret(Name="app/db", SecretString="first")
    c.put_secret_value(SecretId="app/db", SecretString="second \u00e9\U0001f600 \"q\" \\",
                       ClientRequestToken=SECRET_TOKEN)  # fmt: skip
    c.put_secret_value(SecretId="app/db", SecretString="third", VersionStages=["blue"])
    c.create_secret(Name="bin/key", SecretBinary=bytes(range(256)), Description="d\u00e9",
                    Tags=[{"Key": "team", "Value": "core"}])  # fmt: skip
    c.create_secret(Name=".odd//name.", SecretString="{}")
    c.create_secret(Name="rotating", SecretString="r")
    c.store.register_rotation_function("password", PASSWORD)
    c.rotate_secret(SecretId="rotating", RotationLambdaARN=ARN.format("password"),
                    RotationRules={"AutomaticallyAfterDays": 7})  # fmt: skip
    full(path, SecretId="app/db")  # the full reader has read this config: the stamp is there


_TEMPLATES: dict[str, tuple[Path, Path]] = {}
"""(store, its key ring's GITSM_HOME) per kind, filled once per test process: the rotation alone
runs four processes, and every case starts from a copy."""


@pytest.fixture(params=["checkout", "bare"])
def filled(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:  # fmt: skip
    """A copy of a store holding :func:`fill`'s secrets (checkout and bare), its key in this
    test's key ring."""
    kind = str(request.param)
    if kind not in _TEMPLATES:
        root = tmp_path_factory.mktemp(f"filled-{kind}")
        home = root / "home"
        with monkeypatch.context() as scoped:
            scoped.setenv("GITSM_HOME", str(home))
            store = root / ("store.git" if kind == "bare" else "store")
            gitsm.init(store, bare=kind == "bare")
            fill(store)
        _TEMPLATES[kind] = store, home
    store, home = _TEMPLATES[kind]
    copy = tmp_path / store.name
    shutil.copytree(store, copy, symlinks=True)
    shutil.copytree(home / "keys", Path(os.environ["GITSM_HOME"]) / "keys", dirs_exist_ok=True)
    return copy


def test_answers_as_the_full_reader(filled: Path) -> None:
    arn = full(filled, SecretId="app/db")["ARN"]
    assert same(filled, SecretId="app/db")["SecretString"].startswith("second")
    assert same(filled, SecretId="app/db", VersionStage="AWSPREVIOUS")["SecretString"] == "first"
    assert same(filled, SecretId="app/db", VersionStage="blue")["VersionStages"] == ["blue"]
    assert same(filled, SecretId="app/db", VersionId=SECRET_TOKEN)["VersionId"] == SECRET_TOKEN
    same(filled, SecretId="app/db", VersionId=SECRET_TOKEN, VersionStage="AWSCURRENT")
    same(filled, SecretId=arn)
    same(filled, SecretId=arn[:-7])  # a partial ARN
    assert same(filled, SecretId="bin/key")["SecretBinary"] == bytes(range(256))
    assert same(filled, SecretId=".odd//name.")["SecretString"] == "{}"
    assert "rotation_enabled: true" in blob(filled, manifest_name("rotating")).decode()
    assert same(filled, SecretId="rotating")["VersionStages"] == ["AWSCURRENT"]


@pytest.mark.parametrize(
    "params",
    [
        {"SecretId": "nope"},
        {"SecretId": "app/db", "VersionStage": "AWSPENDING"},
        {"SecretId": "app/db", "VersionId": "0" * 36},
        {"SecretId": "app/db", "VersionId": SECRET_TOKEN, "VersionStage": "AWSPREVIOUS"},
        {"SecretId": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db"},
        {"SecretId": ""},
    ],
)
def test_leaves_errors_to_the_full_reader(filled: Path, params: dict[str, str]) -> None:
    with pytest.raises((ClientError, ParamValidationError)):
        full(filled, **params)
    doubted(filled, **params)


def test_leaves_secrets_it_does_not_model(filled: Path) -> None:
    c = gitsm.client(repo=filled)
    c.put_resource_policy(SecretId="app/db", ResourcePolicy=POLICY)
    doubted(filled, SecretId="app/db")
    c.replicate_secret_to_regions(SecretId="bin/key", AddReplicaRegions=[{"Region": "eu-west-1"}])
    doubted(filled, SecretId="bin/key")
    c.delete_secret(SecretId="rotating", RecoveryWindowInDays=7)
    doubted(filled, SecretId="rotating")
    same(filled, SecretId=".odd//name.")


def test_first_read_of_a_changed_config_is_the_full_readers(filled: Path) -> None:
    stamp = filled / ("" if (filled / "HEAD").exists() else ".git") / "gitsm" / "config-vetted"
    stamp.unlink()
    doubted(filled, SecretId="app/db")
    full(filled, SecretId="app/db")
    same(filled, SecretId="app/db")
    gitsm.client(repo=filled)  # opening alone reads the config: the stamp follows the tip
    commit_file(filled, ".gitsm/config.yaml", blob(filled, ".gitsm/config.yaml") + b"# edited\n")
    doubted(filled, SecretId="app/db")
    full(filled, SecretId="app/db")
    same(filled, SecretId="app/db")


def gitdir_of(path: Path) -> Path:
    return path if (path / "HEAD").exists() else path / ".git"


def entry_types(path: Path) -> set[int]:
    """The pack entry types (1-4 objects, 6 offset delta, 7 reference delta) of ``path``'s packs."""
    kinds = set()
    for index in (gitdir_of(path) / "objects" / "pack").glob("*.idx"):
        data = index.with_suffix(".pack").read_bytes()
        for line in git(path, "verify-pack", "-v", str(index)).splitlines():
            words = line.split()
            if len(words) >= 5 and len(words[0]) == 40 and words[4].isdigit():
                kinds.add((data[int(words[4])] >> 4) & 7)
    return kinds


def test_packed_objects_and_deltas(filled: Path) -> None:
    c = gitsm.client(repo=filled)
    for i in range(30):  # many similar manifests: git stores most as deltas
        c.put_secret_value(SecretId="app/db", SecretString=f"v{i}")
    git(filled, "gc", "-q", "--aggressive", "--prune=now")
    assert not list((gitdir_of(filled) / "objects").glob("??/*"))  # every object is packed
    assert 6 in entry_types(filled) and 7 not in entry_types(filled)
    same(filled, SecretId="app/db")
    same(filled, SecretId="app/db", VersionId=SECRET_TOKEN)
    git(filled, "-c", "repack.useDeltaBaseOffset=false", "repack", "-a", "-d", "-f", "-q")
    assert 7 in entry_types(filled) and 6 not in entry_types(filled)
    same(filled, SecretId="app/db")
    same(filled, SecretId="app/db", VersionStage="AWSPREVIOUS")
    same(filled, SecretId="bin/key")
    git(filled, "fsck", "--strict")


def test_git_config_that_could_choose_another_branch(
    filled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    same(filled, SecretId="app/db")
    git(filled, "config", "gitsm.branch", "main")
    doubted(filled, SecretId="app/db")
    git(filled, "config", "--unset", "gitsm.branch")
    same(filled, SecretId="app/db")
    home = Path(os.environ["HOME"])
    (home / ".gitconfig").write_text('[includeIf "gitdir:/"]\n\tpath = other\n')
    doubted(filled, SecretId="app/db")
    (home / ".gitconfig").write_text("[user]\n\tname = someone\n")
    same(filled, SecretId="app/db")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    doubted(filled, SecretId="app/db")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL")
    monkeypatch.delenv("HOME")
    doubted(filled, SecretId="app/db")


def test_pending_work_tree_sync_and_damage(filled: Path) -> None:
    gitdir = gitdir_of(filled)
    (gitdir / "gitsm-worktree.json").write_text("{}")
    doubted(filled, SecretId="app/db")
    (gitdir / "gitsm-worktree.json").unlink()
    same(filled, SecretId="app/db")
    oid = str(pygit2.Repository(str(filled)).head.peel(pygit2.Commit).tree.id)
    loose = gitdir / "objects" / oid[:2] / oid[2:]
    data = loose.read_bytes()
    loose.chmod(0o644)
    loose.write_bytes(data[: len(data) // 2])  # a truncated root tree
    doubted(filled, SecretId="app/db")
    loose.write_bytes(data)
    same(filled, SecretId="app/db")


def test_envelopes_it_cannot_open_alone(filled: Path) -> None:
    version = full(filled, SecretId="app/db")["VersionId"]
    from gitsm.paths import version_path

    name = version_path("app/db", version)
    original = blob(filled, name)
    doc = original.decode()
    flipped = doc.replace('"ciphertext": "', '"ciphertext": "A', 1).replace('"A', '"', 1)
    ciphertext = doc.split('"ciphertext": "')[1].split('"')[0]
    other = ("B" if ciphertext[0] != "B" else "C") + ciphertext[1:]
    for changed in (doc.replace(ciphertext, other), doc.replace('"local"', '"age"'),
                    doc.replace("\n", "\r\n"), flipped.replace("  ", " ", 1)):  # fmt: skip
        commit_file(filled, name, changed.encode())
        doubted(filled, SecretId="app/db")
        with pytest.raises(ClientError):
            full(filled, SecretId="app/db")
    commit_file(filled, name, original)
    same(filled, SecretId="app/db")


def test_keys_from_the_environment(filled: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = Path(os.environ["GITSM_HOME"]) / "keys"
    entry = KeyService().local().export_key(next(keys.glob("*.key")).stem)
    monkeypatch.setenv("GITSM_HOME", str(keys.parent.parent / "elsewhere"))
    doubted(filled, SecretId="app/db")  # no key: the full reader says so
    monkeypatch.setenv("GITSM_LOCAL_KEYS", f" {entry},\n")
    same(filled, SecretId="app/db")
    monkeypatch.setenv("GITSM_LOCAL_KEYS", f"{entry} not-a-key")
    doubted(filled, SecretId="app/db")
    with pytest.raises(gitsm.errors.GitsmError):
        full(filled, SecretId="app/db")


def test_hand_edited_manifest_in_other_yaml(filled: Path) -> None:
    name = manifest_name("app/db")
    original = blob(filled, name)
    commit_file(filled, name, original.replace(b'name: "app/db"', b"name: app/db"))
    assert full(filled, SecretId="app/db")["Name"] == "app/db"
    doubted(filled, SecretId="app/db")
    commit_file(filled, name, original)
    same(filled, SecretId="app/db")


MUTATIONS = [
    'description: "' + "x" * 2049 + '"', 'description: "' + "x" * 2048 + '"', "description: 5",
    "name: true", 'name: "other"', 'arn: ""', "format: 2", "format: true", 'created: "yesterday"',
    'last_changed: "2026-01-01T00:00:00"', 'last_changed: "2026-01-01T00:00:00+02:00"',
    'kms_key_id: ""', 'kms_key_id: "k"', "rotation_enabled: 1", "rotation_after_days: 1001",
    "rotation_after_days: 0", "rotation_after_days: 3", "rotation_enabled: false",
    'rotation_duration: "4h"', 'rotation_duration: "12h"', 'rotation_token: "short"',
    'next_rotation: "2026-13-01T00:00:00.000000Z"', 'last_rotated: "2026-02-28T00:00:00.000000Z"',
    'unknown_key: "x"', "unknown_key: 7", 'deleted: "2026-01-01T00:00:00.000000Z"',
    'replicas: ["eu-west-1"]', "tags: []", "tags:", '- key: "k"', '  value: "v"',
    '- key: ""', '  value: "' + "v" * 257 + '"', "versions: {}", 'name: "app/db\\u0000"',
    'description: "\\x41"', 'description: "\\u00e9"', 'description: "\\q"', "",
]  # fmt: skip


def test_mutated_manifests_answer_as_the_full_reader(filled: Path, seed: int) -> None:
    """Whenever the quick read answers a mutated manifest, the full reader answers the same."""
    rng = random.Random(seed)
    name = manifest_name("app/db")
    lines = blob(filled, name).decode().split("\n")[:-1]
    answered = refused = 0
    for _ in range(60):
        changed = list(lines)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(1, len(changed) + 1)
            action = rng.random()
            if action < 0.45:
                changed.insert(at, rng.choice(MUTATIONS))
            elif action < 0.65 and at < len(changed):
                del changed[at]
            elif action < 0.85 and at < len(changed):
                line = changed[at]
                cut = rng.randrange(len(line) + 1)
                changed[at] = (
                    line[:cut] + rng.choice(['"', "\\", " ", "x", "9", ",", "]"]) + line[cut:]
                )
            elif at < len(changed):
                changed.insert(at, changed[at])
        commit_file(filled, name, ("\n".join(changed) + "\n").encode())
        try:
            expected: dict[str, Any] | Exception = full(filled, SecretId="app/db")
        except Exception as exc:  # the full reader refuses or finds nothing
            expected = exc
        try:
            answer = quick(filled, SecretId="app/db")
        except Doubt:
            refused += 1
            continue
        answered += 1
        assert answer == expected, "\n".join(changed)
    assert answered and refused  # both ways taken (the seed is printed)


def test_a_write_that_changes_the_config_notes_it(any_path: Path) -> None:
    """The first CreateSecret adds the default key to the config; the write notes the new config,
    so the next read is a quick one without the full reader reading it first."""
    c = gitsm.client(repo=any_path)
    before = git(any_path, "rev-parse", "HEAD:.gitsm/config.yaml").strip()
    c.create_secret(Name="first", SecretString="v")
    config = git(any_path, "rev-parse", "HEAD:.gitsm/config.yaml").strip()
    assert config != before  # the write changed the config
    stamp = gitdir_of(any_path) / "gitsm" / quickread.CONFIG_STAMP
    assert stamp.read_text().split()[1] == config
    assert quick(any_path, SecretId="first")["SecretString"] == "v"
    same(any_path, SecretId="first")
