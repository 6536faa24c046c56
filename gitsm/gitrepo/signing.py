"""Signing gitsm's commits as ``git commit -S`` would, when git's config asks for it.

git signs every commit when ``commit.gpgsign`` is true. gitsm asks git for that and for the keys
that say how (``gpg.format``, ``user.signingkey``, ``gpg.program``/``gpg.openpgp.program``,
``gpg.x509.program``, ``gpg.ssh.program``, ``gpg.ssh.defaultKeyCommand``, and for checking,
``gpg.ssh.allowedSignersFile``/``gpg.ssh.revocationFile``) with one ``git config --get-regexp``,
so every config source git reads counts: system, global, repository, worktree, includes,
GIT_CONFIG_COUNT/KEY_n/VALUE_n and ``git -c``. The answer is kept per process under the same key as
the identities (:func:`gitsm.gitrepo.identity.cache_key`), so a write pays that ``git`` run only
when the config or the environment changed (and, where that key can tell, the next process reuses
the answer: :mod:`gitsm.gitrepo.answers`).

The commit's text is built with pygit2, handed to git's own signing program exactly as git runs it,
and the signature stored in the commit's ``gpgsig`` header:

* ``openpgp`` (the default): ``gpg --status-fd=2 -bsau <key>`` with the text on stdin; without
  ``user.signingkey`` the key is the committer's ``Name <email>``, as in git. ``x509`` is the same
  through ``gpgsm``.
* ``ssh``: ``ssh-keygen -Y sign -n git -f <key file> <text file>``. ``user.signingkey`` is a private
  key file, a public key file whose private half is in ssh-agent, or a literal public key
  (``key::ssh-ed25519 AAAA...``, signed with ``-U``: ssh-agent holds the private key); without it,
  the first line ``gpg.ssh.defaultKeyCommand`` prints.

gpg-agent and ssh-agent work as they do for git. ssh-keygen gets no stdin (a passphrase is asked on
the terminal, if there is one), so it can never read a value piped to gitsm. A signing failure
raises SigningError before the commit object exists, so the branch never moves to an unsigned
commit when signing was asked for. Errors name the key file or key id, never a key.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitsm.errors import SigningError, StoreError
from gitsm.gitenv import finish_git, git_env, run_git, start_git
from gitsm.gitrepo import answers
from gitsm.gitrepo.identity import CacheKey, cache_key, keepable

CONFIG_KEYS = (
    "commit.gpgsign",
    "user.signingkey",
    "gpg.format",
    "gpg.program",
    "gpg.openpgp.program",
    "gpg.x509.program",
    "gpg.ssh.program",
    "gpg.ssh.defaultkeycommand",
    "gpg.ssh.allowedsignersfile",
    "gpg.ssh.revocationfile",
)
"""The config keys gitsm reads for signing (git reports them in lower case)."""

FORMATS = ("openpgp", "x509", "ssh")
GIT_CONFIG_TIMEOUT = 10.0
NOT_WRITTEN = "nothing was written"
TURN_OFF = "or turn signing off with 'git config commit.gpgsign false'"
_REGEXP = "^(" + "|".join(k.replace(".", r"\.") for k in CONFIG_KEYS) + ")$"
_CACHE_MAX = 64

ConfigEntries = list[tuple[str, str | None]]
"""(lower-case key, value) in the order git reads them; None for a key written without ``=``."""


@dataclass(frozen=True)
class SigningConfig:
    """What git's config says about signing commits and checking ssh signatures."""

    sign: bool = False
    format: str = "openpgp"
    key: str | None = None
    openpgp_program: str = "gpg"
    x509_program: str = "gpgsm"
    ssh_program: str = "ssh-keygen"
    default_key_command: str | None = None
    allowed_signers: str | None = None
    """``gpg.ssh.allowedSignersFile`` (``~`` expanded; relative to the work tree or git dir)."""
    revocation_file: str | None = None

    @property
    def program(self) -> str:
        """The signing program of the configured format."""
        return {"ssh": self.ssh_program, "x509": self.x509_program}.get(
            self.format, self.openpgp_program
        )


_cache: dict[CacheKey, SigningConfig] = {}


