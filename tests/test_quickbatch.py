"""The quick read of many secrets (gitsm.quickbatch) and materialize's use of it
(gitsm.materialize.read): every value is the full reader's, from the same commit, or nothing is
answered and the store reads everything.

Real stores written by gitsm, packed and cloned with the git CLI; the full reader
(SecretStore.get_secret_values) is the reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyrage import x25519  # type: ignore[import-untyped]

import gitsm
from gitsm import plainpack
from gitsm.errors import GitsmError
from gitsm.materialize import Spec, parse_flag
from gitsm.materialize.read import StorePath, read_values
from gitsm.plaingit import Doubt
from gitsm.quickbatch import read_many
from gitsm.quickread import CONFIG_STAMP
from gitsm.store import SecretStore
from tests.conftest import git
from tests.test_quickread import POLICY, _own_home  # noqa: F401  (an autouse fixture: a HOME of its own)

Request = tuple[str, str | None, str | None]


@pytest.fixture(autouse=True)
def _quick_read_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITSM_QUICK_READ", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> tuple[SecretStore, list[Request]]:
    """A store of strings, binaries, JSON and several versions, and requests that read each
    version by stage, by VersionId and by both."""
    s = gitsm.init(tmp_path / "store")
    requests: list[Request] = []
    for i in range(30):
        name = f"team{i % 3}/app{i}/db"
        s.create_secret(name, secret_string=json.dumps({"user": f"u{i}", "password": f"p{i}"}))
        requests.append((name, None, None))
    s.create_secret("blob", secret_binary=bytes(range(256)))
    first = s.put_secret_value("team0/app0/db", secret_string="second").version_id
    s.put_secret_value("team0/app0/db", secret_string="third", version_stages=["CUSTOM"])
    requests += [
        ("blob", None, None),
        ("team0/app0/db", None, "AWSPREVIOUS"),
        ("team0/app0/db", None, "CUSTOM"),
        ("team0/app0/db", first, None),
        ("team0/app0/db", first, "AWSCURRENT"),
        (s.describe_secret("team1/app1/db").arn, None, None),
    ]
    return s, requests


def full_values(s: SecretStore, requests: list[Request]) -> list[tuple[bytes, str]]:
    out: list[tuple[bytes, str]] = []
    for result in s.get_secret_values(requests):
        assert not isinstance(result, GitsmError), result
        out.append((result.value, result.kind))
    return out


def quick_values(path: Path, requests: list[Request]) -> tuple[list[tuple[bytes, str]], str]:
    values, commit = read_many(str(path), requests)
    return [(v.value, v.kind) for v in values], commit


def test_every_value_is_the_full_readers_from_the_tip(
    store: tuple[SecretStore, list[Request]], tmp_path: Path
) -> None:
    s, requests = store
    values, commit = quick_values(tmp_path / "store", requests)
    assert values == full_values(s, requests)
    assert commit == s.repo.tip().commit_id
    assert values[-6][1] == "binary" and values[-4][0] == b"third" and values[-3][0] == b"second"


@pytest.mark.parametrize("kept", [plainpack.BASES_KEPT, 3], ids=["bases-kept", "bases-dropped"])
def test_packed_and_cloned_stores_read_alike(
    store: tuple[SecretStore, list[Request]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kept: int,
) -> None:
    """Packed objects (with deltas between the manifests; the delta bases kept, or dropped every
    third object) and a fresh clone that the full reader never read: its store config is parsed
    by the full reader's parser, and then noted."""
    monkeypatch.setattr(plainpack, "BASES_KEPT", kept)
    s, requests = store
    expected = full_values(s, requests)
    git(tmp_path / "store", "gc", "-q", "--aggressive")
    assert quick_values(tmp_path / "store", requests)[0] == expected
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--no-local", str(tmp_path / "store"), str(clone))
    stamp = clone / ".git" / "gitsm" / CONFIG_STAMP
    assert not stamp.exists()
    assert quick_values(clone, requests)[0] == expected
    assert stamp.exists()
    assert quick_values(clone, requests)[0] == expected  # now through the stamp
    git(clone, "fsck", "--strict")


