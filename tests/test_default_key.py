"""The store's default key: SetDefaultKey, a new store's default from init, and no machine-local
default key created in a store shared through a git remote."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pyrage import x25519

import gitsm
from gitsm import paths
from gitsm.awsclient import ClientError
from gitsm.errors import EncryptionFailure, InvalidParameterException
from gitsm.keys import KeyService
from gitsm.manifest import StoreConfig
from gitsm.model import DEFAULT_KEY_ALIAS
from gitsm.providers.age import ENV_IDENTITY_FILE, ENV_KEY
from gitsm.store import SecretStore
from tests.conftest import commits, git

VALUE = "s3cr3t-Value-42"
EXAMPLE_KMS = "arn:aws:kms:us-west-2:123456789012:key/EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"
UNKNOWN = ["alias/nope", "00000000-0000-4000-8000-000000000000", "not-a-key", "age1zzz", ""]


def ring() -> list[str]:
    """The files of this test's key ring ($GITSM_HOME/keys)."""
    directory = Path(os.environ["GITSM_HOME"]) / "keys"
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def tip(path: Path) -> str:
    return git(path, "rev-parse", "HEAD").strip()


def trailers(path: Path) -> list[str]:
    """The trailer lines of the tip's commit message, as git parses them."""
    return git(path, "log", "-1", "--format=%(trailers:only,unfold)").split("\n")[:-2]


def changed_files(path: Path) -> list[str]:
    return git(path, "show", "--name-only", "--format=", "HEAD").split()


def stanzas(path: Path, name: str, version_id: str) -> list[tuple[str, str]]:
    """(provider, key_id) of each stanza of a version's envelope at the tip."""
    doc = json.loads(git(path, "show", f"HEAD:{paths.version_path(name, version_id)}"))
    return [(s["provider"], s["key_id"]) for s in doc["keys"]]


def rid(identity: Any) -> str:
    return str(identity.to_public())


def as_holder(path: Path, identity: Any, home: Path) -> SecretStore:
    """The store as seen by someone holding only ``identity`` (an empty key ring at ``home``)."""
    env = {k: v for k, v in os.environ.items() if k not in (ENV_KEY, ENV_IDENTITY_FILE)}
    env[ENV_KEY] = str(identity)
    env["GITSM_HOME"] = str(home)
    return SecretStore.open(path, keys=KeyService(env=env))


@pytest.fixture
def alice() -> Any:
    return x25519.Identity.generate()


@pytest.fixture
def shared(repo_path: Path, tmp_path: Path) -> Path:
    """A fresh store whose repository has a git remote (as a clone of a team's store would)."""
    git(repo_path, "remote", "add", "origin", str(tmp_path / "team-store.git"))
    return repo_path


# -- SetDefaultKey -------------------------------------------------------------------------------


def test_set_default_to_an_alias_is_one_commit_changing_only_that_line(
    repo_path: Path, alice: Any, tmp_path: Path
) -> None:
    store = SecretStore.open(repo_path)
    store.create_key_alias("alias/team", [rid(alice)])
    before = commits(repo_path)
    assert store.set_default_key("alias/team") is True
    assert commits(repo_path) == before + 1
    assert git(repo_path, "log", "-1", "--format=%s").strip() == "SetDefaultKey"
    assert trailers(repo_path) == ["Gitsm-Operation: SetDefaultKey", "Gitsm-Key-Id: alias/team"]
    assert changed_files(repo_path) == [paths.CONFIG_PATH]
    diff = git(repo_path, "diff", "-U0", "HEAD~1", "HEAD").splitlines()
    assert [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        f"-default_kms_key_id: {DEFAULT_KEY_ALIAS}",
        "+default_kms_key_id: alias/team",
    ]
    assert git(repo_path, "status", "--porcelain") == ""
    assert store.config().default_kms_key_id == "alias/team"
    listed = {a.alias: a.is_default for a in store.list_keys().aliases}
    assert listed == {"alias/team": True}

    # Setting it again changes nothing and makes no commit.
    head = tip(repo_path)
    assert store.set_default_key("alias/team") is False
    assert tip(repo_path) == head

    # A secret without its own key now uses the alias: no local key is made.
    made = store.create_secret("app/db", secret_string=VALUE)
    assert made.version_id is not None
    assert stanzas(repo_path, "app/db", made.version_id) == [("age", rid(alice))]
    assert ring() == [] and DEFAULT_KEY_ALIAS not in store.config().keys
    reader = as_holder(repo_path, alice, tmp_path / "alice-home")
    assert reader.get_secret_value("app/db").secret_string == VALUE


