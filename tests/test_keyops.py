"""Key management: local keys, aliases and recipients, rekey, and the exposure report (incl. history)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pyrage import x25519

from gitsm import envelope
from gitsm.errors import (
    DecryptionFailure,
    InvalidParameterException,
    InvalidRequestException,
    ResourceExistsException,
    ResourceNotFoundException,
)
from gitsm.keys import KeyService, Recipient
from gitsm.manifest import load_secret
from gitsm.providers.age import ENV_IDENTITY_FILE, ENV_KEY
from gitsm.store import SecretStore
from tests.conftest import git

EXAMPLE_KMS = "arn:aws:kms:us-west-2:123456789012:key/EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"


def open_as(path: Path, *identities: Any) -> SecretStore:
    """The store as seen by someone holding exactly these age identities (and the local ring)."""
    env = {k: v for k, v in os.environ.items() if k not in (ENV_KEY, ENV_IDENTITY_FILE)}
    if identities:
        env[ENV_KEY] = " ".join(str(i) for i in identities)
    return SecretStore.open(path, keys=KeyService(env=env))


def head(path: Path) -> tuple[str, list[str]]:
    """The tip's commit message and the files it changed."""
    message = git(path, "log", "-1", "--format=%B")
    files = git(path, "show", "--name-only", "--format=", "HEAD").split()
    return message, files


def count(store: SecretStore) -> int:
    return sum(1 for _ in store.repo.history())


@pytest.fixture
def alice() -> Any:
    return x25519.Identity.generate()


@pytest.fixture
def bob() -> Any:
    return x25519.Identity.generate()


def rid(identity: Any) -> str:
    return str(identity.to_public())


# -- aliases and recipients ----------------------------------------------------------------------


def test_create_alias_is_one_commit_changing_only_the_config(repo_path: Path, alice: Any) -> None:
    store = open_as(repo_path)
    alias = store.create_key_alias("alias/team", [rid(alice), EXAMPLE_KMS])
    assert [(r.provider, r.key_id) for r in alias.recipients] == [
        ("age", rid(alice)),
        ("aws-kms", EXAMPLE_KMS),
    ]
    assert alias.recipients[1].usable is None and not alias.is_default
    message, files = head(repo_path)
    assert files == [".gitsm/config.yaml"]
    assert message.startswith("PutKeyAlias\n")
    assert "Gitsm-Operation: PutKeyAlias" in message and "Gitsm-Key-Alias: alias/team" in message
    assert f"Gitsm-Key-Recipients: age:{rid(alice)}, aws-kms:{EXAMPLE_KMS}" in message
    assert store.config().keys["alias/team"][0] == {"provider": "age", "key_id": rid(alice)}
    assert git(repo_path, "status", "--porcelain") == ""


def test_alias_errors_write_nothing(repo_path: Path, alice: Any) -> None:
    store = open_as(repo_path)
    store.create_key_alias("alias/team", [rid(alice)])
    before = count(store)
    with pytest.raises(ResourceExistsException):
        store.create_key_alias("alias/team", [rid(alice)])
    for bad in ("team", "alias/", "alias/a b", "alias/" + "x" * 300):
        with pytest.raises(InvalidParameterException):
            store.create_key_alias(bad, [rid(alice)])
    with pytest.raises(InvalidParameterException, match="No key provider recognises"):
        store.create_key_alias("alias/x", ["age1notarecipient"])
    with pytest.raises(InvalidParameterException):
        store.create_key_alias("alias/x", [])
    with pytest.raises(ResourceNotFoundException):
        store.add_key_recipients("alias/nope", [rid(alice)])
    with pytest.raises(InvalidParameterException, match="not a recipient"):
        store.remove_key_recipients("alias/team", [EXAMPLE_KMS])
    with pytest.raises(InvalidParameterException, match="without recipients"):
        store.remove_key_recipients("alias/team", [rid(alice)])
    assert count(store) == before


def test_add_and_remove_recipients(repo_path: Path, alice: Any, bob: Any) -> None:
    store = open_as(repo_path, alice)
    store.create_key_alias("alias/team", [rid(alice)])
    added = store.add_key_recipients("alias/team", [rid(bob)])
    assert [r.key_id for r in added.recipients] == [rid(alice), rid(bob)]
    assert [r.usable for r in added.recipients] == [True, False]
    assert "Gitsm-Operation: AddKeyRecipients" in head(repo_path)[0]
    before = count(store)
    store.add_key_recipients("alias/team", [rid(bob), Recipient("age", rid(alice))])  # no-op
    assert count(store) == before
    removed = store.remove_key_recipients("alias/team", [rid(bob)])
    assert [r.key_id for r in removed.recipients] == [rid(alice)]
    message, files = head(repo_path)
    assert "Gitsm-Operation: RemoveKeyRecipients" in message and rid(bob) in message
    assert files == [".gitsm/config.yaml"]
    # New versions leave the removed recipient out.
    store.create_secret("s", secret_string="v", kms_key_id="alias/team")
    with pytest.raises(DecryptionFailure):
        open_as(repo_path, bob).get_secret_value("s")