def parse_bool(value: str | None, key: str) -> bool:
    """A git boolean (``true``/``yes``/``on``/a non-zero number, or a key with no value)."""
    if value is None:
        return True
    low = value.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off", ""):
        return False
    try:
        return int(low) != 0
    except ValueError:
        raise SigningError(
            f"Bad boolean config value {value!r} for '{key}': set it to true or false "
            f"(git config {key} true); {NOT_WRITTEN}."
        ) from None


def _path(value: str | None, base: Path) -> str | None:
    """A pathname config value as git reads it: ``~`` expanded, relative to ``base``."""
    if not value:
        return None
    return str(base / os.path.expanduser(value))


def from_entries(entries: ConfigEntries, base: Path) -> SigningConfig:
    """The signing config that ``entries`` (last one wins) describe; ``base`` anchors paths."""
    values: dict[str, str | None] = {}
    for key, value in entries:
        if key in ("gpg.program", "gpg.openpgp.program"):
            key = "gpg.openpgp.program"  # two names for one setting: the later one wins
        values[key] = value
    sign = "commit.gpgsign" in values and parse_bool(values["commit.gpgsign"], "commit.gpgsign")
    fmt = (values.get("gpg.format") or "openpgp").lower()
    if sign and fmt not in FORMATS:
        raise SigningError(
            f"Invalid value for 'gpg.format': {fmt!r}. Use openpgp, x509 or ssh "
            f"(git config gpg.format ssh), {TURN_OFF}; {NOT_WRITTEN}."
        )
    return SigningConfig(
        sign=sign,
        format=fmt,
        key=values.get("user.signingkey") or None,
        openpgp_program=values.get("gpg.openpgp.program") or "gpg",
        x509_program=values.get("gpg.x509.program") or "gpgsm",
        ssh_program=values.get("gpg.ssh.program") or "ssh-keygen",
        default_key_command=values.get("gpg.ssh.defaultkeycommand") or None,
        allowed_signers=_path(values.get("gpg.ssh.allowedsignersfile"), base),
        revocation_file=_path(values.get("gpg.ssh.revocationfile"), base),
    )


_pending: dict[CacheKey, subprocess.Popen[bytes]] = {}
"""``git config`` runs started by :func:`prefetch`, answered by the next :func:`signing_config`."""
_CONFIG_ARGS = ["config", "-z", "--get-regexp", _REGEXP]
_recalled: dict[CacheKey, ConfigEntries] = {}
"""Entries :func:`prefetch` found kept by an earlier process, for the next :func:`signing_config`."""


def prefetch(gitdir: Path, key: CacheKey | None = None) -> None:
    """Start asking git for the signing config of ``gitdir`` now, so that its answer is there by
    the time the commit is written (a write asks git for its identities meanwhile: the runs
    overlap instead of following each other). Nothing happens when it is known already.
    ``key``: :func:`~gitsm.gitrepo.identity.cache_key` of ``gitdir`` when the caller has it."""
    key = key or cache_key(gitdir)
    if key in _cache or key in _pending or key in _recalled or shutil.which("git") is None:
        return
    entries = _recall(gitdir, key)
    if entries is not None:
        if len(_recalled) >= _CACHE_MAX:
            _recalled.clear()
        _recalled[key] = entries
        return
    with contextlib.suppress(OSError):  # signing_config runs git itself and says what failed
        _pending[key] = start_git(_CONFIG_ARGS, git_dir=gitdir, cwd=gitdir, errors=True)


def _answer(key: CacheKey, gitdir: Path) -> subprocess.CompletedProcess[bytes]:
    started = _pending.pop(key, None)
    if started is None:
        return run_git(_CONFIG_ARGS, git_dir=gitdir, cwd=gitdir, timeout=GIT_CONFIG_TIMEOUT)
    return finish_git(started, GIT_CONFIG_TIMEOUT)


