"""The age provider: interop with the age CLI both ways, identity sources, recipient-only writers."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pyrage import x25519

from gitsm import envelope, paths
from gitsm.errors import DecryptionFailure
from gitsm.keys import KeyService
from gitsm.providers import KeyUnavailable
from gitsm.providers.age import (
    ENV_IDENTITY_FILE,
    ENV_KEY,
    AgeProvider,
    payload,
)
from gitsm.providers.agefile import (
    ARMOR_BEGIN,
    ARMOR_END,
    armored_bytes,
    bech32_bytes,
    decrypt_armored,
)
from gitsm.store import SecretStore

pytestmark = pytest.mark.skipif(shutil.which("age") is None, reason="needs the age CLI")
CONTEXT = {
    "SecretARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/key-AbCdEf",
    "SecretVersionId": "22222222-3333-4444-5555-666666666666",
}


def keygen(path: Path) -> str:
    """A new identity file made by age-keygen; returns its recipient."""
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return next(
        line.split(": ")[1] for line in path.read_text().splitlines() if "public key" in line
    )


def keys_for(**env: str) -> KeyService:
    """A key service whose age identities are exactly ``env``'s (the rest of the env as is)."""
    base = {k: v for k, v in os.environ.items() if k not in (ENV_IDENTITY_FILE, ENV_KEY)}
    return KeyService(env={**base, **env})


def envelope_of(store: SecretStore, name: str, version_id: str) -> bytes:
    data = store.repo.tip().read(paths.version_path(name, version_id))
    assert data is not None
    return data