@pytest.mark.parametrize(
    "bad",
    [
        ("nope/missing", None, None),
        ("team0/app0/db", None, "NO-SUCH-STAGE"),
        ("team0/app0/db", "EXAMPLE1-90ab-cdef-fedc-ba9876543210", None),
        ("arn:aws:secretsmanager:eu-west-9:123456789012:secret:blob", None, None),
    ],
    ids=["missing", "stage", "version", "other-region"],
)
def test_one_request_it_cannot_answer_answers_none(
    store: tuple[SecretStore, list[Request]], tmp_path: Path, bad: Request
) -> None:
    _, requests = store
    with pytest.raises(Doubt):
        read_many(str(tmp_path / "store"), [*requests, bad])


def test_secrets_the_quick_read_leaves_to_the_store(
    store: tuple[SecretStore, list[Request]], tmp_path: Path
) -> None:
    """Pending deletion, a resource policy: left to the full reader (which words the error, or
    answers), for the whole batch."""
    s, requests = store
    s.put_resource_policy("team2/app2/db", POLICY)
    with pytest.raises(Doubt):
        read_many(str(tmp_path / "store"), requests)
    s.delete_secret("team1/app1/db", recovery_window_in_days=7)
    with pytest.raises(Doubt):
        read_many(str(tmp_path / "store"), [("team1/app1/db", None, None)])


def test_a_damaged_config_is_left_to_the_store(tmp_path: Path) -> None:
    """In a clone the full reader never read, a config it would refuse is a Doubt."""
    s = gitsm.init(tmp_path / "store")
    s.create_secret("a", secret_string="x")
    config = tmp_path / "store" / ".gitsm" / "config.yaml"
    config.write_text(config.read_text().replace("account_id: ", "account_id: x"))
    git(tmp_path / "store", "commit", "-q", "-am", "break the config")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--no-local", str(tmp_path / "store"), str(clone))
    with pytest.raises(Doubt):
        read_many(str(clone), [("a", None, None)])
    assert not (clone / ".git" / "gitsm" / CONFIG_STAMP).exists()


def entries(requests: list[Request]) -> Spec:
    spec = Spec()
    spec.extend([parse_flag("--env", f"V{i}={r[0]}") for i, r in enumerate(requests)])
    return spec


