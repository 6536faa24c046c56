"""gitsm signs its commits when git's config asks for it (commit.gpgsign), as ``git commit -S``
would: checked with real ssh keys, ``git verify-commit`` and ``git log --show-signature``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import gitsm
from gitsm.errors import EXIT_ENVIRONMENT, SigningError
from gitsm.gitrepo import GitRepo
from gitsm.gitrepo.graph import Person
from gitsm.gitrepo.signing import SigningConfig, from_entries, parse_bool
from gitsm.store import SecretStore
from tests.conftest import git
from tests.signing_keys import (
    ALICE,
    SshAgent,
    SshKeys,
    forget_config,
    make_ssh_keys,
    show_signature,
    sign_with,
    ssh_agent,
    tip,
)

__all__ = ["ssh_agent"]  # a fixture, used by name

GITSM_BIN = Path(sys.executable).with_name("gitsm")
KMS = "arn:aws:kms:us-west-2:123456789012:key/EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"


@pytest.fixture
def keys(tmp_path: Path) -> SshKeys:
    return make_ssh_keys(tmp_path / "keys")


def signed_states(path: Path) -> list[str]:
    """``%G?`` of every commit on the branch, newest first (N: no signature)."""
    return git(path, "log", "--format=%G?").split()


def commit_objects(path: Path) -> set[str]:
    """Every commit object in the repository, reachable or not."""
    out = git(path, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)")
    return {line.split()[0] for line in out.splitlines() if line.endswith(" commit")}


def test_writes_are_signed_and_git_accepts_them(repo_path: Path, keys: SshKeys) -> None:
    before = tip(repo_path)
    sign_with(repo_path, keys.alice)
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="app/db", SecretString="first-value")
    client.update_secret(SecretId="app/db", SecretString="second-value")
    SecretStore.open(repo_path).create_key_alias("alias/team", [KMS])
    made = git(repo_path, "rev-list", f"{before}..HEAD").split()
    assert len(made) == 3
    for commit in made:
        code, out = show_signature(repo_path, commit, keys.allowed)
        assert code == 0, out
        assert f'Good "git" signature for {ALICE}' in out
        assert "gpgsig -----BEGIN SSH SIGNATURE-----" in git(repo_path, "cat-file", "-p", commit)
    allowed = f"gpg.ssh.allowedSignersFile={keys.allowed}"
    shown = git(repo_path, "-c", allowed, "log", "--show-signature", f"{before}..HEAD")
    assert shown.count(f'Good "git" signature for {ALICE} with ED25519 key') == 3
    states = git(repo_path, "-c", allowed, "log", "--format=%G? %GS", f"{before}..HEAD")
    assert states.splitlines() == [f"G {ALICE}"] * 3
    assert git(repo_path, "status", "--porcelain") == ""  # the work tree followed as before
    code, _ = show_signature(repo_path, before, keys.allowed)  # Init: written before signing
    assert code != 0 and signed_states(repo_path)[-1] == "N"


def test_a_stranger_signature_is_not_accepted_by_git(repo_path: Path, keys: SshKeys) -> None:
    sign_with(repo_path, keys.eve)
    gitsm.client(repo=repo_path).create_secret(Name="s", SecretString="value-one")
    code, out = show_signature(repo_path, tip(repo_path), keys.allowed)
    assert code != 0 and "No principal matched" in out


def test_without_gpgsign_commits_stay_unsigned(any_path: Path, keys: SshKeys) -> None:
    git(any_path, "config", "gpg.format", "ssh")
    git(any_path, "config", "user.signingkey", str(keys.alice))  # set, but signing not asked for
    forget_config()
    client = gitsm.client(repo=any_path)
    client.create_secret(Name="plain", SecretString="value-one")
    git(any_path, "config", "commit.gpgsign", "false")
    forget_config()
    client.put_secret_value(SecretId="plain", SecretString="value-two")
    assert signed_states(any_path) == ["N", "N", "N"]
    assert "gpgsig" not in git(any_path, "cat-file", "-p", "HEAD")


def test_a_key_that_cannot_sign_fails_the_write_and_writes_nothing(
    repo_path: Path, keys: SshKeys, tmp_path: Path
) -> None:
    client = gitsm.client(repo=repo_path)
    client.create_secret(Name="kept", SecretString="value-one")
    before, count = tip(repo_path), git(repo_path, "rev-list", "--count", "HEAD")
    missing = tmp_path / "no-such-key"
    sign_with(repo_path, missing)
    with pytest.raises(SigningError) as info:
        client.put_secret_value(SecretId="kept", SecretString="value-two")
    message = info.value.message
    assert str(missing) in message and "nothing was written" in message
    assert "commit.gpgsign false" in message  # says how to get out of it
    assert info.value.exit_code == EXIT_ENVIRONMENT
    assert tip(repo_path) == before and git(repo_path, "rev-list", "--count", "HEAD") == count
    assert git(repo_path, "status", "--porcelain") == ""
    assert client.get_secret_value(SecretId="kept")["SecretString"] == "value-one"


def test_the_cli_exits_253_when_signing_fails(repo_path: Path, tmp_path: Path) -> None:
    sign_with(repo_path, tmp_path / "absent")
    before = tip(repo_path)
    proc = subprocess.run(
        [str(GITSM_BIN), "--repo", str(repo_path), "create-secret", "--name", "n",
         "--secret-string", "value-that-must-not-show"], capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == EXIT_ENVIRONMENT, proc.stderr
    assert "could not sign the commit" in proc.stderr and "nothing was written" in proc.stderr
    assert "value-that-must-not-show" not in proc.stderr + proc.stdout
    assert tip(repo_path) == before


def test_a_key_in_ssh_agent_named_by_its_public_key(
    repo_path: Path, keys: SshKeys, ssh_agent: SshAgent
) -> None:
    subprocess.run(["ssh-add", "-q", str(keys.alice)], check=True, capture_output=True)
    public = Path(f"{keys.alice}.pub").read_text().strip()
    sign_with(repo_path, f"key::{public}")
    keys.alice.unlink()  # only the agent holds the private key now
    gitsm.client(repo=repo_path).create_secret(Name="agent", SecretString="value-one")
    code, out = show_signature(repo_path, tip(repo_path), keys.allowed)
    assert code == 0 and f"signature for {ALICE}" in out
    # the same key as a public key file: ssh-keygen finds the private half in the agent
    sign_with(repo_path, f"{keys.alice}.pub")
    gitsm.client(repo=repo_path).put_secret_value(SecretId="agent", SecretString="value-two")
    code, out = show_signature(repo_path, tip(repo_path), keys.allowed)
    assert code == 0 and f"signature for {ALICE}" in out


def test_a_literal_key_the_agent_lacks_fails_without_showing_the_key(
    repo_path: Path, keys: SshKeys, ssh_agent: SshAgent
) -> None:
    public = Path(f"{keys.eve}.pub").read_text().strip()
    sign_with(repo_path, f"key::{public}")
    before = tip(repo_path)
    with pytest.raises(SigningError) as info:
        gitsm.client(repo=repo_path).create_secret(Name="x", SecretString="value-one")
    assert "ssh-agent" in info.value.message
    assert public.split()[1] not in info.value.message  # never the key itself
    assert tip(repo_path) == before


def test_without_a_signing_key_the_default_key_command_names_one(
    repo_path: Path, keys: SshKeys, ssh_agent: SshAgent
) -> None:
    subprocess.run(["ssh-add", "-q", str(keys.alice)], check=True, capture_output=True)
    sign_with(repo_path, "")
    git(repo_path, "config", "--unset", "user.signingkey")
    git(repo_path, "config", "gpg.ssh.defaultKeyCommand", "ssh-add -L")
    forget_config()
    gitsm.client(repo=repo_path).create_secret(Name="default", SecretString="value-one")
    code, out = show_signature(repo_path, tip(repo_path), keys.allowed)
    assert code == 0 and f"signature for {ALICE}" in out
    git(repo_path, "config", "--unset", "gpg.ssh.defaultKeyCommand")
    forget_config()
    before = tip(repo_path)
    with pytest.raises(SigningError, match=r"user\.signingkey needs to be set for ssh signing"):
        gitsm.client(repo=repo_path).put_secret_value(SecretId="default", SecretString="value-2")
    assert tip(repo_path) == before


def test_a_missing_signing_program_fails_the_write(repo_path: Path, keys: SshKeys) -> None:
    sign_with(repo_path, keys.alice)
    git(repo_path, "config", "gpg.ssh.program", "/nonexistent/ssh-keygen")
    forget_config()
    before = tip(repo_path)
    with pytest.raises(SigningError, match="Could not run '/nonexistent/ssh-keygen'"):
        gitsm.client(repo=repo_path).create_secret(Name="p", SecretString="value-one")
    assert tip(repo_path) == before


def test_signing_is_asked_of_every_config_source(
    repo_path: Path, keys: SshKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIT_CONFIG_COUNT/KEY_n/VALUE_n (what ``git -c`` and CI runners use) turn signing on."""
    pairs = {"gpg.format": "ssh", "user.signingKey": str(keys.alice), "commit.gpgSign": "yes"}
    monkeypatch.setenv("GIT_CONFIG_COUNT", str(len(pairs)))
    for n, (key, value) in enumerate(pairs.items()):
        monkeypatch.setenv(f"GIT_CONFIG_KEY_{n}", key)
        monkeypatch.setenv(f"GIT_CONFIG_VALUE_{n}", value)
    gitsm.client(repo=repo_path).create_secret(Name="env", SecretString="value-one")
    code, out = show_signature(repo_path, tip(repo_path), keys.allowed)
    assert code == 0, out