@pytest.fixture
def ident(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "identity.txt"
    return path, keygen(path)


@pytest.fixture
def team(repo_path: Path, ident: tuple[Path, str]) -> Path:
    """A store with alias/team -> the age recipient of ``ident``."""
    SecretStore.open(repo_path, keys=keys_for()).create_key_alias("alias/team", [ident[1]])
    return repo_path


def test_age_cli_recovers_the_data_key_and_the_value(team: Path, ident: tuple[Path, str]) -> None:
    store = SecretStore.open(team, keys=keys_for())
    created = store.create_secret("app/key", secret_string="hunter2", kms_key_id="alias/team")
    assert created.version_id is not None
    doc = json.loads(envelope_of(store, "app/key", created.version_id))
    (stanza,) = doc["keys"]
    assert stanza["provider"] == "age" and stanza["key_id"] == ident[1]
    out = subprocess.run(
        ["age", "-d", "-i", str(ident[0])], input=stanza["age"].encode(),
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    plain = json.loads(out)
    assert plain["format"] == "gitsm-age-v1"
    assert plain["context"] == {"SecretARN": created.arn, "SecretVersionId": created.version_id}
    # The recovered data key opens the value exactly as docs/FORMAT.md describes.
    aad = json.dumps(
        {"format": 1, "secret": "app/key", "type": "string", "version_id": created.version_id},
        sort_keys=True, separators=(",", ":"),
    ).encode()  # fmt: skip
    value = AESGCM(base64.b64decode(plain["data_key"])).decrypt(
        base64.b64decode(doc["nonce"]), base64.b64decode(doc["ciphertext"]), aad
    )
    assert value == b"hunter2"


def test_stanza_made_by_the_age_cli_is_read(team: Path, ident: tuple[Path, str]) -> None:
    store = SecretStore.open(team, keys=keys_for(**{ENV_IDENTITY_FILE: str(ident[0])}))
    created = store.create_secret("app/key", secret_string="hunter2", kms_key_id="alias/team")
    vid = created.version_id
    assert vid is not None
    data = envelope_of(store, "app/key", vid)
    data_key = store.keys.unwrap(json.loads(data)["keys"], envelope._context(created.arn, vid))
    # Build the payload by hand, as a person would (pretty-printed, trailing newline).
    text = json.dumps(
        {
            "format": "gitsm-age-v1",
            "context": {"SecretARN": created.arn, "SecretVersionId": vid},
            "data_key": base64.b64encode(data_key).decode(),
        },
        indent=1,
    ) + "\n"  # fmt: skip
    armored = subprocess.run(
        ["age", "-a", "-r", ident[1]], input=text.encode(), check=True, capture_output=True
    ).stdout.decode()
    doc = json.loads(data)
    doc["keys"] = [{"provider": "age", "key_id": ident[1], "age": armored}]
    rebuilt = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    value, kind = envelope.open_value(
        rebuilt, name="app/key", arn=created.arn, version_id=vid, keys=store.keys
    )
    assert (value, kind) == (b"hunter2", "string")
    # The same stanza under another version's context is refused.
    with pytest.raises(DecryptionFailure, match="another secret or version"):
        store.keys.unwrap(
            doc["keys"], {**envelope._context(created.arn, vid), "SecretVersionId": "x"}
        )


def test_recipient_only_writer_adds_versions_but_reads_none(
    team: Path, ident: tuple[Path, str]
) -> None:
    writer = SecretStore.open(team, keys=keys_for())
    writer.create_secret("app/key", secret_string="v1", kms_key_id="alias/team")
    writer.put_secret_value("app/key", secret_string="v2")
    writer.update_secret("app/key", secret_string="v3")
    with pytest.raises(DecryptionFailure) as info:
        writer.get_secret_value("app/key")
    assert ident[1] in info.value.message and "no age identity" in info.value.message
    with pytest.raises(DecryptionFailure):
        writer.get_secret_value("app/key", version_stage="AWSPREVIOUS")
    reader = SecretStore.open(team, keys=keys_for(**{ENV_IDENTITY_FILE: str(ident[0])}))
    assert reader.get_secret_value("app/key").secret_string == "v3"
    assert reader.get_secret_value("app/key", version_stage="AWSPREVIOUS").secret_string == "v2"


def test_identity_file_with_comments_and_several_keys(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    r1, r2 = keygen(first), keygen(second)
    combined = tmp_path / "ids.txt"
    combined.write_text(first.read_text() + "\n# a second identity\n\n" + second.read_text())
    provider = AgeProvider(env={ENV_IDENTITY_FILE: str(combined)})
    assert provider.held_keys() == sorted([r1, r2])
    for recipient in (r1, r2):
        stanza = provider.wrap(recipient, b"k" * 32, CONTEXT)
        assert provider.unwrap(recipient, stanza, CONTEXT) == b"k" * 32
    # GITSM_AGE_KEY adds identities given inline (several, whitespace or comma separated).
    inline = next(line for line in first.read_text().splitlines() if line.startswith("AGE-"))
    assert AgeProvider(env={ENV_KEY: f" {inline}, "}).held_keys() == [r1]


def test_identity_errors_are_clear_and_never_show_the_identity(tmp_path: Path) -> None:
    recipient = keygen(tmp_path / "id.txt")
    stanza = AgeProvider(env={}).wrap(recipient, b"k" * 32, CONTEXT)
    missing = tmp_path / "nope.txt"
    with pytest.raises(KeyUnavailable, match=f"cannot read {ENV_IDENTITY_FILE} {missing}"):
        AgeProvider(env={ENV_IDENTITY_FILE: str(missing)}).unwrap(recipient, stanza, CONTEXT)
    secret = "AGE-SECRET-KEY-1" + "Q" * 58
    bad = tmp_path / "bad.txt"
    bad.write_text(f"# comment\n{secret}\nssh-ed25519 AAAA\n")
    with pytest.raises(KeyUnavailable) as info:
        AgeProvider(env={ENV_IDENTITY_FILE: str(bad)}).held_keys()
    assert "line 2" in str(info.value) and secret not in str(info.value)
    bad.write_text("-----BEGIN AGE ENCRYPTED FILE-----\n")
    with pytest.raises(KeyUnavailable, match="passphrase-protected"):
        AgeProvider(env={ENV_IDENTITY_FILE: str(bad)}).held_keys()
    with pytest.raises(KeyUnavailable, match="neither"):
        AgeProvider(env={}).unwrap(recipient, stanza, CONTEXT)


def test_claims_only_age_recipients(ident: tuple[Path, str]) -> None:
    provider = AgeProvider(env={})
    assert provider.claims(ident[1])
    assert not provider.claims(ident[1][:-1] + ("q" if ident[1][-1] != "q" else "p"))  # checksum
    for other in (
        "alias/team",
        "age1",
        "AGE-SECRET-KEY-1QQQ",
        "5d0c6c41-7f1e-4d51-9a43-3f7c2d6a8e10",
    ):
        assert not provider.claims(other)
    assert payload(b"k" * 32, CONTEXT).startswith(b'{"context":')


def test_update_secret_to_an_age_key_rewraps_labelled_versions(
    team: Path, ident: tuple[Path, str], tmp_path: Path
) -> None:
    store = SecretStore.open(team, keys=keys_for())
    store.create_secret("app/key", secret_string="v1")
    store.put_secret_value("app/key", secret_string="v2")
    store.put_secret_value("app/key", secret_string="p", version_stages=["AWSPENDING"])
    store.update_secret("app/key", kms_key_id="alias/team")
    # A reader with the age identity and an empty local key ring reads all three.
    reader = SecretStore.open(
        team,
        keys=KeyService(
            home=tmp_path / "empty",
            env={"GITSM_HOME": str(tmp_path / "empty"), ENV_IDENTITY_FILE: str(ident[0])},
        ),
    )
    got = {s: reader.get_secret_value("app/key", version_stage=s).secret_string
           for s in ("AWSCURRENT", "AWSPREVIOUS", "AWSPENDING")}  # fmt: skip
    assert got == {"AWSCURRENT": "v2", "AWSPREVIOUS": "v1", "AWSPENDING": "p"}


def test_several_age_recipients_each_read_alone(repo_path: Path, tmp_path: Path) -> None:
    ids = [tmp_path / f"id{i}.txt" for i in range(2)]
    recipients = [keygen(p) for p in ids]
    store = SecretStore.open(repo_path, keys=keys_for())
    store.create_key_alias("alias/two", recipients)
    store.create_secret("shared", secret_string="both", kms_key_id="alias/two")
    for path in ids:
        one = SecretStore.open(repo_path, keys=keys_for(**{ENV_IDENTITY_FILE: str(path)}))
        assert one.get_secret_value("shared").secret_string == "both"


def test_fast_reader_agrees_with_pyrage_and_the_cli(ident: tuple[Path, str]) -> None:
    line = next(x for x in ident[0].read_text().splitlines() if x.startswith("AGE-"))
    scalar, public = bech32_bytes(line), bech32_bytes(ident[1])
    assert scalar is not None and public is not None and len(public) == 32
    key = X25519PrivateKey.from_private_bytes(scalar)
    other = str(x25519.Identity.generate().to_public())
    text = payload(b"k" * 32, CONTEXT)

    def cli(*recipients: str) -> str:
        args = [a for r in recipients for a in ("-r", r)]
        return subprocess.run(
            ["age", "-a", *args], input=text, check=True, capture_output=True
        ).stdout.decode()

    made = [AgeProvider(env={}).wrap(ident[1], b"k" * 32, CONTEXT)["age"], cli(ident[1]),
            cli(other, ident[1])]  # fmt: skip
    for sealed in made:
        assert decrypt_armored(sealed, key, public) == text
        for i in (60, len(sealed) - 60):  # in the header, in the payload
            altered = sealed[:i] + ("A" if sealed[i] != "A" else "B") + sealed[i + 1 :]
            assert decrypt_armored(altered, key, public) is None
    assert decrypt_armored(cli(other), key, public) is None


def test_pyrage_reads_what_the_fast_reader_declines(ident: tuple[Path, str]) -> None:
    provider = AgeProvider(env={ENV_IDENTITY_FILE: str(ident[0])})
    stanza = provider.wrap(ident[1], b"k" * 32, CONTEXT)
    assert provider.unwrap(ident[1], stanza, CONTEXT) == b"k" * 32
    assert ident[1] in provider._fast
    provider._fast.clear()  # as for a file the fast reader does not handle
    assert provider.unwrap(ident[1], stanza, CONTEXT) == b"k" * 32


def test_non_canonical_armor_is_refused(ident: tuple[Path, str]) -> None:
    """Variants age itself would accept (same bytes) must not unwrap: any changed byte fails."""
    path, recipient = ident
    provider = keys_for(**{ENV_IDENTITY_FILE: str(path)}).provider("age")
    data_key = os.urandom(32)
    # the armored length follows the context's (and any grease stanza age adds at random): try
    # lengths until one leaves unused bits in the last base64 character
    for attempt in range(30):
        context = {"SecretARN": "arn:x", "SecretVersionId": "v" * (32 + attempt % 3)}
        sealed = provider.wrap(recipient, data_key, context)["age"]
        lines = sealed.split("\n")
        last = lines[-3]  # the last base64 line, before the END line and the final ""
        pad = len(last) - len(last.rstrip("="))
        if pad:
            break
    assert pad, "thirty armored lengths never left unused base64 bits"
    assert provider.unwrap(recipient, {"age": sealed}, context) == data_key
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    pos = len(last) - pad - 1
    twin = alphabet[alphabet.index(last[pos]) ^ 1]  # flips an unused low bit
    lines[-3] = last[:pos] + twin + last[pos + 1 :]
    same_bytes = "\n".join(lines)
    assert base64.b64decode("".join(same_bytes.split("\n")[1:-2])) == base64.b64decode(
        "".join(sealed.split("\n")[1:-2])
    )
    for variant in (same_bytes, sealed.rstrip("\n"), sealed.replace("\n", "\r\n")):
        with pytest.raises(KeyUnavailable, match="canonical"):
            provider.unwrap(recipient, {"age": variant}, context)


def _armor(raw: bytes) -> str:
    body = base64.b64encode(raw).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([ARMOR_BEGIN, *lines, ARMOR_END, ""])


def test_header_fields_with_unused_bits_set_are_refused(ident: tuple[Path, str]) -> None:
    """The X25519 share, the wrapped file key and the header MAC are 32 bytes in 43 base64
    characters; setting a last character's unused bits spells the same bytes. The MAC line is not
    covered by the MAC itself, so only a strict reader notices: both readers must refuse."""
    path, recipient = ident
    provider = keys_for(**{ENV_IDENTITY_FILE: str(path)}).provider("age")
    identity = x25519.Identity.from_str(
        next(x for x in path.read_text().splitlines() if x.startswith("AGE-"))
    )
    data_key = os.urandom(32)
    sealed = provider.wrap(recipient, data_key, CONTEXT)["age"]
    raw = armored_bytes(sealed)
    assert raw is not None and _armor(raw) == sealed
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    share_at = raw.index(b"-> X25519 ") + 10
    fields = {"share": share_at, "wrapped key": raw.index(b"\n", share_at) + 1,
              "MAC": raw.index(b"\n--- ") + 5}  # fmt: skip
    for what, start in fields.items():
        last = start + 42
        twin = alphabet[alphabet.index(chr(raw[last])) ^ 1]  # one of the two unused bits
        altered = raw[:last] + twin.encode() + raw[last + 1 :]
        assert base64.b64decode(altered[start : last + 1] + b"=") == base64.b64decode(
            raw[start : last + 1] + b"="
        ), what
        with pytest.raises(KeyUnavailable):
            provider.unwrap(recipient, {"age": _armor(altered)}, CONTEXT)
        with pytest.raises(pyrage.DecryptError):
            pyrage.decrypt(altered, [identity])
    assert provider.unwrap(recipient, {"age": sealed}, CONTEXT) == data_key
