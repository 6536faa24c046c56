"""GetSecretValue without pygit2, PyYAML or the model: the quick read of a fresh process.

A cold ``gitsm get-secret-value`` spends most of its time loading modules (pygit2 alone costs
several times the read). For the common case (a secret read by name or ARN, a local key, a store
on its default branch) this module reads the tip with :mod:`gitsm.plaingit`, parses the canonical
manifest and envelope itself, with the same checks of every field the strict readers make, and
unwraps and decrypts with cryptography's AES-GCM alone.

It answers only what it is certain of. Anything else raises :class:`~gitsm.plaingit.Doubt` before
any output, and the full command runs: an error of any kind (the full command words it), a secret
pending deletion, a replica, a resource policy, a manifest or envelope not in canonical form, a key
that is not a local one or that does not unwrap, a git configuration that could name another
branch (``gitsm.branch``, includes, extensions), a work-tree sync left pending, a repository owned
by someone else. The store config is the one part it does not check itself: it uses the config only
when the full reader accepted that same blob before (:func:`record_config`, kept in the git
directory), so a store's first read after its config changed runs the full command.
"""

from __future__ import annotations

import os

from gitsm import paths
from gitsm.plaingit import Doubt, PlainRepo, git_dir
from gitsm.quickmanifest import parse_manifest
from gitsm.quickopen import open_envelope, parse_envelope

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CONFIG_STAMP = "config-vetted"
"""``<common git dir>/gitsm/config-vetted``: the store config blob the full reader last accepted."""
_STAMP_TAG = "gitsm-config-vetted-1"
_JOURNAL = "gitsm-worktree.json"
_HEX = frozenset("0123456789abcdef")
_SENTINEL_SECTIONS = frozenset({b"gitsm", b"include", b"includeif", b"extensions"})


# -- the config stamp ---------------------------------------------------------------------------