def test_local_keys_listing_and_delete_alias(repo_path: Path, alice: Any) -> None:
    store = open_as(repo_path, alice)
    local_id = store.create_local_key()
    store.create_key_alias("alias/local", [local_id])
    store.create_key_alias("alias/age", [rid(alice)])
    store.create_secret("a", secret_string="1", kms_key_id="alias/local")
    store.create_secret("b", secret_string="2")
    listing = store.list_keys()
    assert [a.alias for a in listing.aliases] == [
        "alias/age",
        "alias/aws/secretsmanager",
        "alias/local",
    ]
    assert [a.is_default for a in listing.aliases] == [False, True, False]
    assert listing.usage == {"alias/local": 1, "alias/aws/secretsmanager": 1}
    held = {(r.provider, r.key_id) for r in listing.held}
    assert ("local", local_id) in held and ("age", rid(alice)) in held
    assert listing.problems == []
    assert store.describe_key_alias("alias/local").recipients[0].usable is True
    with pytest.raises(InvalidRequestException, match="in use"):
        store.delete_key_alias("alias/local")
    with pytest.raises(InvalidRequestException, match="default key"):
        store.delete_key_alias("alias/aws/secretsmanager")
    store.delete_key_alias("alias/age")
    assert "Gitsm-Operation: DeleteKeyAlias" in head(repo_path)[0]
    with pytest.raises(ResourceNotFoundException):
        store.describe_key_alias("alias/age")


def test_listing_reports_an_unreadable_identity_file(repo_path: Path, tmp_path: Path) -> None:
    env = {**os.environ, ENV_IDENTITY_FILE: str(tmp_path / "missing.txt")}
    listing = SecretStore.open(repo_path, keys=KeyService(env=env)).list_keys()
    assert len(listing.problems) == 1 and "missing.txt" in listing.problems[0]


# -- rekey and the exposure report ----------------------------------------------------------------


@pytest.fixture
def team(repo_path: Path, alice: Any, bob: Any) -> SecretStore:
    """alias/team = alice + bob, with secrets under it; bob is then removed from the alias."""
    admin = open_as(repo_path, alice)
    admin.create_key_alias("alias/team", [rid(alice), rid(bob)])
    admin.create_secret("prod/db", secret_string="db1", kms_key_id="alias/team")
    admin.put_secret_value("prod/db", secret_string="db2")
    admin.create_secret("prod/api", secret_string="api1", kms_key_id="alias/team")
    admin.create_secret("dev/x", secret_string="x1", kms_key_id="alias/team")
    admin.create_secret("other", secret_string="o1")  # the default local key
    admin.create_secret("prod/old", secret_string="old1", kms_key_id="alias/team")
    admin.delete_secret("prod/old", force_delete_without_recovery=True)
    admin.remove_key_recipients("alias/team", [rid(bob)])
    admin.put_secret_value("prod/db", secret_string="db3")  # written after bob's removal
    return admin


def versions(store: SecretStore, name: str) -> dict[str, str]:
    """VersionId -> value, for every version of ``name`` in the tree."""
    _, listed, _ = store.list_secret_version_ids(name, include_deprecated=True)
    return {v.version_id: store.get_secret_value(name, version_id=v.version_id).value.decode()
            for v in listed}  # fmt: skip


def test_rekey_rewraps_in_one_commit_and_reports_exposure(
    team: SecretStore, repo_path: Path, bob: Any
) -> None:
    db = versions(team, "prod/db")
    bob_store = open_as(repo_path, bob)
    assert bob_store.get_secret_value("prod/db", version_stage="AWSPREVIOUS").value == b"db2"
    before = count(team)
    report = team.rekey()
    assert count(team) == before + 1
    by_value = {v: k for k, v in db.items()}
    assert sorted(report.rewrapped) == sorted(
        [("prod/db", by_value["db1"]), ("prod/db", by_value["db2"]),
         ("prod/api", versions(team, "prod/api").popitem()[0]),
         ("dev/x", versions(team, "dev/x").popitem()[0])]
    )  # fmt: skip
    message, files = head(repo_path)
    assert "Gitsm-Operation: Rekey" in message and "Gitsm-Rewrapped-Count: 4" in message
    assert all("/~versions/" in f for f in files) and len(files) == 4
    assert versions(team, "prod/db") == db  # the admin still reads everything
    for stage in ("AWSCURRENT", "AWSPREVIOUS"):
        with pytest.raises(DecryptionFailure):
            bob_store.get_secret_value("prod/db", version_stage=stage)

    exposed = {(e.secret, e.version_id): e for e in report.exposures}
    old_vid = next(vid for name, vid in exposed if name == "prod/old")
    assert set(exposed) == {*(k for k in report.rewrapped), ("prod/old", old_vid)}
    assert ("prod/db", by_value["db3"]) not in exposed and "other" not in {k[0] for k in exposed}
    assert report.removed == [Recipient("age", rid(bob))]
    assert exposed[("prod/db", by_value["db2"])].stages == ["AWSPREVIOUS"]
    assert exposed[("prod/db", by_value["db2"])].in_tree
    assert not exposed[("prod/old", old_vid)].in_tree
    # The report is true: bob decrypts each listed version from the commit it names.
    for e in report.exposures:
        listed = git(repo_path, "ls-tree", "-r", "--name-only", e.commit, "secrets").split()
        (file,) = [p for p in listed if p.endswith(f"/~versions/{e.version_id}.json")]
        where = f"{file.split('/~versions/')[0]}/~secret.yaml"
        arn = load_secret(git(repo_path, "show", f"{e.commit}:{where}").encode(), where).arn
        data = git(repo_path, "show", f"{e.commit}:{file}").encode()
        value, _ = envelope.open_value(
            data, name=e.secret, arn=arn, version_id=e.version_id, keys=bob_store.keys
        )
        assert value


