"""Real signing keys for tests: ssh keys made with ``ssh-keygen``, an ``allowed_signers`` file, an
ssh-agent, and a GnuPG home with an OpenPGP key (skipped loudly when GnuPG is not installed)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitsm.gitrepo import identity, signing
from tests.conftest import git

ALICE, EVE = "alice@example.com", "eve@example.org"


@dataclass(frozen=True)
class SshKeys:
    """An allowed signer (alice), a stranger (eve), and an allowed_signers file naming alice."""

    alice: Path
    eve: Path
    allowed: Path

    def fingerprint(self, key: Path) -> str:
        """``ED25519 SHA256:...`` as ssh-keygen prints the key's fingerprint."""
        out = subprocess.run(
            ["ssh-keygen", "-l", "-f", f"{key}.pub"], capture_output=True, text=True, check=True
        ).stdout.split()
        return f"{out[-1].strip('()')} {out[1]}"


def make_ssh_keys(where: Path) -> SshKeys:
    """Two fresh ed25519 keys without passphrase, and an allowed_signers file for the first."""
    where.mkdir(parents=True, exist_ok=True)
    for name, comment in (("alice", ALICE), ("eve", EVE)):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(where / name)],
            check=True, capture_output=True,
        )  # fmt: skip
    allowed = where / "allowed_signers"
    public = (where / "alice.pub").read_text().strip()
    allowed.write_text(f'{ALICE} namespaces="git" {public}\n')
    return SshKeys(where / "alice", where / "eve", allowed)


def sign_with(path: Path, key: str | Path, fmt: str = "ssh") -> None:
    """Repository-local config: sign every commit with ``key`` (gpg.format ``fmt``)."""
    git(path, "config", "gpg.format", fmt)
    git(path, "config", "user.signingkey", str(key))
    git(path, "config", "commit.gpgsign", "true")
    forget_config()


def forget_config() -> None:
    """Drop what this process keeps of git's config: two config writes in one clock tick can
    leave a config file with the same size and time (a new process never sees that)."""
    signing.clear_cache()
    identity.clear_cache()


def tip(path: Path) -> str:
    """The commit the checked-out branch (or a bare repository's HEAD) points to."""
    return git(path, "rev-parse", "HEAD").strip()


def show_signature(path: Path, commit: str, allowed: Path) -> tuple[int, str]:
    """(exit code, output) of ``git verify-commit`` with ``allowed`` as the allowed signers."""
    proc = subprocess.run(
        ["git", "-c", f"gpg.ssh.allowedSignersFile={allowed}", "verify-commit", "-v", commit],
        cwd=path, capture_output=True, text=True,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


@dataclass(frozen=True)
class SshAgent:
    """A private ssh-agent this test started (its socket and process id)."""

    sock: str
    pid: int


@pytest.fixture
def ssh_agent(monkeypatch: pytest.MonkeyPatch) -> Iterator[SshAgent]:
    """An ssh-agent of the test's own, in SSH_AUTH_SOCK; stopped by its pid afterwards."""
    if shutil.which("ssh-agent") is None:
        pytest.skip("SKIPPED LOUDLY: ssh-agent is not installed (.ci/run installs openssh-client)")
    out = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
    values = dict(
        part.split("=", 1) for part in out.replace("\n", ";").split(";") if "=" in part
    )  # SSH_AUTH_SOCK=...; export ...; SSH_AGENT_PID=...;
    agent = SshAgent(values["SSH_AUTH_SOCK"].strip(), int(values["SSH_AGENT_PID"].strip()))
    monkeypatch.setenv("SSH_AUTH_SOCK", agent.sock)
    try:
        yield agent
    finally:
        os.kill(agent.pid, signal.SIGTERM)


@dataclass(frozen=True)
class GpgKey:
    """A GnuPG home (short path: gpg-agent's socket lives in it) holding one secret key."""

    home: Path
    fingerprint: str
    uid: str


def _gpg(home: Path, *args: str, data: bytes | None = None) -> bytes:
    env = {**os.environ, "GNUPGHOME": str(home)}
    return subprocess.run(
        ["gpg", "--batch", "--no-tty", *args], input=data, env=env, capture_output=True, check=True
    ).stdout


def new_gpg_key(uid: str) -> GpgKey:
    """A fresh GnuPG home with an ed25519 signing key for ``uid`` (no passphrase)."""
    home = Path(tempfile.mkdtemp(prefix="gitsm-gpg-"))
    home.chmod(0o700)
    _gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
    listing = _gpg(home, "--with-colons", "--list-secret-keys").decode()
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    return GpgKey(home, fpr, uid)


def export_key(key: GpgKey, where: Path, *, armor: bool) -> Path:
    """The key's public half as ``gpg --export`` writes it (``-a``: armored)."""
    where.write_bytes(_gpg(key.home, *(["-a"] if armor else []), "--export", key.fingerprint))
    return where


def drop_gpg_home(key: GpgKey) -> None:
    """Stop the gpg-agent of ``key``'s home (only that one) and remove the home."""
    subprocess.run(
        ["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(key.home)},
        capture_output=True, check=False,
    )  # fmt: skip
    shutil.rmtree(key.home, ignore_errors=True)


def need_gpg() -> None:
    """Skip, loudly, when GnuPG is not installed."""
    if shutil.which("gpg") is None or shutil.which("gpgconf") is None:
        pytest.skip(
            "SKIPPED LOUDLY: GnuPG (gpg, gpgconf) is not installed, so OpenPGP signing is not "
            "tested here (.ci/run installs the gnupg package)"
        )
