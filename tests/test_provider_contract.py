"""The contract every registered key provider keeps, run against each one with real keys.

Each provider in :data:`gitsm.providers.PROVIDERS` needs a factory in :data:`FACTORIES` that yields a
provider instance holding two usable keys (local: a temporary key ring; age: generated identities;
aws-kms: keys in moto's ``mock_aws``). A provider added to the registry without a factory fails here.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pyrage import x25519

from gitsm.errors import DecryptionFailure
from gitsm.keys import KeyService
from gitsm.providers import PROVIDERS, KeyProvider, KeyUnavailable, LocalProvider
from gitsm.providers.age import ENV_KEY, AgeProvider
from gitsm.providers.awskms import AwsKmsProvider

CONTEXT = {
    "SecretARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
    "SecretVersionId": "11111111-2222-3333-4444-555555555555",
}
OTHER_CONTEXTS = [
    {**CONTEXT, "SecretVersionId": "11111111-2222-3333-4444-666666666666"},
    {**CONTEXT, "SecretARN": CONTEXT["SecretARN"].replace("prod/db", "prod/dc")},
]


@dataclass
class KeySetup:
    """A provider with two usable keys, and the key material no message may show."""

    provider: KeyProvider
    key_id: str
    other_key_id: str
    material: list[bytes | str] = field(default_factory=list)


@contextmanager
def local_keys(home: Path) -> Iterator[KeySetup]:
    """Two keys in a temporary key ring."""
    provider = LocalProvider(home=home, env={})
    k1, k2 = provider.create_key(), provider.create_key()
    material: list[bytes | str] = [
        base64.b64decode((home / "keys" / f"{k}.key").read_text()) for k in (k1, k2)
    ]
    yield KeySetup(provider, k1, k2, material)


@contextmanager
def age_keys(home: Path) -> Iterator[KeySetup]:
    """Two generated age identities, given through GITSM_AGE_KEY."""
    ids = [x25519.Identity.generate() for _ in range(2)]
    provider = AgeProvider(home=home, env={ENV_KEY: " ".join(str(i) for i in ids)})
    yield KeySetup(
        provider, str(ids[0].to_public()), str(ids[1].to_public()), [str(i) for i in ids]
    )


def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials so that boto3 under moto never looks for real ones."""
    for var, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(var, value)
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS"):
        monkeypatch.delenv(var, raising=False)


@contextmanager
def kms_keys(home: Path) -> Iterator[KeySetup]:
    """Two symmetric keys in moto's KMS (``mock_aws``)."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        kms = boto3.client("kms", region_name="us-east-1")
        arns = [kms.create_key()["KeyMetadata"]["Arn"] for _ in range(2)]
        yield KeySetup(AwsKmsProvider(home=home, env={}), arns[0], arns[1])


FACTORIES: dict[str, Callable[[Path], AbstractContextManager[KeySetup]]] = {
    "local": local_keys,
    "age": age_keys,
    "aws-kms": kms_keys,
}


@pytest.fixture(params=sorted(PROVIDERS))
def keys(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KeySetup]:
    name = request.param
    if name not in FACTORIES:
        pytest.fail(f"provider {name!r} has no key factory in tests/test_provider_contract.py")
    aws_env(monkeypatch)
    with FACTORIES[name](tmp_path / "home") as setup:
        assert setup.provider.name == name
        yield setup


def _forms(secret: bytes | str) -> list[str]:
    if isinstance(secret, str):
        return [secret, secret.lower()]
    return [
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
        secret.hex(),
        secret.hex().upper(),
    ]


def _assert_clean(text: str, setup: KeySetup, data_key: bytes) -> None:
    for secret in [*setup.material, data_key]:
        for form in _forms(secret):
            assert form not in text, "a message shows key material"


def _fails(setup: KeySetup, key_id: str, stanza: dict[str, str], context: dict[str, str]) -> str:
    with pytest.raises(KeyUnavailable) as info:
        setup.provider.unwrap(key_id, stanza, context)
    return str(info.value)


def _tampered(text: str) -> str:
    """``text`` with one payload character changed (kept in the base64 alphabet)."""
    i = len(text) // 2
    while not text[i].isalnum():
        i += 1
    return text[:i] + ("B" if text[i] == "A" else "A") + text[i + 1 :]


def test_every_provider_has_a_factory() -> None:
    assert set(FACTORIES) == set(PROVIDERS)
    for name, cls in PROVIDERS.items():
        assert cls.name == name


def test_round_trip(keys: KeySetup) -> None:
    p, data_key = keys.provider, os.urandom(32)
    assert p.claims(keys.key_id) and p.claims(keys.other_key_id)
    stanza = p.wrap(keys.key_id, data_key, CONTEXT)
    assert stanza and all(isinstance(k, str) and isinstance(v, str) for k, v in stanza.items())
    assert not {"provider", "key_id"} & set(stanza)
    assert p.unwrap(keys.key_id, stanza, CONTEXT) == data_key
    assert p.wrap(keys.key_id, data_key, CONTEXT) != stanza  # randomized
    _assert_clean(json.dumps(stanza) + json.dumps(p.describe(keys.key_id)), keys, data_key)
    generated, fields = p.generate(keys.key_id, CONTEXT)
    assert len(generated) == 32 and generated != data_key
    assert p.unwrap(keys.key_id, fields, CONTEXT) == generated


def test_wrong_key_fails_and_names_it(keys: KeySetup) -> None:
    data_key = os.urandom(32)
    stanza = keys.provider.wrap(keys.key_id, data_key, CONTEXT)
    message = _fails(keys, keys.other_key_id, stanza, CONTEXT)
    assert keys.other_key_id in message
    _assert_clean(message, keys, data_key)


def test_tampered_stanza_fails(keys: KeySetup) -> None:
    data_key = os.urandom(32)
    stanza = keys.provider.wrap(keys.key_id, data_key, CONTEXT)
    for name, value in stanza.items():
        for bad in (_tampered(value), value[: len(value) // 2], "", "not base64 at all!"):
            message = _fails(keys, keys.key_id, {**stanza, name: bad}, CONTEXT)
            assert keys.key_id in message
            _assert_clean(message, keys, data_key)
    assert keys.key_id in _fails(keys, keys.key_id, {}, CONTEXT)


def test_wrong_context_fails(keys: KeySetup) -> None:
    data_key = os.urandom(32)
    stanza = keys.provider.wrap(keys.key_id, data_key, CONTEXT)
    for other in OTHER_CONTEXTS:
        message = _fails(keys, keys.key_id, stanza, other)
        assert keys.key_id in message
        _assert_clean(message, keys, data_key)


def test_key_service_names_every_key_tried(keys: KeySetup, tmp_path: Path) -> None:
    service = KeyService(home=tmp_path / "home", env={})
    service._providers[keys.provider.name] = keys.provider
    data_key = os.urandom(32)
    stanzas = [
        {"provider": keys.provider.name, "key_id": k, **keys.provider.wrap(k, data_key, CONTEXT)}
        for k in (keys.key_id, keys.other_key_id)
    ]
    assert service.unwrap(stanzas, CONTEXT) == data_key
    with pytest.raises(DecryptionFailure) as info:
        service.unwrap(stanzas, OTHER_CONTEXTS[0])
    assert keys.key_id in info.value.message and keys.other_key_id in info.value.message
    _assert_clean(info.value.message, keys, data_key)