def test_rekey_again_changes_nothing_and_reports_the_same(team: SecretStore) -> None:
    first = team.rekey()
    before = count(team)
    second = team.rekey()
    assert count(team) == before and second.rewrapped == []
    assert second.exposures == first.exposures and second.removed == first.removed
    assert team.exposure_report() == first.exposures


def test_rekey_scopes(team: SecretStore, bob: Any) -> None:
    one = team.rekey(secret_id="prod/api")
    assert [n for n, _ in one.rewrapped] == ["prod/api"] and one.secrets == 1
    assert {e.secret for e in one.exposures} == {"prod/api"}
    assert "Gitsm-Secret: prod/api" in head(team.repo.workdir or Path())[0]
    prefix = team.rekey(prefix="prod/")
    assert {n for n, _ in prefix.rewrapped} == {"prod/db"}
    assert {e.secret for e in prefix.exposures} == {"prod/db", "prod/api", "prod/old"}
    assert "Gitsm-Rekey-Prefix: prod/" in head(team.repo.workdir or Path())[0]
    rest = team.rekey(alias="alias/team")
    assert [n for n, _ in rest.rewrapped] == ["dev/x"]
    only = team.exposure_report(recipients=[rid(bob)])
    assert {e.secret for e in only} == {"prod/db", "prod/api", "prod/old", "dev/x"}
    with pytest.raises(InvalidParameterException):
        team.rekey(secret_id="prod/api", prefix="prod/")
    with pytest.raises(ResourceNotFoundException):
        team.rekey(alias="alias/nope")


def test_rekey_that_cannot_unwrap_writes_nothing(team: SecretStore, repo_path: Path) -> None:
    stranger = open_as(repo_path)  # no age identity
    before = count(team)
    with pytest.raises(DecryptionFailure) as info:
        stranger.rekey(prefix="prod/")
    assert "Rekey can't re-wrap version" in info.value.message and "prod/" in info.value.message
    assert "nothing was written" in info.value.message
    assert count(team) == before


def test_added_recipient_reads_old_versions_after_rekey(
    repo_path: Path, alice: Any, bob: Any
) -> None:
    admin = open_as(repo_path, alice)
    admin.create_key_alias("alias/team", [rid(alice)])
    admin.create_secret("s", secret_string="v1", kms_key_id="alias/team")
    admin.add_key_recipients("alias/team", [rid(bob)])
    with pytest.raises(DecryptionFailure):
        open_as(repo_path, bob).get_secret_value("s")
    report = admin.rekey()
    assert len(report.rewrapped) == 1 and report.exposures == []
    assert open_as(repo_path, bob).get_secret_value("s").secret_string == "v1"


def test_rekey_after_update_secret_moves_unlabelled_versions_too(
    repo_path: Path, alice: Any
) -> None:
    admin = open_as(repo_path, alice)
    admin.create_key_alias("alias/team", [rid(alice)])
    admin.create_secret("s", secret_string="v1")
    admin.put_secret_value("s", secret_string="v2")
    admin.put_secret_value("s", secret_string="v3")  # v1 is now unlabelled
    default = admin.config().keys["alias/aws/secretsmanager"][0]["key_id"]
    admin.update_secret("s", kms_key_id="alias/team")  # re-wraps AWSCURRENT and AWSPREVIOUS
    report = admin.rekey()
    assert len(report.rewrapped) == 1  # the unlabelled v1
    assert {r.key_id for r in report.removed} == {default}
    assert len(report.exposures) == 3
    _, listed, _ = admin.list_secret_version_ids("s", include_deprecated=True)
    assert all(v.kms_key_ids == ["alias/team"] for v in listed)


def test_history_api(store: SecretStore) -> None:
    store.create_secret("a", secret_string="1")
    store.put_secret_value("a", secret_string="2")
    snaps = list(store.repo.history())
    assert len(snaps) == 3 and snaps[0].commit_id == store.repo.tip().commit_id
    files = list(store.repo.history_files("secrets", lambda p: p.endswith(".json")))
    assert len(files) == 2 and len({p for _, p, _ in files}) == 2
    assert files[0][0] == snaps[0].commit_id  # the newest commit that holds it
