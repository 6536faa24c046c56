"""Envelopes (seal/open) and the contract every key provider in the registry must keep."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitsm import envelope
from gitsm.errors import DecryptionFailure
from gitsm.keys import KeyService, Recipient
from gitsm.providers import PROVIDERS, KeyProvider, KeyUnavailable, LocalProvider
from gitsm.providers.local import ENV_KEYS

CONTEXT = {"SecretARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:a/b-AbCdEf",
           "SecretVersionId": "11111111-2222-3333-4444-555555555555"}  # fmt: skip


@dataclass
class KeySetup:
    """A provider instance with two usable keys, a native key id it cannot use, and the key
    material that no stanza, description or message may show."""

    provider: KeyProvider
    key_id: str
    other_key_id: str
    material: list[bytes]
    unusable_key_id: str


@contextmanager
def _local_files(home: Path) -> Iterator[KeySetup]:
    provider = LocalProvider(home=home, env={})
    k1, k2 = provider.create_key(), provider.create_key()
    material = [base64.b64decode((home / "keys" / f"{k}.key").read_text()) for k in (k1, k2)]
    yield KeySetup(provider, k1, k2, material, str(uuid.uuid4()))


@contextmanager
def _local_env(home: Path) -> Iterator[KeySetup]:
    keys = {str(uuid.uuid4()): os.urandom(32) for _ in range(2)}
    env = {ENV_KEYS: ",".join(f"{k}:{base64.b64encode(v).decode()}" for k, v in keys.items())}
    provider = LocalProvider(home=home, env=env)
    k1, k2 = keys
    yield KeySetup(provider, k1, k2, list(keys.values()), str(uuid.uuid4()))


@contextmanager
def _age_env(home: Path) -> Iterator[KeySetup]:
    from pyrage import x25519

    ids = [x25519.Identity.generate() for _ in range(3)]
    secrets_ = [str(i).encode() for i in ids[:2]]
    provider = PROVIDERS["age"](
        home=home, env={"GITSM_AGE_KEY": ",".join(s.decode() for s in secrets_)}
    )  # type: ignore[call-arg]
    r1, r2, stranger = (str(i.to_public()) for i in ids)
    yield KeySetup(provider, r1, r2, secrets_, stranger)


@contextmanager
def _aws_kms_moto(home: Path) -> Iterator[KeySetup]:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        for k, v in fake.items():
            mp.setenv(k, v)
        for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS"):
            mp.delenv(k, raising=False)
        with moto.mock_aws():
            kms = boto3.client("kms", region_name="us-east-1")
            metas = [kms.create_key()["KeyMetadata"] for _ in range(3)]
            kms.schedule_key_deletion(KeyId=metas[2]["KeyId"], PendingWindowInDays=7)
            arns = [m["Arn"] for m in metas]
            provider = PROVIDERS["aws-kms"](home=home, env=dict(os.environ))  # type: ignore[call-arg]
            yield KeySetup(provider, arns[0], arns[1], [], arns[2])


# How to obtain keys for each provider. A provider without an entry here is still covered when it
# offers ``create_key()`` like the local one; otherwise the contract test fails and asks for one.
KEY_SETUPS: dict[str, list[Callable[[Path], AbstractContextManager[KeySetup]]]] = {
    "local": [_local_files, _local_env],
    "age": [_age_env],
    "aws-kms": [_aws_kms_moto],
}


def _generic(name: str) -> Callable[[Path], AbstractContextManager[KeySetup]]:
    @contextmanager
    def setup(home: Path) -> Iterator[KeySetup]:
        cls = PROVIDERS[name]
        provider = cls(home=home, env={})  # type: ignore[call-arg]
        create = getattr(provider, "create_key", None)
        if create is None:
            pytest.fail(f"provider {name!r} needs a key setup in tests/test_envelope.py KEY_SETUPS")
        yield KeySetup(provider, create(), create(), [], str(uuid.uuid4()))

    return setup


CASES = [
    pytest.param((name, setup), id=f"{name}-{setup.__name__.strip('_')}")
    for name in sorted(PROVIDERS)
    for setup in KEY_SETUPS.get(name, [_generic(name)])
]


@pytest.fixture(params=CASES)
def keys(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeySetup]:
    name, setup = request.param
    with setup(tmp_path / "home") as ks:
        assert ks.provider.name == name
        yield ks


def _forms(secret: bytes) -> list[str]:
    return [
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
        secret.hex(),
        secret.hex().upper(),
    ]


def _assert_no_material(text: str, setup: KeySetup, data_key: bytes) -> None:
    for secret in [*setup.material, data_key]:
        for form in _forms(secret):
            assert form not in text, "an error or description shows key material"


def test_registry_is_not_empty() -> None:
    assert "local" in PROVIDERS
    for name, cls in PROVIDERS.items():
        assert cls.name == name


def test_contract_round_trip(keys: KeySetup) -> None:
    data_key = os.urandom(32)
    p = keys.provider
    assert p.claims(keys.key_id)
    stanza = p.wrap(keys.key_id, data_key, CONTEXT)
    assert isinstance(stanza, dict) and all(isinstance(v, str) for v in stanza.values())
    _assert_no_material(json.dumps(stanza), keys, data_key)
    assert p.unwrap(keys.key_id, stanza, CONTEXT) == data_key
    # wrapping twice differs (a random nonce), and neither form shows the data key
    assert p.wrap(keys.key_id, data_key, CONTEXT) != stanza
    _assert_no_material(json.dumps(p.describe(keys.key_id)), keys, data_key)


def test_contract_wrong_key_fails_and_names_it(keys: KeySetup) -> None:
    data_key = os.urandom(32)
    p = keys.provider
    stanza = p.wrap(keys.key_id, data_key, CONTEXT)
    with pytest.raises(KeyUnavailable) as info:
        p.unwrap(keys.other_key_id, stanza, CONTEXT)
    assert keys.other_key_id in str(info.value)
    _assert_no_material(str(info.value), keys, data_key)


def test_contract_unknown_key_fails_and_names_it(keys: KeySetup) -> None:
    data_key = os.urandom(32)
    stanza = keys.provider.wrap(keys.key_id, data_key, CONTEXT)
    # a native key id this process cannot use: unwrapping with it fails and names it
    with pytest.raises(KeyUnavailable) as info:
        keys.provider.unwrap(keys.unusable_key_id, stanza, CONTEXT)
    assert keys.unusable_key_id in str(info.value)
    _assert_no_material(str(info.value), keys, data_key)
    # an id that is not this provider's at all: not claimed, and neither call works
    foreign = "not-a-key-" + uuid.uuid4().hex
    assert not keys.provider.claims(foreign)
    for call in (
        lambda: keys.provider.unwrap(foreign, stanza, CONTEXT),
        lambda: keys.provider.wrap(foreign, data_key, CONTEXT),
    ):
        with pytest.raises(KeyUnavailable) as info:
            call()
        assert foreign in str(info.value)
        _assert_no_material(str(info.value), keys, data_key)


@pytest.mark.parametrize("field", ["SecretARN", "SecretVersionId"])
def test_contract_context_is_bound(keys: KeySetup, field: str) -> None:
    data_key = os.urandom(32)
    stanza = keys.provider.wrap(keys.key_id, data_key, CONTEXT)
    moved = dict(CONTEXT, **{field: CONTEXT[field] + "x"})
    with pytest.raises(KeyUnavailable) as info:
        keys.provider.unwrap(keys.key_id, stanza, moved)
    assert keys.key_id in str(info.value)


def _tampered(stanza: dict[str, str]) -> list[dict[str, str]]:
    """Every field altered in several ways: one character changed, truncated, extended, emptied."""
    out = []
    for field, value in stanza.items():
        variants = {value[:-1], value + "A", "", value[::-1]}
        for i in range(0, len(value), max(1, len(value) // 16)):
            repl = "B" if value[i] != "B" else "C"
            variants.add(value[:i] + repl + value[i + 1 :])
        variants.discard(value)
        out.extend(dict(stanza, **{field: v}) for v in sorted(variants))
    return out


def test_contract_tampered_stanza_fails(keys: KeySetup) -> None:
    data_key = os.urandom(32)
    stanza = keys.provider.wrap(keys.key_id, data_key, CONTEXT)
    lenient = []
    for bad in _tampered(stanza):
        try:
            got = keys.provider.unwrap(keys.key_id, bad, CONTEXT)
        except KeyUnavailable as exc:
            assert keys.key_id in str(exc)
            _assert_no_material(str(exc), keys, data_key)
            continue
        assert got == data_key, "a tampered stanza unwrapped to another data key"
        # the only tolerated change is whitespace of a text encoding (age's armor trailing newline)
        squeeze = {k: "".join(v.split()) for k, v in bad.items()}
        assert squeeze == {k: "".join(v.split()) for k, v in stanza.items()}, bad
        lenient.append(bad)
    assert len(lenient) <= 1


# -- envelopes through the key service ----------------------------------------------------------

NAME, ARN = "prod/db/password", CONTEXT["SecretARN"]
VID = CONTEXT["SecretVersionId"]


@pytest.fixture(params=["files", "env"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[KeyService, list[Recipient]]:
    home = tmp_path / "home"
    if request.param == "files":
        local = LocalProvider(home=home, env={})
        ids = [local.create_key(), local.create_key()]
        return KeyService(home=home, env={}), [Recipient("local", i) for i in ids]
    entries = {str(uuid.uuid4()): base64.b64encode(os.urandom(32)).decode() for _ in range(2)}
    env = {ENV_KEYS: " ".join(f"{k}:{v}" for k, v in entries.items())}
    return KeyService(home=home, env=env), [Recipient("local", i) for i in entries]


def _seal(svc: KeyService, recips: list[Recipient], value: bytes, kind: str) -> bytes:
    return envelope.seal(
        value,
        kind,
        name=NAME,
        arn=ARN,
        version_id=VID,
        recipients=recips,
        keys=svc,  # type: ignore[arg-type]
    )


def _open(svc: KeyService, data: bytes, **kw: str) -> tuple[bytes, str]:
    args = {"name": NAME, "arn": ARN, "version_id": VID, **kw}
    return envelope.open_value(data, keys=svc, **args)


@settings(max_examples=25, deadline=None)
@given(
    value=st.one_of(
        st.binary(min_size=1, max_size=2048),
        st.text(min_size=1, max_size=512).map(lambda s: s.encode("utf-8")),
    ),
    kind=st.sampled_from(["string", "binary"]),
)
def test_seal_open_round_trip(
    tmp_path_factory: pytest.TempPathFactory, value: bytes, kind: str
) -> None:
    home = tmp_path_factory.mktemp("h")
    local = LocalProvider(home=home, env={})
    svc = KeyService(home=home, env={})
    recips = [Recipient("local", local.create_key())]
    data = _seal(svc, recips, value, kind)
    assert value not in data or len(value) < 24
    assert _open(svc, data) == (value, kind)


def test_envelope_round_trip_and_binding(service: tuple[KeyService, list[Recipient]]) -> None:
    svc, recips = service
    for value, kind in [(b"hunter2-string-value", "string"), (bytes(range(256)) * 3, "binary")]:
        data = _seal(svc, recips, value, kind)
        doc = json.loads(data)
        assert len(doc["keys"]) == len(recips)
        assert _open(svc, data) == (value, kind)
        for wrong in ({"name": "prod/db/other"}, {"version_id": VID[:-1] + "6"}):
            with pytest.raises(DecryptionFailure):
                _open(svc, data, **wrong)
        with pytest.raises(DecryptionFailure):  # the wrapped key is bound to the ARN
            _open(svc, data, arn=ARN[:-1] + "g")
        # relabel string <-> binary, canonically re-serialized: the AAD catches it
        doc["type"] = "binary" if kind == "string" else "string"
        flipped = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
        with pytest.raises(DecryptionFailure):
            _open(svc, flipped)
        # the same file re-serialized differently is refused as altered
        with pytest.raises(DecryptionFailure):
            _open(svc, json.dumps(json.loads(data)).encode())


def test_any_recipient_opens(service: tuple[KeyService, list[Recipient]], tmp_path: Path) -> None:
    svc, recips = service
    data = _seal(svc, recips, b"shared-value", "string")
    doc = json.loads(data)
    for keep in range(len(recips)):
        only = dict(doc, keys=[doc["keys"][keep]])
        one = (json.dumps(only, indent=2, sort_keys=True) + "\n").encode()
        assert _open(svc, one) == (b"shared-value", "string")
    stranger = KeyService(home=tmp_path / "elsewhere", env={})
    with pytest.raises(DecryptionFailure) as info:
        _open(stranger, data)
    for r in recips:
        assert r.key_id in info.value.message


def test_open_values_agrees_with_open_value_one_by_one(
    service: tuple[KeyService, list[Recipient]], tmp_path: Path
) -> None:
    """The bulk opener (parse all, unwrap all, decrypt all) gives each envelope exactly what
    opening it alone gives: its value, or its own DecryptionFailure in its place."""
    svc, recips = service
    vids = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(5)]

    def seal(value: bytes, vid: str, who: list[Recipient], keys: KeyService = svc) -> bytes:
        return envelope.seal(
            value, "string", name=NAME, arn=ARN, version_id=vid, recipients=who, keys=keys
        )

    good = seal(b"first-value", vids[0], recips)
    tampered = bytearray(seal(b"second-value", vids[1], recips))
    at = tampered.index(b'"ciphertext": "') + 20
    tampered[at] = ord("A") if tampered[at] != ord("A") else ord("B")
    not_json = b"not an envelope"
    stranger = Recipient("local", LocalProvider(home=tmp_path / "other", env={}).create_key())
    foreign = seal(
        b"fourth-value", vids[3], [stranger], KeyService(home=tmp_path / "other", env={})
    )
    items = [
        (good, NAME, ARN, vids[0]),
        (bytes(tampered), NAME, ARN, vids[1]),
        (not_json, NAME, ARN, vids[2]),
        (foreign, NAME, ARN, vids[3]),
        (good, NAME, ARN, vids[4]),  # moved to another version: bound to vids[0]
        (seal(b"last-value", vids[0], recips[1:]), NAME, ARN, vids[0]),
    ]
    bulk = envelope.open_values(items, svc)
    assert len(bulk) == len(items)
    for (data, name, arn, vid), got in zip(items, bulk, strict=True):
        try:
            alone: object = envelope.open_value(data, name=name, arn=arn, version_id=vid, keys=svc)
        except DecryptionFailure as exc:
            alone = exc
        if isinstance(alone, DecryptionFailure):
            assert isinstance(got, DecryptionFailure) and got.message == alone.message
        else:
            assert got == alone
    assert bulk[0] == (b"first-value", "string") and bulk[5] == (b"last-value", "string")
    assert [isinstance(r, DecryptionFailure) for r in bulk] == [
        False,
        True,
        True,
        True,
        True,
        False,
    ]
    assert envelope.open_values([], svc) == []


def test_rewrap_keeps_ciphertext(service: tuple[KeyService, list[Recipient]]) -> None:
    svc, recips = service
    data = _seal(svc, recips[:1], b"rotate-me", "string")
    moved = envelope.rewrap(
        data, name=NAME, arn=ARN, version_id=VID, recipients=recips[1:], keys=svc
    )
    old, new = json.loads(data), json.loads(moved)
    assert new["ciphertext"] == old["ciphertext"] and new["nonce"] == old["nonce"]
    assert [k["key_id"] for k in new["keys"]] == [recips[1].key_id]
    assert _open(svc, moved) == (b"rotate-me", "string")


def test_decryption_failure_never_shows_key_material(tmp_path: Path) -> None:
    raw = os.urandom(32)
    kid = str(uuid.uuid4())
    env = {ENV_KEYS: f"{kid}:{base64.b64encode(raw).decode()}"}
    svc = KeyService(home=tmp_path, env=env)
    data = _seal(svc, [Recipient("local", kid)], b"value-xyz", "string")
    other = KeyService(
        home=tmp_path, env={ENV_KEYS: f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"}
    )
    with pytest.raises(DecryptionFailure) as info:
        _open(other, data)
    msg = info.value.message
    assert kid in msg
    for form in _forms(raw):
        assert form not in msg
    assert "value-xyz" not in msg


def test_bad_env_key_is_refused_without_echoing_it() -> None:
    kid = str(uuid.uuid4())
    short = base64.b64encode(b"k" * 16).decode()
    with pytest.raises(KeyUnavailable) as info:
        LocalProvider(env={ENV_KEYS: f"{kid}:{short}"})
    assert kid in str(info.value) and short not in str(info.value)


def test_key_files_are_private(tmp_path: Path) -> None:
    local = LocalProvider(home=tmp_path, env={})
    kid = local.create_key()
    assert (tmp_path / "keys" / f"{kid}.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
