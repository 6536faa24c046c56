"""Who signed a store's commits, and whether they were allowed to.

A pushed commit is only as trustworthy as its signer: anyone who can push can write a commit that
looks like a gitsm operation. When writers sign (``commit.gpgsign``; gitsm signs its own commits
as ``git commit -S`` does, see :mod:`gitsm.gitrepo.signing`), a reader can require that every
commit of a range carries a good signature by an allowed signer:

* :func:`check_signatures`: per commit, signed or not, the kind and key, the signer (ssh principal
  or OpenPGP user id), whether the signature matches the commit and whether its signer is allowed;
* :func:`signature_problems`: the same as :class:`gitsm.verify.Problem` entries (``path`` is the
  commit id): an unsigned commit, a signature that does not match, or a signer not allowed;
* :func:`log_signatures`: what ``gitsm log`` shows, checked the way ``git log --show-signature``
  checks (the repository's ``gpg.ssh.allowedSignersFile``, the user's GnuPG keyring).

Allowed signers (:class:`AllowedSigners`) are an ssh ``allowed_signers`` file as ``ssh-keygen -Y
verify -f`` reads it (``alice@example.com namespaces="git" ssh-ed25519 AAAA...``), and/or a GnuPG
home directory, keyring file or exported public keys (``gpg --export [-a]``) whose every key is an
allowed OpenPGP signer. Checking runs ``ssh-keygen``/``gpg`` only for signed commits, a few at a
time.

Wiring ``gitsm verify --range A..B --require-signed --allowed-signers FILE`` (the verify command's
owner adds the options)::

    from gitsm.signatures import commits_in_range, signature_problems

    commits = commits_in_range(repo_path, "A..B")        # oldest first, as git rev-list A..B
    problems += signature_problems(repo_path, commits, FILE)

and report them with the other problems (one line each, ``<commit id>: <problem> (<fix>)``); a
bad or missing signature should fail the command as any other problem does.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from gitsm import sigformat
from gitsm.errors import StoreError
from gitsm.gitenv import git_env
from gitsm.gitrepo import GitRepo
from gitsm.gitrepo.graph import SignedData
from gitsm.history import HistoryEntry
from gitsm.problems import Problem
from gitsm.sigverify import SignatureCheck, signer_key, verify_openpgp, verify_ssh

__all__ = [
    "AllowedSigners",
    "SignatureCheck",
    "check_signatures",
    "commits_in_range",
    "log_signatures",
    "signature_problems",
    "with_signatures",
]

WORKERS = 4
_ARMORED_KEYS = b"-----BEGIN PGP PUBLIC KEY BLOCK-----"
_KEY_PACKETS = (0x98, 0x99, 0x9A, 0xC6)  # a public-key packet, old and new packet formats


@dataclass(frozen=True)
class AllowedSigners:
    """Whose signatures are allowed: an ssh ``allowed_signers`` file (with an optional revocation
    file) and/or GnuPG public keys (a home directory, or a keyring or exported-keys file).
    ``user_gnupg`` uses the user's own GnuPG home, as ``git log --show-signature`` does."""

    ssh_file: Path | None = None
    ssh_revocation_file: Path | None = None
    gnupg_home: Path | None = None
    gnupg_keyring: Path | None = None
    user_gnupg: bool = False
    ssh_program: str = "ssh-keygen"
    gpg_program: str = "gpg"

    @classmethod
    def from_path(cls, path: str | Path) -> AllowedSigners:
        """Allowed signers from one path: a directory is a GnuPG home; a file of OpenPGP keys
        (binary keyring, keybox, or ``gpg --export -a`` armor) a keyring; anything else an ssh
        ``allowed_signers`` file. Raises StoreError when the path does not exist."""
        where = Path(path)
        if where.is_dir():
            return cls(gnupg_home=where)
        try:
            with where.open("rb") as fh:
                head = fh.read(64)
        except OSError as exc:
            raise StoreError(
                f"Cannot read the allowed signers file {where} ({exc.strerror or exc}): name an "
                "ssh allowed_signers file, a GnuPG home directory or a file of OpenPGP public keys."
            ) from None
        if head.lstrip().startswith(_ARMORED_KEYS) or head[8:12] == b"KBXf" or _packets(head):
            return cls(gnupg_keyring=where)
        return cls(ssh_file=where)

    @classmethod
    def from_git_config(cls, repo: GitRepo) -> AllowedSigners:
        """What git checks signatures against in ``repo``: ``gpg.ssh.allowedSignersFile`` (and
        ``gpg.ssh.revocationFile``) when set and present, and the user's GnuPG keyring."""
        config = repo.signing_config()
        ssh = Path(config.allowed_signers) if config.allowed_signers else None
        revoked = Path(config.revocation_file) if config.revocation_file else None
        return cls(
            ssh_file=ssh if ssh is not None and ssh.is_file() else None,
            ssh_revocation_file=revoked if revoked is not None and revoked.is_file() else None,
            user_gnupg=True,
            ssh_program=config.ssh_program,
            gpg_program=config.openpgp_program,
        )

    def describe(self) -> str:
        """Where the allowed signers are, for messages."""
        places = [str(p) for p in (self.ssh_file, self.gnupg_home, self.gnupg_keyring) if p]
        return " and ".join(places) or "the allowed signers"


