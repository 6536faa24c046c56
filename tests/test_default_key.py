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
from gitsm.errors import EncryptionFailure
from gitsm.keys import KeyService
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


def test_a_shared_store_writes_with_a_named_team_key(
    shared: Path, alice: Any, tmp_path: Path
) -> None:
    store = SecretStore.open(shared)
    store.create_key_alias("alias/team", [rid(alice)])
    made = store.create_secret("app/db", secret_string=VALUE, kms_key_id="alias/team")
    put = store.put_secret_value("app/db", secret_string=VALUE + "-2")
    assert put.version_id is not None
    assert stanzas(shared, "app/db", put.version_id) == [("age", rid(alice))]
    assert made.version_id != put.version_id and ring() == []
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

    # Once a remote is added, the registered default keeps working.
    git(repo_path, "remote", "add", "origin", "https://git.example.com/team/store.git")
    store.put_secret_value("app/db", secret_string=VALUE + "-2")
    assert ring() == [f"{key_id}.key"]


def test_naming_the_default_alias_creates_one_key(repo_path: Path) -> None:
    store = SecretStore.open(repo_path)
    store.create_secret("app/a", kms_key_id=DEFAULT_KEY_ALIAS)  # no value: registered anyway
    assert changed_files(repo_path) == sorted([paths.CONFIG_PATH, paths.manifest_path("app/a")])
    store.create_secret("app/b", secret_string=VALUE, kms_key_id=DEFAULT_KEY_ALIAS)
    (key,) = store.config().keys[DEFAULT_KEY_ALIAS]
    assert ring() == [f"{key['key_id']}.key"]
