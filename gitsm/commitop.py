"""The operation a commit performs: its ``Gitsm-*`` trailers and the store files it changed.

Every gitsm write is one commit whose message names the operation (``Gitsm-Operation``) and its
identifiers, and whose tree change is what that operation did: manifests (``~secret.yaml``) and
envelopes (``~versions/*.json``) of the secrets it touched, and ``.gitsm/config.yaml``. Reading a
commit as a :class:`CommitOp` is what lets ``gitsm sync`` replay it on another tip without a key
(the sealed envelopes are reused as they are) and what lets a history check compare a commit's
change with what its operation may do.

Nothing here decrypts anything or reads a value: manifests and envelopes hold none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitsm import paths
from gitsm.gitrepo import GitRepo
from gitsm.gitrepo.graph import CommitData, FileChange
from gitsm.history import parse_trailers

STORE_ROOTS = (paths.SECRETS_ROOT + "/", ".gitsm/")


def in_store(path: str) -> bool:
    """True for paths under ``secrets/`` or ``.gitsm/``, which only gitsm operations may change;
    False for ``.gitsm/server.yaml``, gitsm serve's policy, which administrators change by plain
    git commits (a change of it is rebased by ``gitsm sync`` like any file outside the store)."""
    if path == paths.SERVER_PATH:
        return False
    return path.startswith(STORE_ROOTS) or path in (paths.SECRETS_ROOT, ".gitsm")


@dataclass
class SecretChange:
    """What a commit changed in one secret's directory (blob ids; None when absent)."""

    directory: str
    manifest: tuple[str | None, str | None] = (None, None)
    """The manifest's blob before and after (unchanged: both equal, or both None)."""
    envelopes: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    """Envelope file name (``<VersionId>.json``) -> blob before and after."""

    @property
    def name(self) -> str | None:
        """The secret name the directory encodes (None when it encodes none)."""
        try:
            name = paths.name_from_dir(self.directory)
        except ValueError:
            return None
        return name if paths.secret_dir(name) == self.directory else None


@dataclass(frozen=True)
class CommitOp:
    """One commit read as an operation."""

    commit: CommitData
    trailers: dict[str, str]
    secrets: dict[str, SecretChange]
    """Secret directory -> what changed in it."""
    config: tuple[str | None, str | None] | None
    """The config's blob before and after, when the commit changed it."""
    outside: list[FileChange]
    """Changes outside the store (README, CI files, .gitattributes), rebased as git would."""
    strays: list[str]
    """Store paths that are neither a manifest, an envelope nor the config."""

    @property
    def operation(self) -> str | None:
        """The ``Gitsm-Operation`` trailer (None: not a gitsm commit)."""
        return self.trailers.get("Operation")

    @property
    def is_merge(self) -> bool:
        """True for a merge commit (more than one parent)."""
        return len(self.commit.parents) > 1

    @property
    def touches_store(self) -> bool:
        """True when the commit changed anything under ``secrets/`` or ``.gitsm/``."""
        return bool(self.secrets or self.config or self.strays)

    @property
    def names(self) -> list[str]:
        """The names of the secrets the commit changed (directories that encode no name are left
        out), in path order."""
        return [n for d in sorted(self.secrets) if (n := self.secrets[d].name) is not None]

    def describe(self) -> str:
        """``<Operation> <secret>`` (or the commit's subject), for reports."""
        subject = self.commit.message.split("\n", 1)[0].strip()
        return subject or (self.operation or "commit")


def read_commit_op(repo: GitRepo, commit_id: str) -> CommitOp:
    """The operation ``commit_id`` performs, from its trailers and its change against its first
    parent (a root commit: against the empty tree)."""
    data = repo.commit_data(commit_id)
    parent = data.parents[0] if data.parents else None
    secrets: dict[str, SecretChange] = {}
    config: tuple[str | None, str | None] | None = None
    outside: list[FileChange] = []
    strays: list[str] = []
    for change in repo.changed_files(parent, commit_id):
        if not in_store(change.path):
            outside.append(change)
            continue
        if change.path == paths.CONFIG_PATH:
            config = (change.old, change.new)
            continue
        found = paths.classify(change.path)
        if found is None:
            strays.append(change.path)
            continue
        kind, directory = found
        entry = secrets.setdefault(directory, SecretChange(directory))
        if kind == "manifest":
            entry.manifest = (change.old, change.new)
        else:
            entry.envelopes[change.path.rsplit("/", 1)[1]] = (change.old, change.new)
    if parent is not None:
        before = repo.snapshot_of(parent)
        for directory, entry in secrets.items():
            if entry.manifest == (None, None):  # envelopes changed, manifest did not
                blob = before.blob_id(f"{directory}/{paths.MANIFEST}")
                entry.manifest = (blob, blob)
    return CommitOp(data, parse_trailers(data.message), secrets, config, outside, strays)
