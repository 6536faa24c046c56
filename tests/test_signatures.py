"""Checking who signed a store's commits (gitsm.signatures) and what ``gitsm log`` shows, with real
ssh keys: a good signer, a stranger, an unsigned commit and a commit changed after signing."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import gitsm
from gitsm import sigformat
from gitsm.cli.app import app
from gitsm.errors import StoreError
from gitsm.gitrepo import GitRepo
from gitsm.history import history
from gitsm.signatures import (
    AllowedSigners,
    check_signatures,
    commits_in_range,
    log_signatures,
    signature_problems,
    with_signatures,
)
from gitsm.verify import Problem
from tests.conftest import git
from tests.signing_keys import ALICE, SshKeys, forget_config, make_ssh_keys, sign_with, tip


@dataclass(frozen=True)
class Signed:
    """A store whose commits are: Init (unsigned), two by alice, one by eve, and ``tampered``: a
    copy of alice's second commit with another message and alice's signature (no ref to it)."""

    path: Path
    keys: SshKeys
    init: str
    good: tuple[str, str]
    stranger: str
    tampered: str


def tamper(path: Path, commit: str) -> str:
    """A commit with ``commit``'s headers (its signature too) and a rewritten message."""
    raw = git(path, "cat-file", "commit", commit)
    assert "gpgsig -----BEGIN SSH SIGNATURE-----" in raw
    head, _, message = raw.partition("\n\n")
    forged = head + "\n\n" + message.replace("UpdateSecret", "DeleteSecret", 1)
    return subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=path, input=forged,
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def signed(repo_path: Path, tmp_path: Path) -> Signed:
    keys = make_ssh_keys(tmp_path / "keys")
    init = tip(repo_path)
    sign_with(repo_path, keys.alice)
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app/db", SecretString="first-value")
    first = tip(repo_path)
    client.update_secret(SecretId="app/db", SecretString="second-value")
    second = tip(repo_path)
    sign_with(repo_path, keys.eve)
    client.put_secret_value(SecretId="app/db", SecretString="third-value")
    return Signed(repo_path, keys, init, (first, second), tip(repo_path), tamper(repo_path, second))


def test_checks_name_the_signer_and_say_whether_it_is_allowed(signed: Signed) -> None:
    commits = [signed.init, *signed.good, signed.stranger, signed.tampered]
    checks = check_signatures(signed.path, commits, signed.keys.allowed)
    assert [c.commit for c in checks] == commits
    assert [c.status for c in checks] == ["none", "good", "good", "untrusted", "bad"]
    none, good, _, stranger, tampered = checks
    assert not none.signed and none.kind is None and none.key is None
    alice, eve = (signed.keys.fingerprint(k) for k in (signed.keys.alice, signed.keys.eve))
    assert (good.kind, good.signer, good.key, good.valid, good.allowed) == (
        "ssh",
        ALICE,
        alice,
        True,
        True,
    )
    assert good.who == f"{ALICE} ({alice})"
    assert (stranger.key, stranger.signer, stranger.valid, stranger.allowed) == (
        eve,
        None,
        True,
        False,
    )
    assert "not in the allowed signers file" in stranger.detail
    assert (tampered.key, tampered.valid, tampered.allowed) == (alice, False, False)
    # git agrees about the tampered commit
    proc = subprocess.run(
        ["git", "-c", f"gpg.ssh.allowedSignersFile={signed.keys.allowed}", "verify-commit",
         signed.tampered], cwd=signed.path, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode != 0


def test_problems_for_unsigned_stranger_and_tampered_commits_only(signed: Signed) -> None:
    commits = [signed.init, *signed.good, signed.stranger, signed.tampered]
    problems = signature_problems(signed.path, commits, signed.keys.allowed)
    assert all(isinstance(p, Problem) for p in problems)
    by_commit = {p.path: p for p in problems}
    assert list(by_commit) == [signed.init, signed.stranger, signed.tampered]
    assert by_commit[signed.init].problem == "is not signed"
    assert "commit.gpgsign" in by_commit[signed.init].fix
    stranger = by_commit[signed.stranger]
    assert "which is not an allowed signer" in stranger.problem
    assert signed.keys.fingerprint(signed.keys.eve) in stranger.problem
    assert str(signed.keys.allowed) in stranger.fix
    assert "does not match the commit" in by_commit[signed.tampered].problem
    assert signature_problems(signed.path, list(signed.good), signed.keys.allowed) == []


def test_a_revoked_key_is_not_allowed(signed: Signed, tmp_path: Path) -> None:
    revoked = tmp_path / "revoked_keys"
    revoked.write_text(Path(f"{signed.keys.alice}.pub").read_text())
    source = AllowedSigners(ssh_file=signed.keys.allowed, ssh_revocation_file=revoked)
    (check,) = check_signatures(signed.path, [signed.good[0]], source)
    assert check.status == "untrusted" and check.valid is True
    assert ALICE in check.detail  # allowed for alice, refused: revoked


def test_without_allowed_signers_signatures_are_unverified(signed: Signed) -> None:
    checks = check_signatures(signed.path, [signed.good[0], signed.stranger])
    assert [c.status for c in checks] == ["unverified", "unverified"]
    assert checks[0].key == signed.keys.fingerprint(signed.keys.alice)
    problems = signature_problems(signed.path, [signed.good[0]], AllowedSigners())
    assert len(problems) == 1 and "could not be checked" in problems[0].problem


def test_ranges_are_read_like_git_rev_list(signed: Signed) -> None:
    assert commits_in_range(signed.path, f"{signed.init}..HEAD") == [*signed.good, signed.stranger]
    assert commits_in_range(signed.path, "HEAD") == [signed.init, *signed.good, signed.stranger]
    assert commits_in_range(signed.path, f"{signed.good[1]}..") == [signed.stranger]
    with pytest.raises(StoreError, match="No commit 'nope'"):
        commits_in_range(signed.path, "nope..HEAD")
    with pytest.raises(StoreError, match="symmetric ranges"):
        commits_in_range(signed.path, f"{signed.init}...HEAD")


def test_allowed_signers_paths_are_told_apart(tmp_path: Path, signed: Signed) -> None:
    assert AllowedSigners.from_path(signed.keys.allowed).ssh_file == signed.keys.allowed
    assert AllowedSigners.from_path(tmp_path).gnupg_home == tmp_path
    armored = tmp_path / "keys.asc"
    armored.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ\n")
    assert AllowedSigners.from_path(armored).gnupg_keyring == armored
    binary = tmp_path / "pubring.gpg"
    binary.write_bytes(b"\x98\x33\x04rest")
    assert AllowedSigners.from_path(binary).gnupg_keyring == binary
    accented = tmp_path / "accented_signers"  # text that starts with a non-ASCII principal
    accented.write_text("\u0186ric@example.com ssh-ed25519 AAAA\n")
    assert AllowedSigners.from_path(accented).ssh_file == accented
    with pytest.raises(StoreError, match="Cannot read the allowed signers file"):
        AllowedSigners.from_path(tmp_path / "missing")


def log_rows(path: Path, *args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["--repo", str(path), "log", *args])
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)["Operations"]
    return rows