def test_set_default_to_an_age_recipient(repo_path: Path, alice: Any, tmp_path: Path) -> None:
    store = SecretStore.open(repo_path)
    assert store.set_default_key(rid(alice)) is True
    assert trailers(repo_path)[1] == f"Gitsm-Key-Id: {rid(alice)}"
    made = store.create_secret("app/key", secret_string=VALUE)
    assert made.version_id is not None
    assert stanzas(repo_path, "app/key", made.version_id) == [("age", rid(alice))]
    assert store.describe_secret("app/key").versions[made.version_id].kms_key_ids == [rid(alice)]
    assert ring() == []
    reader = as_holder(repo_path, alice, tmp_path / "alice-home")
    assert reader.get_secret_value("app/key").secret_string == VALUE


def test_set_default_accepts_kms_arns_local_keys_and_the_builtin_alias(repo_path: Path) -> None:
    store = SecretStore.open(repo_path)
    local = store.create_local_key()
    for key in (EXAMPLE_KMS, local, DEFAULT_KEY_ALIAS):
        assert store.set_default_key(key) is True
        assert store.config().default_kms_key_id == key
        assert trailers(repo_path)[1] == f"Gitsm-Key-Id: {key}"
    assert commits(repo_path) == 4  # Init and three SetDefaultKey


@pytest.mark.parametrize("key", UNKNOWN)
def test_set_default_refuses_what_no_registry_or_provider_knows(repo_path: Path, key: str) -> None:
    store = SecretStore.open(repo_path)
    store.create_secret("app/kept", secret_string=VALUE)
    head, config = tip(repo_path), store.config()
    with pytest.raises(InvalidParameterException) as info:
        store.set_default_key(key)
    message = info.value.message
    if key.startswith("alias/"):
        assert f"gitsm keys create-alias {key} --recipient" in message
    else:
        assert "an age recipient (age1...)" in message and "KMS key ARN" in message
    assert tip(repo_path) == head and store.config() == config
    assert git(repo_path, "status", "--porcelain") == ""


def test_an_alias_without_recipients_cannot_be_the_default() -> None:
    config = StoreConfig(account_id="123456789012", region="us-east-1", keys={"alias/empty": []})
    with pytest.raises(InvalidParameterException, match="gitsm keys add-recipient alias/empty"):
        KeyService().check_default("alias/empty", config)


# -- init ----------------------------------------------------------------------------------------


def test_init_with_a_default_key(tmp_path: Path, alice: Any) -> None:
    path = tmp_path / "store"
    store = gitsm.init(path, default_kms_key_id=rid(alice))
    assert commits(path) == 1 and git(path, "log", "-1", "--format=%s").strip() == "Init"
    assert store.config().default_kms_key_id == rid(alice)
    assert f"default_kms_key_id: {rid(alice)}" in git(path, "show", f"HEAD:{paths.CONFIG_PATH}")
    made = store.create_secret("first", secret_string=VALUE)
    assert made.version_id is not None
    assert stanzas(path, "first", made.version_id) == [("age", rid(alice))]
    assert ring() == []

    # An existing store keeps its default (not even checked: it is not applied).
    for key in (EXAMPLE_KMS, "alias/nope"):
        again = gitsm.init(path, default_kms_key_id=key)
        assert again.config().default_kms_key_id == rid(alice) and commits(path) == 2


def test_init_with_an_unknown_key_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "new"
    for key in UNKNOWN:
        with pytest.raises(InvalidParameterException):
            gitsm.init(path, default_kms_key_id=key)
        assert not path.exists()
    plain = tmp_path / "plain"  # a git repository that is not a store yet stays as it was
    git(tmp_path, "init", "-q", str(plain))
    with pytest.raises(InvalidParameterException):
        gitsm.init(plain, default_kms_key_id="alias/team")
    assert git(plain, "rev-list", "--all") == "" and not (plain / ".gitsm").exists()
    assert ring() == []


# -- no machine-local default in a shared store --------------------------------------------------


def _create(store: SecretStore) -> object:
    return store.create_secret("app/new", secret_string=VALUE)


def _create_default_alias(store: SecretStore) -> object:
    return store.create_secret("app/new", secret_string=VALUE, kms_key_id=DEFAULT_KEY_ALIAS)


def _put(store: SecretStore) -> object:
    return store.put_secret_value("app/empty", secret_string=VALUE)


def _update(store: SecretStore) -> object:
    return store.update_secret("app/empty", secret_string=VALUE)