def test_materialize_reads_quickly_without_opening_the_store(
    store: tuple[SecretStore, list[Request]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enough requests for the forked helper (it reads the second half)."""
    s, _ = store
    for i in range(120):
        s.create_secret(f"many/{i}", secret_string=f"value-{i}")
    requests: list[Request] = [(f"many/{i}", None, None) for i in range(120)]

    def never(self: StorePath) -> SecretStore:
        raise AssertionError("the store was opened")

    monkeypatch.setattr(StorePath, "open", never)
    results, commit = read_values(StorePath(str(tmp_path / "store")), entries(requests).entries)
    assert commit == s.repo.tip().commit_id
    got = [results[r].value for r in requests]  # type: ignore[union-attr]
    assert got == [f"value-{i}".encode() for i in range(120)]


def test_materialize_falls_back_to_the_store_for_everything(
    store: tuple[SecretStore, list[Request]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing secret: the store reads the batch and words the error; GITSM_QUICK_READ=0 and
    a --region also go to the store, with the same values."""
    s, requests = store
    opened: list[StorePath] = []
    real_open = StorePath.open

    def spy(self: StorePath) -> SecretStore:
        opened.append(self)
        return real_open(self)

    monkeypatch.setattr(StorePath, "open", spy)
    plain = [r for r in requests if r[1] is None and r[2] is None]
    spec = entries([*plain, ("nope/missing", None, None)])
    results, _ = read_values(StorePath(str(tmp_path / "store")), spec.entries)
    missing = results[("nope/missing", None, None)]
    assert isinstance(missing, GitsmError) and missing.code == "ResourceNotFoundException"
    assert [(results[r].value, results[r].kind) for r in plain] == full_values(s, plain)  # type: ignore[union-attr]
    assert len(opened) == 1
    for path, env in ((StorePath(str(tmp_path / "store")), "0"),
                      (StorePath(str(tmp_path / "store"), s.config().region), "1")):  # fmt: skip
        monkeypatch.setenv("GITSM_QUICK_READ", env)
        results, _ = read_values(path, entries(plain).entries)
        assert [(results[r].value, results[r].kind) for r in plain] == full_values(s, plain)  # type: ignore[union-attr]
    assert len(opened) == 3
    assert os.environ["GITSM_QUICK_READ"] == "1"


WRITER = """
import sys
import gitsm
store = gitsm.SecretStore.open(sys.argv[1], fsync=False)
for n in range(int(sys.argv[2])):
    store.update_secret(f"race/{n % 8}", secret_string=f"value-{n}")
"""
"""The writer: git prune-packed beside it may remove a fan-out folder while libgit2 moves a new
object into it, and each write must then write its objects again (gitrepo.failures)."""


def test_reads_stay_on_one_commit_while_others_write_and_pack(tmp_path: Path) -> None:
    """Another process writes (a bare store, as CI and servers write) while the quick read runs
    again and again and git packs the loose objects (and removes them) meanwhile: every answer is
    exactly the full reader's at the commit it names, reads keep being answered, and every write
    lands although prune-packed removes the fan-out folders it writes into."""
    s = gitsm.init(tmp_path / "store.git", bare=True)
    for i in range(8):
        s.create_secret(f"race/{i}", secret_string="initial")
    requests: list[Request] = [(f"race/{i}", None, None) for i in range(8)]
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "store.git"), "150"])
    answered: dict[str, list[bytes]] = {}
    reads = packs = 0
    try:
        while writer.poll() is None:
            reads += 1
            try:
                values, commit = read_many(str(tmp_path / "store.git"), requests)
                answered[commit] = [v.value for v in values]
            except Doubt:
                pass
            if reads % 20 == 0:  # loose objects into a pack, then removed (safe beside writers)
                git(tmp_path / "store.git", "repack", "-q", "-d")
                git(tmp_path / "store.git", "prune-packed", "-q")
                packs += 1
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0
    for commit, read in answered.items():
        snap = s.repo.snapshot_at(commit)
        assert read == [v.value for v in s.get_secret_values(requests, snap)], commit  # type: ignore[union-attr]
    assert len(answered) >= 5 and packs, (len(answered), reads, packs)
    assert any(b"value-" in v for values in answered.values() for v in values)
    git(tmp_path / "store.git", "fsck", "--strict")


def test_age_and_team_keys_are_opened_as_the_store_opens_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team key of two age recipients (this process holds one identity) beside a local key:
    the quick read answers every value through the store's own envelope opener, as the full
    reader does; without the identity it answers none, and materialize's read goes to the
    store, which words the DecryptionFailure."""
    mine, theirs = x25519.Identity.generate(), x25519.Identity.generate()
    monkeypatch.setenv("GITSM_AGE_KEY", str(mine))
    s = gitsm.init(tmp_path / "store")
    s.create_key_alias("alias/team", [str(mine.to_public()), str(theirs.to_public())])
    s.create_secret("team/a", secret_string="age-one", kms_key_id="alias/team")
    s.create_secret("team/b", secret_binary=b"\x00age-two", kms_key_id="alias/team")
    s.create_secret("local/c", secret_string="local-three")
    requests: list[Request] = [
        ("team/a", None, None),
        ("local/c", None, None),
        ("team/b", None, None),
    ]
    values, _ = quick_values(tmp_path / "store", requests)
    assert values == full_values(s, requests)
    assert values == [
        (b"age-one", "string"),
        (b"local-three", "string"),
        (b"\x00age-two", "binary"),
    ]
    monkeypatch.setenv("GITSM_AGE_KEY", str(x25519.Identity.generate()))
    with pytest.raises(Doubt):
        read_many(str(tmp_path / "store"), requests)
    results, _ = read_values(StorePath(str(tmp_path / "store")), entries(requests).entries)
    failed = results[("team/a", None, None)]
    assert isinstance(failed, GitsmError) and failed.code == "DecryptionFailure"
    assert results[("local/c", None, None)].value == b"local-three"  # type: ignore[union-attr]