def _ask_git(gitdir: Path, key: CacheKey) -> ConfigEntries | None:
    """The signing keys of every config source, as ``git config`` reads them; None without git."""
    if shutil.which("git") is None:
        return None
    try:
        proc = _answer(key, gitdir)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StoreError(
            f"git config did not answer ({type(exc).__name__}), so gitsm cannot tell whether "
            f"commits must be signed. Run 'git config --get-regexp gpg' in {gitdir} to see why; "
            f"{NOT_WRITTEN}."
        ) from None
    if proc.returncode not in (0, 1):  # 1: none of the keys is set
        why = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise StoreError(
            f"git cannot read its config ({why[0] if why else 'git config failed'}), so gitsm "
            f"cannot tell whether commits must be signed. Fix the config file git names; "
            f"{NOT_WRITTEN}."
        )
    entries: ConfigEntries = []
    for item in proc.stdout.split(b"\0"):
        if not item:
            continue
        name, sep, value = item.partition(b"\n")
        entries.append(
            (name.decode("ascii", "replace").lower(), os.fsdecode(value) if sep else None)
        )
    return entries


def signing_config(
    gitdir: Path, workdir: Path | None, fallback: Callable[[], ConfigEntries]
) -> SigningConfig:
    """The signing config of the repository at ``gitdir``, kept per process.

    ``fallback`` gives the entries when git is not installed (the config as libgit2 reads it).
    Raises SigningError when a value is unusable (a bad boolean, an unknown format) and StoreError
    when git cannot read its config at all.
    """
    key = cache_key(gitdir)
    kept = _cache.get(key)
    if kept is not None:
        return kept
    entries = _recalled.pop(key, None)
    if entries is None and key not in _pending:
        entries = _recall(gitdir, key)
    if entries is None:
        entries = _ask_git(gitdir, key)
        if entries is not None and keepable(gitdir):
            answers.keep(gitdir, key, "signing", [list(entry) for entry in entries])
    config = from_entries(fallback() if entries is None else entries, workdir or gitdir)
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[key] = config
    return config


def _recall(gitdir: Path, key: CacheKey) -> ConfigEntries | None:
    """The config entries an earlier process kept for ``key`` (:mod:`gitsm.gitrepo.answers`)."""
    kept = answers.recall(gitdir, key, "signing")
    if not isinstance(kept, list):
        return None
    entries: ConfigEntries = []
    for item in kept:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                and (item[1] is None or isinstance(item[1], str))):  # fmt: skip
            return None
        entries.append((item[0], item[1]))
    return entries


def clear_cache() -> None:
    """Forget every signing config kept by this process."""
    _cache.clear()
    _recalled.clear()
    for started in _pending.values():
        started.kill()
        started.communicate()
    _pending.clear()


def literal_ssh_key(value: str) -> str | None:
    """The public key in ``value`` when it is a literal key (``key::...`` or ``ssh-...``)."""
    if value.startswith("key::"):
        return value[len("key::") :]
    return value if value.startswith("ssh-") else None


def sign_commit(config: SigningConfig, content: bytes, committer: str, cwd: Path) -> str:
    """The armored signature of a commit's text, made as ``git commit -S`` makes it.

    ``committer`` (``Name <email>``) is the OpenPGP key when ``user.signingkey`` is unset; ``cwd``
    is where relative key paths start (the work tree, or the git dir of a bare repository). Raises
    SigningError when no signature could be made.
    """
    if config.format == "ssh":
        raw = _sign_ssh(config, content, cwd)
    else:
        raw = _sign_gpg(config, content, config.key or committer, cwd)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise SigningError(
            f"{config.program} returned a signature that is not ASCII armor: check gpg.format and "
            f"the signing program, {TURN_OFF}; {NOT_WRITTEN}."
        ) from None
    text = text.replace("\r\n", "\n").strip("\n")
    if not text.startswith("-----BEGIN "):
        raise SigningError(
            f"{config.program} returned no armored signature: check the signing program "
            f"(gpg.program, gpg.ssh.program), {TURN_OFF}; {NOT_WRITTEN}."
        )
    return text


