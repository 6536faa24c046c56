"""Checking one commit signature with the programs git uses: ``ssh-keygen`` and ``gpg``.

ssh, as ``git verify-commit`` does with ``gpg.ssh.allowedSignersFile``: ``ssh-keygen -Y
find-principals -f <allowed_signers> -s <sig>`` names the principals the key is allowed for, then
``ssh-keygen -Y verify -n git -f <allowed_signers> -I <principal> -s <sig>`` (with ``-r`` for a
revocation file) checks the signature over the signed data on stdin, both at the commit's committer
time (``-Overify-time``, which the ``valid-after``/``valid-before`` options of the file are checked
against). When no allowed principal verifies it, ``ssh-keygen -Y check-novalidate`` tells a sound
signature by a key that is not allowed from a broken one.

OpenPGP: ``gpg --status-fd=1 --verify <sig> -`` against a GnuPG home (``GNUPGHOME``) or a keyring
file; the status lines decide (GOODSIG/VALIDSIG good; BADSIG bad; EXPSIG, EXPKEYSIG, REVKEYSIG,
TRUST_NEVER sound but not allowed; ERRSIG/NO_PUBKEY a key not in the keyring). Every public key in
the keyring is an allowed signer: its owner trust is not consulted, only an explicit ``never``.

Nothing here writes to the repository or prints a key; temporary files live in a private directory
removed after each check.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from dataclasses import replace as _replace
from pathlib import Path
from urllib.parse import unquote

from gitsm import sigformat
from gitsm.gitenv import git_env

VERIFY_TIMEOUT = 60.0


@dataclass(frozen=True)
class SignatureCheck:
    """What is known about one commit's signature.

    ``kind`` is None for an unsigned commit, else ``ssh``, ``openpgp``, ``x509`` or ``unknown``.
    ``key`` names the signing key (``ED25519 SHA256:...`` or an OpenPGP fingerprint or key id);
    ``signer`` who it belongs to (the ssh principal, the OpenPGP user id) once verified. ``valid``
    says whether the signature matches the commit (None: not checked); ``checked`` whether it was
    compared against allowed signers at all; ``allowed`` whether it is valid and made by an allowed
    signer. ``detail`` says why a signed commit is not good.
    """

    commit: str
    kind: str | None = None
    key: str | None = None
    signer: str | None = None
    valid: bool | None = None
    checked: bool = False
    allowed: bool = False
    detail: str = ""

    @property
    def signed(self) -> bool:
        """True when the commit carries a signature."""
        return self.kind is not None

    @property
    def status(self) -> str:
        """``none`` (unsigned), ``good`` (valid, by an allowed signer), ``bad`` (does not match
        the commit), ``untrusted`` (not by an allowed signer) or ``unverified`` (not checked)."""
        if self.kind is None:
            return "none"
        if self.valid is False:
            return "bad"
        if self.allowed:
            return "good"
        return "untrusted" if self.checked else "unverified"

    @property
    def who(self) -> str:
        """The signer and key as one phrase (``alice@example.com (ED25519 SHA256:...)``)."""
        if self.signer and self.key:
            return f"{self.signer} ({self.key})"
        return self.signer or self.key or "an unknown key"


class CannotVerify(Exception):
    """A verifying program could not be run."""


def signer_key(commit: str, signature: bytes) -> SignatureCheck:
    """What the signature itself says (its kind and key), unchecked."""
    found = sigformat.kind(signature)
    key = None
    if found == sigformat.SSH:
        key = sigformat.ssh_key(signature)
    elif found == sigformat.OPENPGP:
        key = sigformat.openpgp_issuer(signature)
    return SignatureCheck(commit, found, key)


def _run(args: list[str], stdin: bytes | None, env: dict[str, str] | None = None) -> tuple[
    int, bytes, bytes
]:  # fmt: skip
    try:
        proc = subprocess.run(
            args, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True, env=env or git_env(), timeout=VERIFY_TIMEOUT, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        why = "timed out" if isinstance(exc, subprocess.TimeoutExpired) else exc.strerror or exc
        raise CannotVerify(f"could not run {args[0]} ({why})") from None
    return proc.returncode, proc.stdout, proc.stderr


def _first_line(err: bytes) -> str:
    lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[0][:200] if lines else "no output"


def verify_ssh(
    base: SignatureCheck,
    signature: bytes,
    payload: bytes,
    committer_time: int,
    allowed_file: str,
    revocation_file: str | None = None,
    program: str = "ssh-keygen",
) -> SignatureCheck:
    """``base`` (from :func:`signer_key`) checked against an ssh ``allowed_signers`` file."""
    when = "-Overify-time=" + time.strftime("%Y%m%d%H%M%S", time.localtime(committer_time))
    with tempfile.TemporaryDirectory(prefix="gitsm-verify-") as tmp:
        sig_file = str(Path(tmp) / "commit.sig")
        Path(sig_file).write_bytes(signature)
        try:
            find = [program, "-Y", "find-principals", "-f", allowed_file, "-s", sig_file, when]
            code, out, _ = _run(find, None)
            principals = out.decode("utf-8", "replace").split() if code == 0 else []
            refused = ""
            for principal in principals:
                args = [program, "-Y", "verify", "-n", "git", "-f", allowed_file, "-I", principal,
                        "-s", sig_file, when]  # fmt: skip
                args += ["-r", revocation_file] if revocation_file else []
                code, out, err = _run(args, payload)
                if code == 0 and out.startswith(b"Good"):
                    return _replace(base, signer=principal, valid=True, checked=True, allowed=True)
                refused = refused or _first_line(err or out)
            check = [program, "-Y", "check-novalidate", "-n", "git", "-s", sig_file]
            code, out, err = _run(check, payload)
        except CannotVerify as exc:
            return _replace(base, detail=f"{exc}: install OpenSSH 8.2p1 or newer")
    signer = principals[0] if principals else None
    if code != 0 or b"Good" not in out + err:
        return _replace(base, signer=signer, valid=False, checked=True,
                        detail="the signature does not match the commit")  # fmt: skip
    if principals:
        why = f"its key is allowed for {', '.join(principals)} but was refused ({refused})"
    else:
        why = "its key is not in the allowed signers file"
    return _replace(base, valid=True, checked=True, detail=why)


def verify_openpgp(
    base: SignatureCheck,
    signature: bytes,
    payload: bytes,
    *,
    gnupg_home: str | None = None,
    keyring: str | None = None,
    program: str = "gpg",
) -> SignatureCheck:
    """``base`` checked with ``gpg --verify`` against a GnuPG home (None: the user's own) or a
    binary keyring file (read through a throwaway GnuPG home)."""
    env = git_env()
    with tempfile.TemporaryDirectory(prefix="gitsm-verify-") as tmp:
        sig_file = Path(tmp) / "commit.sig"
        sig_file.write_bytes(signature)
        args = [program, "--batch", "--no-tty", "--status-fd=1", "--keyid-format=long"]
        if keyring is not None:
            home = Path(tmp) / "gnupg"
            home.mkdir(mode=0o700)
            env["GNUPGHOME"] = str(home)
            args += ["--no-default-keyring", "--keyring", str(Path(keyring).resolve())]
        elif gnupg_home is not None:
            env["GNUPGHOME"] = gnupg_home
        try:
            _, out, _ = _run([*args, "--verify", str(sig_file), "-"], payload, env)
        except CannotVerify as exc:
            return _replace(base, detail=f"{exc}: install GnuPG or set gpg.program")
    return _read_status(base, out.decode("utf-8", "replace"))


def _read_status(base: SignatureCheck, status: str) -> SignatureCheck:
    """A check from ``gpg --status-fd`` lines (the first signature's)."""
    fields: dict[str, str] = {}
    for line in status.splitlines():
        if line.startswith("[GNUPG:] "):
            word, _, rest = line[len("[GNUPG:] ") :].partition(" ")
            fields.setdefault(word, rest)
    key = base.key
    if "VALIDSIG" in fields:
        key = fields["VALIDSIG"].split(" ", 1)[0] or key
    for word, why in (
        ("EXPSIG", "the signature has expired"),
        ("EXPKEYSIG", "the key has expired"),
        ("REVKEYSIG", "the key has been revoked"),
    ):
        if word in fields:
            uid = unquote(fields[word].partition(" ")[2]) or None
            return _replace(base, key=key, signer=uid, valid=True, checked=True, detail=why)
    if "BADSIG" in fields:
        uid = unquote(fields["BADSIG"].partition(" ")[2]) or None
        return _replace(base, signer=uid, valid=False, checked=True,
                        detail="the signature does not match the commit")  # fmt: skip
    if "GOODSIG" in fields:
        uid = unquote(fields["GOODSIG"].partition(" ")[2]) or None
        if "TRUST_NEVER" in fields:
            return _replace(base, key=key, signer=uid, valid=True, checked=True,
                            detail="the key is marked as never to be trusted")  # fmt: skip
        return _replace(base, key=key, signer=uid, valid=True, checked=True, allowed=True)
    if "NO_PUBKEY" in fields or "ERRSIG" in fields:
        return _replace(base, checked=True, detail="its key is not in the keyring")
    return _replace(base, detail="gpg gave no verdict (is GnuPG installed and the home readable?)")