def test_gitsm_log_shows_signature_and_signer(signed: Signed) -> None:
    git(signed.path, "config", "gpg.ssh.allowedSignersFile", str(signed.keys.allowed))
    forget_config()
    rows = log_rows(signed.path)
    assert [(r["Commit"], r["Signature"]) for r in rows] == [
        (signed.stranger, "untrusted"), (signed.good[1], "good"), (signed.good[0], "good"),
        (signed.init, "none"),
    ]  # fmt: skip
    alice = signed.keys.fingerprint(signed.keys.alice)
    assert rows[1]["Signer"] == rows[2]["Signer"] == f"{ALICE} ({alice})"
    assert rows[0]["Signer"] == signed.keys.fingerprint(signed.keys.eve)
    assert "Signer" not in rows[3]
    assert [r["Signature"] for r in log_rows(signed.path, "--max-items", "1")] == ["untrusted"]
    assert [r["Signature"] for r in log_rows(signed.path, "--secret-id", "app/db")] == [
        "untrusted", "good", "good"
    ]  # fmt: skip


def test_gitsm_log_without_allowed_signers_reports_unverified_keys(signed: Signed) -> None:
    rows = log_rows(signed.path)
    assert [r["Signature"] for r in rows] == ["unverified", "unverified", "unverified", "none"]
    assert rows[1]["Signer"] == signed.keys.fingerprint(signed.keys.alice)


def test_the_log_runs_nothing_for_unsigned_commits(
    repo_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = gitsm.client(repo=repo_path)
    for n in range(5):
        client.create_secret(Name=f"s{n}", SecretString=f"value-{n}")
    repo = GitRepo.open(repo_path)
    ids = [e.commit for e in history(repo)]
    calls: list[object] = []

    def recorded(*args: object, **kwargs: object) -> Any:
        calls.append(args[0] if args else kwargs.get("args"))
        raise AssertionError("no program should run for unsigned commits")

    with monkeypatch.context() as patched:
        patched.setattr(subprocess, "run", recorded)
        patched.setattr(subprocess, "Popen", recorded)
        entries = with_signatures(repo, history(repo))
        assert [e.signature for e in entries] == ["none"] * 6 and calls == []
        assert {c.status for c in log_signatures(repo, ids).values()} == {"none"}
    # one signed commit, checked against allowed signers: the probe does see programs run
    keys = make_ssh_keys(tmp_path / "keys")
    sign_with(repo_path, keys.alice)
    client.create_secret(Name="signed", SecretString="value-s")
    git(repo_path, "config", "gpg.ssh.allowedSignersFile", str(keys.allowed))
    forget_config()
    with monkeypatch.context() as patched:
        patched.setattr(subprocess, "run", recorded)
        with pytest.raises(AssertionError):
            with_signatures(repo, history(repo))
    assert calls
    assert with_signatures(repo, history(repo))[0].signature == "good"


def test_signature_formats_are_read_without_programs(signed: Signed) -> None:
    raw = git(signed.path, "cat-file", "commit", signed.good[0])
    armor = "\n".join(
        line.removeprefix("gpgsig ").removeprefix(" ")
        for line in raw.split("\n\n", 1)[0].splitlines()
        if line.startswith(("gpgsig ", " "))
    ).encode()
    assert sigformat.kind(armor) == "ssh"
    assert sigformat.ssh_key(armor) == signed.keys.fingerprint(signed.keys.alice)
    assert sigformat.openpgp_issuer(armor) is None
    broken = armor.replace(b"U1NIU0lH", b"AAAAAAAA")
    assert sigformat.ssh_key(broken) is None
    assert sigformat.kind(b"-----BEGIN PGP SIGNATURE-----\n") == "openpgp"
    assert sigformat.kind(b"-----BEGIN SIGNED MESSAGE-----\n") == "x509"
    assert sigformat.kind(b"hello") == "unknown"
    assert sigformat.dearmor(b"-----BEGIN X-----\n!!!\n-----END X-----") is None
