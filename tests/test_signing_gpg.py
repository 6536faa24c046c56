"""OpenPGP signing and checking with a real GnuPG key made in a throwaway GNUPGHOME (skipped, loudly,
when GnuPG is not installed)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gitsm
from gitsm import sigformat
from gitsm.cli.app import app
from gitsm.errors import SigningError
from gitsm.signatures import check_signatures, signature_problems
from tests.conftest import git
from tests.signing_keys import (
    GpgKey,
    drop_gpg_home,
    export_key,
    forget_config,
    need_gpg,
    new_gpg_key,
    sign_with,
    tip,
)

ALICE_UID = "Alice Example <alice@example.com>"


@pytest.fixture(scope="module")
def gpg_keys() -> Iterator[tuple[GpgKey, GpgKey]]:
    """Alice's key (the allowed signer) and Mallory's, each in its own GnuPG home."""
    need_gpg()
    alice = new_gpg_key(ALICE_UID)
    mallory = new_gpg_key("Mallory <mallory@example.net>")
    try:
        yield alice, mallory
    finally:
        drop_gpg_home(alice)
        drop_gpg_home(mallory)


def use_home(monkeypatch: pytest.MonkeyPatch, key: GpgKey) -> None:
    monkeypatch.setenv("GNUPGHOME", str(key.home))


def test_openpgp_signed_writes_verify_with_git_and_gitsm(
    repo_path: Path, gpg_keys: tuple[GpgKey, GpgKey], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:  # fmt: skip
    alice, mallory = gpg_keys
    use_home(monkeypatch, alice)
    init = tip(repo_path)
    sign_with(repo_path, alice.fingerprint, fmt="openpgp")
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="pgp", SecretString="value-one")
    client.put_secret_value(SecretId="pgp", SecretString="value-two")
    made = git(repo_path, "rev-list", f"{init}..HEAD").split()
    for commit in made:
        proc = subprocess.run(["git", "verify-commit", commit], cwd=repo_path,
                              capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert f'Good signature from "{ALICE_UID}"' in proc.stderr
    raw = git(repo_path, "cat-file", "commit", made[0])
    assert "gpgsig -----BEGIN PGP SIGNATURE-----" in raw

    exported = export_key(alice, tmp_path / "alice.asc", armor=True)
    keyring = export_key(alice, tmp_path / "alice.gpg", armor=False)
    for source in (alice.home, exported, keyring):
        checks = check_signatures(repo_path, [init, *made], source)
        assert [c.status for c in checks] == ["none", "good", "good"], source
        assert (checks[1].signer, checks[1].key, checks[1].kind) == (
            ALICE_UID,
            alice.fingerprint,
            "openpgp",
        )
    assert signature_problems(repo_path, made, exported) == []

    other = export_key(mallory, tmp_path / "mallory.asc", armor=True)
    (check,) = check_signatures(repo_path, [made[0]], other)
    assert check.status == "untrusted" and check.key == alice.fingerprint
    (problem,) = signature_problems(repo_path, [made[0]], other)
    assert problem.path == made[0] and alice.fingerprint in problem.problem

    broken = tmp_path / "broken.asc"
    broken.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n")
    (check,) = check_signatures(repo_path, [made[0]], broken)
    assert check.status == "unverified" and "could not read the keys" in check.detail

    forged = tamper_openpgp(repo_path, made[0])
    (check,) = check_signatures(repo_path, [forged], alice.home)
    assert check.status == "bad"
    (problem,) = signature_problems(repo_path, [forged], alice.home)
    assert "does not match the commit" in problem.problem


def tamper_openpgp(path: Path, commit: str) -> str:
    raw = git(path, "cat-file", "commit", commit)
    head, _, message = raw.partition("\n\n")
    forged = head + "\n\n" + message.replace("PutSecretValue", "DeleteSecret", 1)
    assert forged != raw
    return subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=path, input=forged,
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def test_the_log_checks_openpgp_with_the_users_gnupg(
    repo_path: Path, gpg_keys: tuple[GpgKey, GpgKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, mallory = gpg_keys
    use_home(monkeypatch, alice)
    git(repo_path, "config", "commit.gpgsign", "true")  # no user.signingkey: gpg -u <committer>
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Alice Example")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "alice@example.com")
    forget_config()
    gitsm.client(repo=repo_path).create_secret(Name="log", SecretString="value-one")
    result = CliRunner().invoke(app, ["--repo", str(repo_path), "log"])
    assert result.exit_code == 0, result.stderr
    newest, init = json.loads(result.stdout)["Operations"]
    assert (
        newest["Signature"] == "good" and newest["Signer"] == f"{ALICE_UID} ({alice.fingerprint})"
    )
    assert init["Signature"] == "none"
    use_home(monkeypatch, mallory)  # a keyring without alice's key: not one of ours
    result = CliRunner().invoke(app, ["--repo", str(repo_path), "log", "--max-items", "1"])
    (row,) = json.loads(result.stdout)["Operations"]
    assert row["Signature"] == "untrusted" and row["Signer"] == alice.fingerprint


def test_a_missing_openpgp_key_fails_the_write(
    repo_path: Path, gpg_keys: tuple[GpgKey, GpgKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_home(monkeypatch, gpg_keys[0])
    sign_with(repo_path, "nobody@example.invalid", fmt="openpgp")
    before = tip(repo_path)
    with pytest.raises(SigningError) as info:
        gitsm.client(repo=repo_path).create_secret(Name="x", SecretString="value-one")
    assert "nobody@example.invalid" in info.value.message
    assert "could not sign" in info.value.message and "nothing was written" in info.value.message
    assert tip(repo_path) == before


def test_the_issuer_is_read_from_the_signature_packet(
    gpg_keys: tuple[GpgKey, GpgKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = gpg_keys[0]
    use_home(monkeypatch, alice)
    armored = subprocess.run(
        ["gpg", "--batch", "-bsau", alice.fingerprint], input=b"data", capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    assert sigformat.kind(armored) == "openpgp"
    assert sigformat.openpgp_issuer(armored) == alice.fingerprint
    assert sigformat.ssh_key(armored) is None