def _packets(head: bytes) -> bool:
    """True when ``head`` starts like a binary OpenPGP keyring (a public-key packet), not text."""
    if not head or head[0] not in _KEY_PACKETS:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _repo(repo: GitRepo | str | Path) -> GitRepo:
    return repo if isinstance(repo, GitRepo) else GitRepo.open(repo)


def _source(allowed: AllowedSigners | str | Path | None) -> AllowedSigners:
    if allowed is None:
        return AllowedSigners()
    return allowed if isinstance(allowed, AllowedSigners) else AllowedSigners.from_path(allowed)


def commits_in_range(repo: GitRepo | str | Path, spec: str) -> list[str]:
    """The commits of ``A..B`` (reachable from B, not from A) or of ``B`` (every commit reachable
    from it), oldest first, as full ids. Raises StoreError for a revision that names no commit."""
    git = _repo(repo)
    if "..." in spec:
        raise StoreError(f"{spec!r}: symmetric ranges (A...B) are not supported; use A..B.")
    base, dots, tip = spec.partition("..")
    if not dots:
        return git.commits_between(None, git.resolve_commit(spec))
    return git.commits_between(
        git.resolve_commit(base or "HEAD"), git.resolve_commit(tip or "HEAD")
    )


@contextlib.contextmanager
def _gnupg(source: AllowedSigners) -> Iterator[tuple[str | None, str | None, str]]:
    """(GnuPG home, keyring file, why not usable or "") for ``gpg --verify``; exported armored
    keys are imported once into a throwaway home."""
    if source.gnupg_home is not None:
        yield str(source.gnupg_home), None, ""
        return
    keyring = source.gnupg_keyring
    if keyring is None:
        yield None, None, "" if source.user_gnupg else "no GnuPG keyring to check it against"
        return
    with keyring.open("rb") as fh:
        armored = fh.read(64).lstrip().startswith(_ARMORED_KEYS)
    if not armored:
        yield None, str(keyring), ""
        return
    with tempfile.TemporaryDirectory(prefix="gitsm-keys-") as tmp:
        env = {**git_env(), "GNUPGHOME": tmp}
        args = [source.gpg_program, "--batch", "--no-tty", "--quiet", "--import", str(keyring)]
        try:
            proc = subprocess.run(args, env=env, capture_output=True, check=False, timeout=60)
            why = "" if proc.returncode == 0 else (
                f"gpg could not read the keys in {keyring}: "
                + (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[0]
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = f"could not run {source.gpg_program} ({type(exc).__name__}): install GnuPG"
        yield tmp, None, why


def _check_one(
    data: SignedData, source: AllowedSigners, gnupg: tuple[str | None, str | None, str]
) -> SignatureCheck:
    base = signer_key(data.commit_id, data.signature)
    if base.kind == sigformat.SSH:
        if source.ssh_file is None:
            return replace(base, detail="no ssh allowed signers file to check it against")
        revoked = str(source.ssh_revocation_file) if source.ssh_revocation_file else None
        return verify_ssh(base, data.signature, data.payload, data.committer_time,
                          str(source.ssh_file), revoked, source.ssh_program)  # fmt: skip
    if base.kind == sigformat.OPENPGP:
        home, keyring, why = gnupg
        if why:
            return replace(base, detail=why)
        return verify_openpgp(base, data.signature, data.payload, gnupg_home=home,
                              keyring=keyring, program=source.gpg_program)  # fmt: skip
    if base.kind == sigformat.X509:
        return replace(base, detail="gitsm does not check x509 signatures (git verify-commit does)")
    return replace(base, detail="the signature is of a kind gitsm does not know")


def _check_all(
    signed: Sequence[tuple[str, SignedData | None]], source: AllowedSigners
) -> list[SignatureCheck]:
    work = [data for _, data in signed if data is not None]
    done: dict[str, SignatureCheck] = {}
    if work:
        with _gnupg(source) as gnupg, ThreadPoolExecutor(min(WORKERS, len(work))) as pool:
            for check in pool.map(lambda d: _check_one(d, source, gnupg), work):
                done[check.commit] = check
    return [done.get(commit) or SignatureCheck(commit) for commit, _ in signed]


def check_signatures(
    repo: GitRepo | str | Path,
    commits: Iterable[str],
    allowed: AllowedSigners | str | Path | None = None,
) -> list[SignatureCheck]:
    """One :class:`SignatureCheck` per commit (any revision; reported by full id), in order.

    ``allowed`` is an :class:`AllowedSigners` or a path for :meth:`AllowedSigners.from_path`;
    with None, signed commits are reported ``unverified`` with their key. Raises StoreError for a
    revision that names no commit or an allowed-signers path that cannot be read.
    """
    git, source = _repo(repo), _source(allowed)
    ids = [git.resolve_commit(c) for c in commits]
    return _check_all([(c, git.signed_data(c)) for c in ids], source)


def log_signatures(repo: GitRepo, commits: Sequence[str]) -> dict[str, SignatureCheck]:
    """Each commit's signature as ``gitsm log`` shows it (full commit ids): ssh signatures checked
    against the repository's ``gpg.ssh.allowedSignersFile`` when it is set, OpenPGP ones with the
    user's GnuPG, as ``git log --show-signature`` does; otherwise ``unverified`` with the signer's
    key. No program runs for an unsigned commit, and git's config is read only when one is signed.
    """
    signed = [(c, repo.signed_data(c)) for c in commits]
    if all(data is None for _, data in signed):
        return {c: SignatureCheck(c) for c in commits}
    checks = _check_all(signed, AllowedSigners.from_git_config(repo))
    return {check.commit: check for check in checks}


UNSIGNED_FIX = (
    "sign every commit of the store: git config commit.gpgsign true, with gpg.format and "
    "user.signingkey (gitsm signs as git does); redo this commit's operation signed, or re-sign "
    "commits not yet pushed with git rebase --exec 'git commit --amend --no-edit -S' <base>"
)
BAD_FIX = (
    "do not trust this commit: it was changed after it was signed, or the signature is forged; "
    "reset the branch to the last good commit and find out who pushed it"
)


def _problem(check: SignatureCheck, source: AllowedSigners) -> Problem:
    status = check.status
    if status == "none":
        return Problem(check.commit, "is not signed", UNSIGNED_FIX)
    if status == "bad":
        return Problem(
            check.commit, f"has a signature ({check.kind}, {check.who}) that does not match the "
            "commit", BAD_FIX,
        )  # fmt: skip
    if status == "untrusted":
        return Problem(
            check.commit,
            f"is signed by {check.who}, which is not an allowed signer ({check.detail})",
            f"if that key belongs to a writer you trust, add it to {source.describe()}; "
            "otherwise treat the commit as forged",
        )
    return Problem(
        check.commit,
        f"is signed ({check.kind}, {check.who}) but the signature could not be checked "
        f"({check.detail})",
        "give allowed signers for this kind of key (an ssh allowed_signers file, or GnuPG public "
        "keys), or sign with a key that is in them",
    )


def signature_problems(
    repo_path: GitRepo | str | Path,
    commits: Iterable[str],
    allowed_signers: AllowedSigners | str | Path,
) -> list[Problem]:
    """One :class:`gitsm.verify.Problem` (``path``: the commit id) per commit of ``commits`` that
    is unsigned, has a signature that does not match it, is signed by someone not allowed, or
    cannot be checked; nothing for a commit with a good signature by an allowed signer."""
    source = _source(allowed_signers)
    checks = check_signatures(repo_path, commits, source)
    return [_problem(check, source) for check in checks if check.status != "good"]


def with_signatures(repo: GitRepo, entries: Iterable[HistoryEntry]) -> list[HistoryEntry]:
    """``entries`` with each commit's signature status and signer, checked as ``git log
    --show-signature`` checks (:func:`gitsm.signatures.log_signatures`): no program runs for an
    unsigned commit."""
    entries = list(entries)
    checks = log_signatures(repo, [e.commit for e in entries])
    out = []
    for entry in entries:
        check = checks[entry.commit]
        signer = check.who if check.signed else ""
        out.append(replace(entry, signature=check.status, signer=signer))
    return out
