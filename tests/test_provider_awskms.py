"""The aws-kms provider against moto's ``mock_aws``: round trips, contexts, disabled keys, errors.

moto checks key ids and encryption contexts but lets a disabled key encrypt and decrypt; the
``kms_enforces_key_state`` fixture adds the check real KMS makes (DisabledException,
KMSInvalidStateException) so that gitsm's mapping of it is tested.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.exceptions import JsonRESTError
from moto.kms.models import KmsBackend

from gitsm import paths
from gitsm.errors import DecryptionFailure, EncryptionFailure
from gitsm.keys import KeyService
from gitsm.providers import KeyUnavailable
from gitsm.providers.awskms import AwsKmsProvider
from gitsm.store import SecretStore
from tests.test_provider_contract import CONTEXT, aws_env

EXAMPLE = "arn:aws:kms:us-west-2:123456789012:key/EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    aws_env(monkeypatch)
    with mock_aws():
        yield boto3.client("kms", region_name="us-east-1")


@pytest.fixture
def kms_enforces_key_state(monkeypatch: pytest.MonkeyPatch) -> None:
    def check(backend: KmsBackend, key_id: str) -> None:
        key = backend.keys[key_id]
        if key.key_state == "Disabled":
            raise JsonRESTError("DisabledException", f"{key.arn} is disabled.")
        if key.key_state != "Enabled":
            raise JsonRESTError("KMSInvalidStateException", f"{key.arn} is {key.key_state}.")

    encrypt, decrypt = KmsBackend.encrypt, KmsBackend.decrypt

    def checked_encrypt(self: KmsBackend, key_id: str, *args: Any, **kw: Any) -> Any:
        check(self, self.any_id_to_key_id(key_id))
        return encrypt(self, key_id, *args, **kw)

    def checked_decrypt(self: KmsBackend, *args: Any, **kw: Any) -> Any:
        plaintext, arn = decrypt(self, *args, **kw)
        check(self, arn.split(":key/")[1])
        return plaintext, arn

    monkeypatch.setattr(KmsBackend, "encrypt", checked_encrypt)
    monkeypatch.setattr(KmsBackend, "decrypt", checked_decrypt)


def new_key(kms: Any) -> str:
    return str(kms.create_key()["KeyMetadata"]["Arn"])


def commits(store: SecretStore) -> int:
    return sum(1 for _ in store.repo.history())


def test_claims_kms_arns_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # claims must not need boto3
    provider = AwsKmsProvider()
    for good in (
        EXAMPLE,
        "arn:aws:kms:eu-central-1:123456789012:alias/team-prod",
        "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
    ):
        assert provider.claims(good), good
    for bad in (
        "alias/team-prod",
        "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE",
        "arn:aws:kms:us-west-2:12345:key/abc",
        "arn:aws:secretsmanager:us-west-2:123456789012:secret:x",
        EXAMPLE + "/../x",
    ):
        assert not provider.claims(bad), bad
    with pytest.raises(KeyUnavailable, match=r"gitsm\[aws\]"):
        provider.wrap(EXAMPLE, b"k" * 32, CONTEXT)


def test_round_trip_through_the_store(kms: Any, repo_path: Path) -> None:
    key = new_key(kms)
    store = SecretStore.open(repo_path)
    created = store.create_secret("prod/db", secret_string="pw", kms_key_id=key)
    assert store.get_secret_value("prod/db").secret_string == "pw"
    assert created.version_id is not None
    data = store.repo.tip().read(paths.version_path("prod/db", created.version_id))
    assert data is not None
    (stanza,) = json.loads(data)["keys"]
    assert set(stanza) == {"provider", "key_id", "ciphertext_blob"}
    assert stanza["provider"] == "aws-kms" and stanza["key_id"] == key


def test_first_recipient_generates_the_others_encrypt(
    kms: Any, repo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    k1, k2 = new_key(kms), new_key(kms)
    alias = "arn:aws:kms:us-east-1:123456789012:alias/shared"
    kms.create_alias(AliasName="alias/shared", TargetKeyId=k2)
    calls: list[str] = []
    real = AwsKmsProvider._call

    def spy(self: AwsKmsProvider, key_id: str, operation: str, **params: Any) -> Any:
        calls.append(operation)
        assert params.get("EncryptionContext", {}).keys() == CONTEXT.keys()
        return real(self, key_id, operation, **params)

    monkeypatch.setattr(AwsKmsProvider, "_call", spy)
    store = SecretStore.open(repo_path)
    store.create_key_alias("alias/two-kms", [k1, alias])
    store.create_secret("s", secret_string="x", kms_key_id="alias/two-kms")
    assert calls == ["generate_data_key", "encrypt"]
    assert store.get_secret_value("s").secret_string == "x"


def test_wrong_context_is_a_decryption_failure(kms: Any, repo_path: Path) -> None:
    key = new_key(kms)
    store = SecretStore.open(repo_path)
    a = store.create_secret("a", secret_string="1", kms_key_id=key)
    b = store.create_secret("b", secret_string="2", kms_key_id=key)
    assert a.version_id and b.version_id
    tip = store.repo.tip()
    stanzas_a = json.loads(tip.read(paths.version_path("a", a.version_id)) or b"")["keys"]
    context_b = {"SecretARN": b.arn, "SecretVersionId": b.version_id}
    with pytest.raises(DecryptionFailure) as info:
        store.keys.unwrap(stanzas_a, context_b)
    assert key in info.value.message and "encryption context" in info.value.message


@pytest.mark.usefixtures("kms_enforces_key_state")
def test_disabled_key_is_a_clear_error_on_write_and_read(kms: Any, repo_path: Path) -> None:
    key = new_key(kms)
    store = SecretStore.open(repo_path)
    store.create_secret("s", secret_string="v1", kms_key_id=key)
    kms.disable_key(KeyId=key.split(":key/")[1])
    before = commits(store)
    with pytest.raises(EncryptionFailure) as wrote:
        store.put_secret_value("s", secret_string="v2")
    assert key in wrote.value.message and "disabled" in wrote.value.message
    assert commits(store) == before  # nothing written
    with pytest.raises(DecryptionFailure) as read:
        store.get_secret_value("s")
    assert key in read.value.message and "disabled" in read.value.message
    kms.enable_key(KeyId=key.split(":key/")[1])
    assert store.get_secret_value("s").secret_string == "v1"


def test_unknown_key_in_moto_is_named(kms: Any, repo_path: Path) -> None:
    missing = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    store = SecretStore.open(repo_path)
    with pytest.raises(EncryptionFailure) as info:
        store.create_secret("s", secret_string="v", kms_key_id=missing)
    assert missing in info.value.message and "NotFoundException" in info.value.message


def test_unreachable_kms_fails_clearly_and_writes_nothing(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_env(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    store = SecretStore.open(repo_path)
    before = commits(store)
    with pytest.raises(EncryptionFailure) as info:
        store.create_secret("s", secret_string="v", kms_key_id=EXAMPLE)
    assert EXAMPLE in info.value.message and "us-west-2" in info.value.message
    assert commits(store) == before
    assert store.list_secrets()[0] == []


def test_update_secret_to_a_kms_key_rewraps(kms: Any, repo_path: Path, tmp_path: Path) -> None:
    key = new_key(kms)
    store = SecretStore.open(repo_path)
    store.create_secret("s", secret_string="v1")
    store.put_secret_value("s", secret_string="v2")
    store.update_secret("s", kms_key_id=key)
    # Readable with KMS alone: an empty local key ring.
    empty = tmp_path / "empty"
    reader = SecretStore.open(
        repo_path, keys=KeyService(home=empty, env={"GITSM_HOME": str(empty)})
    )
    assert reader.get_secret_value("s").secret_string == "v2"
    assert reader.get_secret_value("s", version_stage="AWSPREVIOUS").secret_string == "v1"


@pytest.mark.usefixtures("kms_enforces_key_state")
def test_mixed_recipients_fall_back_and_name_every_try(kms: Any, repo_path: Path) -> None:
    key = new_key(kms)
    store = SecretStore.open(repo_path)
    local_id = store.create_local_key()
    store.create_key_alias("alias/mixed", [key, local_id])
    store.create_secret("s", secret_string="v", kms_key_id="alias/mixed")
    kms.disable_key(KeyId=key.split(":key/")[1])
    assert store.get_secret_value("s").secret_string == "v"  # the local stanza still opens it
    empty = repo_path.parent / "empty"
    reader = SecretStore.open(
        repo_path, keys=KeyService(home=empty, env={"GITSM_HOME": str(empty)})
    )
    with pytest.raises(DecryptionFailure) as info:
        reader.get_secret_value("s")
    assert key in info.value.message and local_id in info.value.message