def test_a_replayed_commit_is_signed(repo_path: Path, keys: SshKeys, tmp_path: Path) -> None:
    """sync writes replayed commits with ``write_commit``: they are signed like any write."""
    sign_with(repo_path, keys.alice)
    repo = GitRepo.open(repo_path)
    someone = Person("Ada", "ada@example.com", 1_900_000_000, 60)
    new = repo.write_commit(repo.tip(), {"notes/a.txt": b"a\n"}, "Replayed\n", someone, someone)
    assert new.commit_id is not None and tip(repo_path) != new.commit_id  # no ref moved
    code, out = show_signature(repo_path, new.commit_id, keys.allowed)
    assert code == 0 and f"signature for {ALICE}" in out
    assert git(repo_path, "log", "-1", "--format=%an %ae %at", new.commit_id) == (
        "Ada ada@example.com 1900000000\n"
    )
    sign_with(repo_path, tmp_path / "gone")
    before = commit_objects(repo_path)
    with pytest.raises(SigningError):
        repo.write_commit(repo.tip(), {"notes/b.txt": b"b\n"}, "Replayed\n", someone, someone)
    assert commit_objects(repo_path) == before  # no commit object, signed or not


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, True), ("true", True), ("YES", True), ("on", True), ("1", True), ("-3", True),
     ("false", False), ("no", False), ("Off", False), ("0", False), ("", False)],
)  # fmt: skip
def test_booleans_read_as_git_reads_them(value: str | None, expected: bool) -> None:
    assert parse_bool(value, "commit.gpgsign") is expected