def record_config(path: str, oid: str, account: str, region: str) -> None:
    """Note in ``path`` (``<common git dir>/gitsm/config-vetted``) that the full reader accepted
    the config blob ``oid`` (account, region). Quietly nothing when the git directory cannot take
    it: the quick read then leaves reads to the full command."""
    text = f"{_STAMP_TAG} {oid} {account} {region}\n"
    folder = os.path.dirname(path)
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return
    except (OSError, ValueError):
        pass
    temporary = f"{path}.{os.getpid()}"
    try:
        os.makedirs(folder, exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError:
        try:  # noqa: SIM105  (contextlib would cost this path's start ~4 ms)
            os.unlink(temporary)
        except OSError:
            pass


def _vetted_config(common: str, oid: str) -> tuple[str, str]:
    try:
        with open(os.path.join(common, "gitsm", CONFIG_STAMP), encoding="utf-8") as handle:
            words = handle.read().split()
    except (OSError, ValueError):
        raise Doubt("the config was not read by the full reader yet") from None
    if len(words) != 4 or words[0] != _STAMP_TAG or words[1] != oid:
        raise Doubt("the config changed since the full reader last read it")
    return words[2], words[3]


# -- the repository ------------------------------------------------------------------------------


_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_ESCAPED = frozenset(b'ntb"\\')
_BOOLEANS = frozenset({b"true", b"false", b"yes", b"no", b"on", b"off", b"1", b"0"})


def _value(text: bytes) -> bytes | None:
    """The raw value of a config line (after ``=``), up to a comment, as both git and libgit2
    read it; None for one this reader leaves to them (an unknown escape, an open quote, a line
    continued on the next)."""
    quoted = False
    at = 0
    while at < len(text):
        char = text[at : at + 1]
        if char == b"\\":
            if text[at + 1 : at + 2] == b"" or text[at + 1] not in _ESCAPED:
                return None
            at += 1
        elif char == b'"':
            quoted = not quoted
        elif char in (b"#", b";") and not quoted:
            break
        at += 1
    return None if quoted else text[:at].strip()


def _sections(path: str) -> set[bytes]:
    """The section names (lower case) of the git config file ``path`` (none when absent). Doubt
    for a file in any form but the plain one git writes (which libgit2 could refuse: it then
    opens no repository), and for ``core`` settings libgit2 checks as it opens a repository
    (``repositoryformatversion``, ``bare``, ``worktree``) unless they are plainly harmless."""
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except FileNotFoundError:
        return set()
    except OSError:
        raise Doubt(f"cannot read {path}") from None
    if b"\r" in text or b"\0" in text or text.startswith(b"\xef\xbb\xbf"):
        raise Doubt(f"{path} is left to libgit2")
    found = set()
    section = None
    for line in text.split(b"\n"):
        line = line.strip(b" \t")
        if not line or line[:1] in (b"#", b";"):
            continue
        if line.startswith(b"["):
            head, bracket, rest = line[1:].partition(b"]")
            name, quote, sub = head.partition(b' "')
            rest = rest.strip(b" \t")
            if (
                not bracket or not name or not _WORD.issuperset(name.replace(b".", b""))
                or (quote and (not sub.endswith(b'"') or b"\\" in sub or b'"' in sub[:-1]))
                or (rest and rest[:1] not in (b"#", b";"))
            ):  # fmt: skip
                raise Doubt(f"{path} has a section header left to libgit2")
            section = name.lower()
            found.add(section.split(b".")[0])
            continue
        key, equals, raw = line.partition(b"=")
        key = key.strip(b" \t")
        value = _value(raw) if equals else b"true"
        if section is None or not key[:1].isalpha() or not _WORD.issuperset(key) or value is None:
            raise Doubt(f"{path} has a line left to libgit2")
        if section == b"core":
            name = key.lower()
            if (
                (name == b"repositoryformatversion" and value not in (b"0", b"1"))
                or (name == b"bare" and value.lower() not in _BOOLEANS)
                or name == b"worktree"
            ):  # fmt: skip
                raise Doubt(f"{path} has core.{name.decode()} left to libgit2")
    return found


def _check_git_config(common: str) -> None:
    """Doubt when a git config libgit2 reads could choose the branch or change how the repository
    reads (``gitsm.*``, includes, extensions)."""
    if any(key.startswith("GIT_CONFIG") for key in os.environ):
        raise Doubt("the git configuration is redirected")
    home = os.environ.get("HOME")
    if not home:
        raise Doubt("no HOME")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    files = (os.path.join(common, "config"), os.path.join(home, ".gitconfig"),
             os.path.join(xdg, "git", "config"), "/etc/gitconfig")  # fmt: skip
    for path in files:
        if _sections(path) & _SENTINEL_SECTIONS:
            raise Doubt(f"{path} may change what the store reads")


_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def _plain_branch(name: str) -> bool:
    """True for a branch name of plain components (letters, digits, ``._-``; none empty,
    starting with ``.`` or ending with ``.lock`` or ``.``, no ``..``): a valid ref name to git and
    libgit2 alike, read as the path it spells (no ``..`` leading out of ``refs/heads``)."""
    return all(
        part and _NAME_CHARS.issuperset(part) and part[0] != "." and part[-1] != "."
        and not part.endswith(".lock") and ".." not in part
        for part in name.split("/")
    )  # fmt: skip


def open_repo(store: str) -> tuple[PlainRepo, str]:
    """The repository at ``store`` and the tree of its branch's tip."""
    repo, tip = open_tip(store)
    return repo, repo.tree_of(tip)


def own_dirs(store: str) -> tuple[str, str]:
    """The git directory and the common git directory of the repository at ``store``; Doubt
    when it, or either of them, belongs to another user."""
    gitdir = git_dir(store)
    common = gitdir
    commondir = os.path.join(gitdir, "commondir")
    if os.path.exists(commondir):
        with open(commondir) as handle:
            common = os.path.realpath(os.path.join(gitdir, handle.read().strip()))
    uid = os.geteuid()
    for path in {store, gitdir, common}:
        if os.stat(path).st_uid != uid:
            raise Doubt(f"{path} belongs to another user")
    return gitdir, common


def open_tip(store: str) -> tuple[PlainRepo, str]:
    """The repository at ``store`` and its branch's tip (a commit id)."""
    gitdir, common = own_dirs(store)
    if os.path.exists(os.path.join(gitdir, _JOURNAL)):
        raise Doubt("a work-tree sync is pending")
    _check_git_config(common)
    repo = PlainRepo(gitdir, common)
    head = repo.head()
    if head is None:
        raise Doubt("no HEAD")
    branch = "main"  # a detached HEAD: the full reader's default too
    if head.startswith(b"ref: refs/heads/") and head.endswith(b"\n"):
        branch = head[len(b"ref: refs/heads/") : -1].decode("utf-8")
        if not _plain_branch(branch):
            raise Doubt("a branch name left to libgit2")
    elif len(head) != 41 or not head.endswith(b"\n") or not _HEX.issuperset(head[:40].decode()):
        raise Doubt("HEAD is neither a branch nor a commit")
    tip = repo.ref("refs/heads/" + branch)
    if tip is None:
        raise Doubt("the branch has no commit")
    return repo, tip


# -- GetSecretValue ------------------------------------------------------------------------------


def candidates(secret_id: str, prefix: str) -> list[tuple[str, str | None]]:
    """The (name, full ARN or None) that ``secret_id`` may name, in the order
    :meth:`gitsm.store.core.StoreCore._find` tries them; Doubt for a SecretId out of range or of
    another account or Region."""
    if not 1 <= len(secret_id) <= 2048:
        raise Doubt("a SecretId out of range")
    found = paths.id_candidates(secret_id, prefix)
    if found is None:
        raise Doubt("another account or region")
    return found


def find(repo: PlainRepo, tree: str, secret_id: str, prefix: str) -> tuple[str, dict[str, object]]:
    """The secret ``secret_id`` names, as :meth:`gitsm.store.core.StoreCore._find` finds it."""
    for name, full_arn in candidates(secret_id, prefix):
        data = repo.blob(tree, paths.manifest_path(name)) if name else None
        if data is None:
            continue
        secret = parse_manifest(data)
        if paths.secret_dir(str(secret["name"])) != paths.secret_dir(name):
            raise Doubt("a manifest out of place")
        if full_arn is not None and secret["arn"] != full_arn:
            continue
        return name, secret
    raise Doubt("no such secret")


def get_secret_value(
    store: str, secret_id: str, version_id: str | None, version_stage: str | None
) -> dict[str, object]:
    """GetSecretValue's answer as the client returns it (CreatedDate as ISO 8601 text, a binary
    value as bytes), or Doubt (whatever went wrong: the full reader words every error)."""
    try:
        return _get(store, secret_id, version_id, version_stage)
    except Doubt:
        raise
    except Exception as exc:  # a damaged object, a key that does not open, ...: never a value
        raise Doubt(type(exc).__name__) from None


def _get(
    store: str, secret_id: str, version_id: str | None, version_stage: str | None
) -> dict[str, object]:
    repo, tree = open_repo(store)
    prefix = arn_prefix(repo, tree)
    name, secret = find(repo, tree, secret_id, prefix)
    vid, version, data = version_file(repo, tree, name, secret, version_id, version_stage)
    fields = parse_envelope(data, str(secret["name"]), vid)
    value = open_envelope(fields, str(secret["arn"]))
    out: dict[str, object] = {"ARN": secret["arn"], "Name": secret["name"], "VersionId": vid}
    if fields["type"] == "string":
        out["SecretString"] = value.decode("utf-8")
    else:
        out["SecretBinary"] = value
    out["VersionStages"] = list(version["stages"])
    out["CreatedDate"] = version["created"]  # ISO 8601 text, as the CLI shows a datetime
    return out


def arn_prefix(repo: PlainRepo, tree: str) -> str:
    """``arn:aws:secretsmanager:<region>:<account>:secret:`` of the store config in ``tree``,
    as the full reader last accepted it (:func:`record_config`)."""
    return vetted_prefix(repo.common, config_id(repo, tree))


def config_id(repo: PlainRepo, tree: str) -> str:
    """The object id of the store config in ``tree`` (a regular file)."""
    found = repo.entry(tree, paths.CONFIG_PATH)
    if found is None or found[0] != b"100644":
        raise Doubt("no store config")
    return found[1]


def vetted_prefix(common: str, oid: str) -> str:
    """The ARN prefix of the config blob ``oid`` when the full reader last accepted that blob."""
    account, region = _vetted_config(common, oid)
    return prefix_of(account, region)


def prefix_of(account: str, region: str) -> str:
    """``arn:aws:secretsmanager:<region>:<account>:secret:``."""
    return f"arn:aws:secretsmanager:{region}:{account}:secret:"


def version_file(
    repo: PlainRepo,
    tree: str,
    name: str,
    secret: dict[str, object],
    version_id: str | None,
    version_stage: str | None,
) -> tuple[str, dict[str, Any], bytes]:
    """The version of ``secret`` (found under ``name``) that a GetSecretValue names, and its
    envelope file: (VersionId, version, the file's bytes)."""
    versions = secret["versions"]
    assert isinstance(versions, dict)
    if version_id is not None:
        version = versions.get(version_id)
        if version is None or (
            version_stage is not None and version_stage not in version["stages"]
        ):
            raise Doubt("no such version")
        vid = version_id
    else:
        stage = version_stage or "AWSCURRENT"
        vid = next((v for v, info in versions.items() if stage in info["stages"]), "")
        if not vid:
            raise Doubt("no version with that stage")
        version = versions[vid]
    data = repo.blob(tree, paths.version_path(name, vid))
    if data is None:
        raise Doubt("the envelope is missing")
    return vid, version, data