@pytest.mark.parametrize("write", [_create, _create_default_alias, _put, _update])
def test_a_shared_store_never_creates_a_local_default(shared: Path, write: Any) -> None:
    store = SecretStore.open(shared)
    store.create_secret("app/empty")  # no value: no key needed
    head = tip(shared)
    with pytest.raises(EncryptionFailure) as info:
        write(store)
    message = info.value.message
    assert "shared through a git remote" in message and "lock teammates" in message
    assert "gitsm keys create-alias alias/team --recipient age1..." in message
    assert "gitsm keys set-default alias/team" in message and "--kms-key-id" in message
    assert tip(shared) == head and ring() == []
    assert store.config().keys == {}
    assert git(shared, "status", "--porcelain") == ""


def test_the_client_answers_encryption_failure_in_a_shared_store(shared: Path) -> None:
    client = gitsm.client(repo=shared)
    with pytest.raises(ClientError) as info:
        client.create_secret(Name="app/x", SecretString=VALUE)
    assert info.value.response["Error"]["Code"] == "EncryptionFailure"
    assert ring() == [] and commits(shared) == 1


def test_a_shared_store_with_a_team_default_writes(
    shared: Path, alice: Any, tmp_path: Path
) -> None:
    store = SecretStore.open(shared)
    explicit = store.create_secret("app/explicit", secret_string=VALUE, kms_key_id=rid(alice))
    assert explicit.version_id is not None  # a named key needs no default
    store.create_key_alias("alias/team", [rid(alice)])
    assert store.set_default_key("alias/team") is True
    made = store.create_secret("app/db", secret_string=VALUE)
    put = store.put_secret_value("app/db", secret_string=VALUE + "-2")
    assert put.version_id is not None
    assert stanzas(shared, "app/db", put.version_id) == [("age", rid(alice))]
    assert made.version_id != put.version_id and ring() == []
    assert store.list_keys().default_warning is None
    reader = as_holder(shared, alice, tmp_path / "alice-home")
    assert reader.get_secret_value("app/db").secret_string == VALUE + "-2"


def test_a_store_without_a_remote_creates_the_local_default_on_first_use(repo_path: Path) -> None:
    store = SecretStore.open(repo_path)
    made = store.create_secret("app/db", secret_string=VALUE)
    ((provider, key_id),) = [
        (r["provider"], r["key_id"]) for r in store.config().keys[DEFAULT_KEY_ALIAS]
    ]
    assert provider == "local" and ring() == [f"{key_id}.key"]
    assert paths.CONFIG_PATH in changed_files(repo_path)  # registered with the write needing it
    assert made.version_id is not None
    assert stanzas(repo_path, "app/db", made.version_id) == [("local", key_id)]
    assert store.list_keys().default_warning is None

    # Once a remote is added, the registered default keeps working but is reported.
    git(repo_path, "remote", "add", "origin", "https://git.example.com/team/store.git")
    store.put_secret_value("app/db", secret_string=VALUE + "-2")
    warning = store.list_keys().default_warning
    assert warning is not None and "machine-local default key" in warning
    assert "gitsm keys set-default alias/team" in warning


def test_naming_the_default_alias_creates_one_key(repo_path: Path) -> None:
    store = SecretStore.open(repo_path)
    store.create_secret("app/a", kms_key_id=DEFAULT_KEY_ALIAS)  # no value: registered anyway
    assert changed_files(repo_path) == sorted([paths.CONFIG_PATH, paths.manifest_path("app/a")])
    store.create_secret("app/b", secret_string=VALUE, kms_key_id=DEFAULT_KEY_ALIAS)
    (key,) = store.config().keys[DEFAULT_KEY_ALIAS]
    assert ring() == [f"{key['key_id']}.key"]


def test_listing_warns_of_a_shared_store_without_a_team_default(shared: Path, alice: Any) -> None:
    store = SecretStore.open(shared)
    warning = store.list_keys().default_warning
    assert warning is not None and "has no default key" in warning
    local = store.create_local_key()
    store.set_default_key(local)
    warning = store.list_keys().default_warning
    assert warning is not None and f"machine-local default key ({local})" in warning
    store.set_default_key(rid(alice))
    assert store.list_keys().default_warning is None


def test_moving_secrets_from_a_local_default_to_a_team_key(
    repo_path: Path, alice: Any, tmp_path: Path
) -> None:
    store = SecretStore.open(repo_path)
    store.create_secret("app/db", secret_string=VALUE)  # the machine-local default key
    store.create_key_alias("alias/team", [rid(alice)])
    store.set_default_key("alias/team")
    report = store.rekey(alias="alias/team")  # secrets without their own key follow the default
    assert [name for name, _ in report.rewrapped] == ["app/db"]
    reader = as_holder(repo_path, alice, tmp_path / "alice-home")
    assert reader.get_secret_value("app/db").secret_string == VALUE
    assert [e.secret for e in report.exposures] == ["app/db"]  # the local key could read it