def test_bad_config_values_fail_the_write_clearly(repo_path: Path) -> None:
    git(repo_path, "config", "commit.gpgsign", "maybe")
    forget_config()
    before = tip(repo_path)
    with pytest.raises(
        SigningError, match=r"Bad boolean config value 'maybe' for 'commit\.gpgsign'"
    ):
        gitsm.client(repo=repo_path).create_secret(Name="b", SecretString="value-one")
    git(repo_path, "config", "commit.gpgsign", "true")
    git(repo_path, "config", "gpg.format", "pgp")
    forget_config()
    with pytest.raises(SigningError, match=r"Invalid value for 'gpg\.format'"):
        gitsm.client(repo=repo_path).create_secret(Name="b", SecretString="value-one")
    assert tip(repo_path) == before


def test_config_entries_follow_git_rules(tmp_path: Path) -> None:
    config = from_entries(
        [("commit.gpgsign", None), ("gpg.format", "SSH"), ("gpg.program", "gpg2"),
         ("gpg.openpgp.program", "gpg3"), ("gpg.ssh.allowedsignersfile", "~/allowed"),
         ("gpg.ssh.revocationfile", "revoked"), ("user.signingkey", "")],
        tmp_path,
    )  # fmt: skip
    assert config.sign and config.format == "ssh" and config.program == "ssh-keygen"
    assert config.openpgp_program == "gpg3" and config.key is None  # the later name wins
    assert config.allowed_signers == str(Path("~/allowed").expanduser())
    assert config.revocation_file == str(tmp_path / "revoked")
    assert from_entries([], tmp_path) == SigningConfig(sign=False)
    assert from_entries([("gpg.format", "x509")], tmp_path).program == "gpgsm"


def test_the_signing_bench_runs(tmp_path: Path) -> None:
    """bench/bench_signing.py --quick prints each figure (it asserts no timing)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITSM_", "GNUPG"))}
    env.update(GITSM_HOME=str(tmp_path / "home"), GITSM_FSYNC="0", HOME=str(tmp_path))
    bench = Path(__file__).resolve().parent.parent / "bench" / "bench_signing.py"
    proc = subprocess.run(
        [sys.executable, str(bench), "--quick"], capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for label in ("[config]", "[library] unsigned", "[library] ssh, key file", "[cli] unsigned",
                  "[cli] ssh, key file"):  # fmt: skip
        assert any(
            line.startswith(label) and "ms/write" in line for line in proc.stdout.splitlines()
        )