def _summary(stderr: bytes) -> str:
    """The human-readable lines of a signer's stderr, short (status lines only if nothing else)."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    told = [line for line in lines if line and not line.startswith("[GNUPG:]")]
    text = "; ".join(told or [line for line in lines if line]) or "no output"
    return text if len(text) <= 400 else text[:397] + "..."


def _run(args: list[str], content: bytes | None, cwd: Path, what: str) -> tuple[int, bytes, bytes]:
    """Run a signing program; (exit code, stdout, stderr)."""
    try:
        proc = subprocess.run(
            args, input=content, stdin=None if content is not None else subprocess.DEVNULL,
            capture_output=True, env=git_env(), cwd=str(cwd), check=False,
        )  # fmt: skip
    except OSError as exc:
        raise SigningError(
            f"Could not run {args[0]!r} to sign the commit ({exc.strerror or exc}): install it or "
            f"name the program in git config ({what}), {TURN_OFF}; {NOT_WRITTEN}."
        ) from None
    return proc.returncode, proc.stdout, proc.stderr


def _sign_gpg(config: SigningConfig, content: bytes, key: str, cwd: Path) -> bytes:
    program = config.program
    what = "gpg.x509.program" if config.format == "x509" else "gpg.program"
    code, out, err = _run([program, "--status-fd=2", "-bsau", key], content, cwd, what)
    created = any(
        line.startswith(b"[GNUPG:] SIG_CREATED ") for line in err.splitlines()
    )  # as git, trust the status line rather than the exit code alone
    if code != 0 or not created or not out.strip():
        raise SigningError(
            f"{program} could not sign the commit with key {key!r} ({_summary(err)}). Check "
            f"user.signingkey names a secret key you hold and that gpg-agent can use it (set "
            f"GPG_TTY for a passphrase prompt), {TURN_OFF}; {NOT_WRITTEN}."
        )
    return out


def _default_ssh_key(config: SigningConfig, cwd: Path) -> str:
    """The key ``gpg.ssh.defaultKeyCommand`` prints first, as git takes it."""
    command = (config.default_key_command or "").split()
    if not command:
        raise SigningError(
            "user.signingkey needs to be set for ssh signing (gpg.format=ssh): git config "
            "user.signingkey <key file, or 'key::ssh-ed25519 ...' for a key in ssh-agent>, "
            f"{TURN_OFF}; {NOT_WRITTEN}."
        )
    code, out, err = _run(command, None, cwd, "gpg.ssh.defaultKeyCommand")
    first = out.decode("utf-8", "replace").split("\n", 1)[0].strip()
    if code != 0 or literal_ssh_key(first) is None:
        raise SigningError(
            f"gpg.ssh.defaultKeyCommand ({command[0]}) gave no ssh key "
            f"({_summary(err) if code else 'its first line is not a public key'}): set "
            f"user.signingkey, {TURN_OFF}; {NOT_WRITTEN}."
        )
    return first


def _sign_ssh(config: SigningConfig, content: bytes, cwd: Path) -> bytes:
    key = config.key or _default_ssh_key(config, cwd)
    literal = literal_ssh_key(key)
    with tempfile.TemporaryDirectory(prefix="gitsm-sign-") as tmp:
        if literal is not None:
            key_file = Path(tmp) / "signing-key.pub"
            key_file.write_text(literal.strip() + "\n", encoding="utf-8")
            shown, hint = "the public key in user.signingkey", "is loaded in ssh-agent (ssh-add -l)"
        else:
            key_file = Path(os.path.expanduser(key))
            shown = repr(key) if len(key) < 256 and "\n" not in key else "user.signingkey"
            hint = "file exists and can be read (or its private half is in ssh-agent)"
        buffer = Path(tmp) / "commit"
        buffer.write_bytes(content)
        args = [config.ssh_program, "-Y", "sign", "-n", "git", "-f", str(key_file)]
        args += ["-U"] if literal is not None else []
        code, _, err = _run([*args, str(buffer)], None, cwd, "gpg.ssh.program")
        if code != 0:
            if b"usage:" in err:
                raise SigningError(
                    f"{config.ssh_program} cannot sign: ssh signing needs 'ssh-keygen -Y sign' "
                    f"(OpenSSH 8.2p1 or newer), {TURN_OFF}; {NOT_WRITTEN}."
                )
            raise SigningError(
                f"{config.ssh_program} could not sign the commit with {shown} ({_summary(err)}). "
                f"Check that the key {hint}, {TURN_OFF}; {NOT_WRITTEN}."
            )
        try:
            return Path(f"{buffer}.sig").read_bytes()
        except OSError:
            raise SigningError(
                f"{config.ssh_program} reported success but wrote no signature file: check "
                f"gpg.ssh.program, {TURN_OFF}; {NOT_WRITTEN}."
            ) from None
