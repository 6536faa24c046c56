"""The store's core: opening a store, finding secrets, and the one-commit-per-write transaction.

A write is a function of (tip snapshot, config, now) that returns a result and, when something
changes, the files to change. It runs under the repository's write lock against the current tip, so
its decision and its commit see the same state; a branch moved by a writer that bypassed the lock is
retried. A write that changes nothing makes no commit. Commit messages carry the operation and its
identifiers as trailers and never a value or a hash of one.
"""

from __future__ import annotations

import hashlib
import os
import secrets as _random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Generic, Self, TypeVar
from urllib.parse import quote

from gitsm import envelope, paths, replicas, strict, treefiles
from gitsm.errors import (
    MARKED_DELETED,
    SECRET_NOT_FOUND,
    GitsmError,
    InternalServiceError,
    InvalidParameterException,
    InvalidRequestException,
    MalformedEnvelope,
    ResourceNotFoundException,
    StoreError,
)
from gitsm.gitrepo import GitRepo, RefConflict, Snapshot
from gitsm.keys import KeyService, Recipient
from gitsm.manifest import StoreConfig, dump_secret
from gitsm.mergedriver import ATTRIBUTES_PATH, attributes_text
from gitsm.model import DEFAULT_KEY_ALIAS, Secret, ValueKind, utcnow, validate_store_identity
from gitsm.quickread import CONFIG_STAMP, record_config

T = TypeVar("T")
MAX_ATTEMPTS = 20


@dataclass
class Change(Generic[T]):
    """What a write decided: its result and, if anything changes, the commit to make."""

    result: T
    operation: str = ""
    secret: str = ""
    files: dict[str, bytes | None] = field(default_factory=dict)
    trailers: dict[str, str] = field(default_factory=dict)


@dataclass
class WriteResult:
    """What a write operation answers (AWS's ARN, Name, VersionId, VersionStages, DeletionDate)."""

    arn: str
    name: str
    version_id: str | None = None
    version_stages: list[str] | None = None
    deletion_date: datetime | None = None
    replication: list[replicas.ReplicaStatus] | None = None
    """ReplicationStatus, for the writes that answer it (None: not part of the answer)."""


def trailer_value(value: str) -> str:
    """A trailer-safe rendering: printable ASCII kept, anything else (newlines...) %-escaped."""
    return quote(value, safe="".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%"))


def commit_message(change: Change[object]) -> str:
    """``<Operation> <SecretName>`` followed by ``Gitsm-*`` trailers."""
    lines = [f"{change.operation} {change.secret}".rstrip(), ""]
    lines.append(f"Gitsm-Operation: {change.operation}")
    if change.secret:
        lines.append(f"Gitsm-Secret: {change.secret}")
    for key, value in change.trailers.items():
        lines.append(f"Gitsm-{key}: {trailer_value(value)}")
    return "\n".join(lines) + "\n"


def _new_default(keys: KeyService, key_id: str, fresh: StoreConfig) -> str:
    """``key_id`` checked as the default key of a new store, which has no aliases yet."""
    if isinstance(key_id, str) and key_id.startswith("alias/") and key_id != DEFAULT_KEY_ALIAS:
        raise InvalidParameterException(
            f"A new store has no key alias {key_id} yet. Give a key id (an age recipient "
            "age1..., a KMS key ARN, a local key id), or make the store, then the alias "
            f"(gitsm keys create-alias), then run 'gitsm keys set-default {key_id}'."
        )
    return keys.check_default(key_id, fresh)


def _fsync_default() -> bool:
    return os.environ.get("GITSM_FSYNC", "1").strip().lower() not in ("0", "false", "no", "off")


class StoreCore:
    """Opening, reading and transacting; the operations are mixed in by :class:`SecretStore`."""

    def __init__(
        self,
        repo: GitRepo,
        keys: KeyService | None = None,
        clock: Callable[[], datetime] = utcnow,
        region: str | None = None,
    ) -> None:
        self.repo = repo
        self.keys = keys or KeyService()
        self.clock = clock
        self.region_override = region
        self._config_cache: tuple[tuple[str, int], StoreConfig] | None = None

    def region(self, config: StoreConfig) -> str:
        """The region of this handle: the one it was opened with, else the store config's."""
        return self.region_override or config.region

    def viewer(self, config: StoreConfig | None = None) -> replicas.Viewer:
        """How secrets answer to this handle's region: replicas by their replica ARN
        (:mod:`gitsm.replicas`); ``config`` defaults to the tip's."""
        config = config or self.config()
        return replicas.Viewer(self.region(config), config.default_kms_key_id)

    def arn_prefix(self, config: StoreConfig) -> str:
        """``arn:aws:secretsmanager:<region>:<account>:secret:`` for this handle."""
        return f"arn:aws:secretsmanager:{self.region(config)}:{config.account_id}:secret:"

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        branch: str | None = None,
        fsync: bool | None = None,
        keys: KeyService | None = None,
        clock: Callable[[], datetime] = utcnow,
        region: str | None = None,
    ) -> Self:
        """Open the store in the git repository at ``path``.

        ``fsync`` defaults to on; ``GITSM_FSYNC=0`` turns it off for throwaway stores and tests.
        ``region`` overrides the store config's region for this handle: the ARNs it makes and the
        ARNs it accepts as SecretId (the config itself is not changed).
        """
        repo = GitRepo.open(path, branch=branch, fsync=_fsync_default() if fsync is None else fsync)
        repo.finish_pending()  # a write that landed left its checkout behind: catch it up
        store = cls(repo, keys, clock, region)
        store.config()  # fail early and clearly when this is not a store
        return store

    @classmethod
    def init(
        cls,
        path: str | Path,
        *,
        bare: bool = False,
        region: str | None = None,
        account_id: str | None = None,
        branch: str = "main",
        fsync: bool | None = None,
        keys: KeyService | None = None,
        clock: Callable[[], datetime] = utcnow,
        default_kms_key_id: str | None = None,
    ) -> Self:
        """Create a store at ``path`` (``git init`` when needed); idempotent on an existing store.

        ``default_kms_key_id`` is a new store's default key (checked like
        :meth:`~gitsm.store.keyops.KeyOps.set_default_key`: InvalidParameterException, and nothing
        is created). An existing store keeps its own default: change it with ``set_default_key``.
        """
        fsync = _fsync_default() if fsync is None else fsync
        keys = keys or KeyService()
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        account = account_id or "".join(_random.choice("0123456789") for _ in range(12))
        account, region = validate_store_identity(account, region or "us-east-1")
        fresh = StoreConfig(account_id=account, region=region)
        if default_kms_key_id is not None and not cls._is_store(path, fsync):
            fresh = replace(fresh, default_kms_key_id=_new_default(keys, default_kms_key_id, fresh))
        repo = GitRepo.init(path, bare=bare, branch=branch, fsync=fsync)
        store = cls(repo, keys, clock)

        def plan(snap: Snapshot, config: StoreConfig | None, now: datetime) -> Change[None]:
            if config is not None:
                return Change(None)
            files: dict[str, bytes | None] = {paths.CONFIG_PATH: fresh.dump()}
            attributes = attributes_text(snap.read(ATTRIBUTES_PATH))
            if attributes is not None:  # the merge driver's attributes travel with the store
                files[ATTRIBUTES_PATH] = attributes
            return Change(None, "Init", "", files)

        store._transact(plan, need_config=False)
        return store

    @staticmethod
    def _is_store(path: str | Path, fsync: bool) -> bool:
        """True when ``path`` is a git repository whose branch already holds a store config."""
        try:
            repo = GitRepo.open(path, fsync=fsync)
        except StoreError:
            return False
        return repo.tip().blob_id(paths.CONFIG_PATH) is not None

    # -- reading ---------------------------------------------------------------------------

    def _config_at(self, snap: Snapshot) -> StoreConfig | None:
        entry = snap.file(paths.CONFIG_PATH, 0)  # mode and object id, no content
        if entry is None:
            return None
        key = (entry.oid, entry.mode)
        if self._config_cache is None or self._config_cache[0] != key:  # parse once per content
            config = treefiles.read_config(snap)
            assert config is not None
            self._config_cache = (key, config)
            if entry.mode == 0o100644:  # the quick read may now use this config (quickread)
                record_config(str(self.repo.private_dir(CONFIG_STAMP)), str(entry.oid),
                              config.account_id, config.region)  # fmt: skip
        cached = self._config_cache[1]
        return replace(cached, keys={a: [dict(r) for r in rs] for a, rs in cached.keys.items()})

    def config(self, snap: Snapshot | None = None) -> StoreConfig:
        """The store config at ``snap`` (default: the tip)."""
        config = self._config_at(snap or self.repo.tip())
        if config is None:
            raise StoreError(
                f"{self.repo.workdir or self.repo.gitdir} is a git repository but not a gitsm "
                f"store (no {paths.CONFIG_PATH} on branch {self.repo.branch}). Run 'gitsm init'."
            )
        return config

    def _load(self, snap: Snapshot, name: str) -> Secret | None:
        secret = treefiles.read_manifest(snap, paths.manifest_path(name))
        return None if secret is None else self._placed(secret, paths.secret_dir(name))

    @staticmethod
    def _placed(secret: Secret, directory: str) -> Secret:
        """``secret``, refusing a manifest that names another secret than its directory's own."""
        if paths.secret_dir(secret.name) != directory:
            raise StoreError(
                f"The manifest {directory}/{paths.MANIFEST} names secret {secret.name}, which "
                "belongs elsewhere (moved or copied). Restore it from git history; 'gitsm verify' "
                "lists such problems."
            )
        return secret

    def _expired(self, secret: Secret, now: datetime) -> bool:
        return secret.deletion_date is not None and secret.deletion_date <= now

    def _find(self, snap: Snapshot, config: StoreConfig, secret_id: object) -> Secret:
        """Resolve a SecretId (name, full ARN or partial ARN) to a live or pending secret. A full
        ARN of this handle's region names a secret by its own ARN, or by its replica's there."""
        if not isinstance(secret_id, str) or not 1 <= len(secret_id) <= 2048:
            raise ResourceNotFoundException(SECRET_NOT_FOUND)
        now = self.clock()
        candidates = paths.id_candidates(secret_id, self.arn_prefix(config))
        if candidates is None:
            raise ResourceNotFoundException(SECRET_NOT_FOUND)
        for name, full_arn in candidates:
            secret = self._load(snap, name) if name else None
            if secret is None or self._expired(secret, now):
                continue
            if full_arn is not None and secret.arn != full_arn:
                region = self.region(config)
                seen = replicas.is_replica_in(secret, region)
                if not seen or replicas.replica_arn(secret.arn, region) != full_arn:
                    continue
            return secret
        raise ResourceNotFoundException(SECRET_NOT_FOUND)

    def _find_primary(self, snap: Snapshot, config: StoreConfig, secret_id: object) -> Secret:
        """Like :meth:`_find`, refusing a secret this handle's region sees as a replica
        (InvalidParameterException: a replica is read-only)."""
        secret = self._find(snap, config, secret_id)
        replicas.refuse_replica(secret, self.region(config))
        return secret

    def _find_live(self, snap: Snapshot, config: StoreConfig, secret_id: object) -> Secret:
        """Like :meth:`_find_primary`, refusing a secret that is pending deletion."""
        secret = self._find_primary(snap, config, secret_id)
        if secret.deleted_date is not None:
            raise InvalidRequestException(MARKED_DELETED)
        return secret

    def _all(self, snap: Snapshot) -> Iterator[Secret]:
        """Every secret in the tree that is not past its deletion date."""
        now = self.clock()
        return (s for s in self._manifests(snap) if not self._expired(s, now))

    def _manifests(self, snap: Snapshot) -> Iterator[Secret]:
        """Every secret in the tree, past its deletion date or not."""
        for directory, secret in treefiles.manifests(snap):
            yield self._placed(secret, directory)

    def _decrypt(self, snap: Snapshot, secret: Secret, version_id: str) -> tuple[bytes, ValueKind]:
        result = self._decrypt_many(snap, [(secret, version_id)])[0]
        if isinstance(result, GitsmError):
            raise result
        return result

    def _decrypt_many(
        self, snap: Snapshot, wanted: Sequence[tuple[Secret, str]]
    ) -> list[tuple[bytes, ValueKind] | GitsmError]:
        """The value and kind of each (secret, VersionId), or the error that reading it raised.

        Envelopes are read and opened :data:`envelope.OPEN_BATCH` at a time (envelope.open_values),
        which bounds the envelopes held in memory at once."""
        batch = envelope.OPEN_BATCH
        out: list[tuple[bytes, ValueKind] | GitsmError] = []
        for start in range(0, len(wanted), batch):
            found: dict[int, tuple[bytes, ValueKind] | GitsmError] = {}
            sealed: list[envelope.Sealed] = []
            at: list[int] = []
            for i, (secret, version_id) in enumerate(wanted[start : start + batch]):
                try:
                    data = treefiles.envelope_bytes(snap, secret.name, version_id)
                except MalformedEnvelope as exc:
                    found[i] = exc
                    continue
                if data is None:
                    found[i] = StoreError(
                        f"The envelope of version {version_id} of secret {secret.name} is "
                        "missing from the tree although its manifest lists it. Run 'gitsm "
                        "verify' and restore it."
                    )
                else:
                    at.append(i)
                    sealed.append((data, secret.name, secret.arn, version_id))
            found.update(zip(at, envelope.open_values(sealed, self.keys), strict=True))
            out.extend(found[i] for i in range(len(found)))
        return out

    # -- writing ---------------------------------------------------------------------------

    def _resolve_key(
        self, kms_key_id: str | None, config: StoreConfig
    ) -> tuple[list[Recipient], StoreConfig | None]:
        """:meth:`KeyService.resolve` for this store: every write resolves its key through here.

        The default alias is created on first use only when the repository has no git remote; in
        a store shared through one, a machine-local default would lock teammates out, so an
        unregistered default is an EncryptionFailure saying how to set a team key.
        """
        return self.keys.resolve(kms_key_id, config, create_default=not self.repo.has_remotes())

    @staticmethod
    def _secret_files(secret: Secret) -> dict[str, bytes | None]:
        return {paths.manifest_path(secret.name): dump_secret(secret)}

    @staticmethod
    def _removal(name: str) -> dict[str, bytes | None]:
        """Files that remove a secret's own entries (never those of secrets nested below it)."""
        base = paths.secret_dir(name)
        return {f"{base}/{paths.MANIFEST}": None, f"{base}/{paths.VERSIONS}": None}

    def _note_config(self, files: Mapping[str, object]) -> None:
        """A write that changed the config notes the new one for the quick read
        (:func:`~gitsm.quickread.record_config`) when the full reader accepts it, so that the next
        get-secret-value need not run the full command to learn it."""
        data = files.get(paths.CONFIG_PATH)
        if not isinstance(data, bytes):
            return
        try:
            config = StoreConfig.load(data)
        except GitsmError:
            return
        oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # its git blob id
        record_config(str(self.repo.private_dir(CONFIG_STAMP)), oid, config.account_id,
                      config.region)  # fmt: skip

    def _transact(
        self,
        plan: Callable[[Snapshot, StoreConfig, datetime], Change[T]],
        *,
        need_config: bool = True,
    ) -> T:
        self.repo.prepare_commit()  # git answers for the commit while the change is prepared
        for _ in range(MAX_ATTEMPTS):
            with self.repo.write_lock():
                snap = self.repo.tip()
                config = self._config_at(snap)
                if need_config and config is None:
                    self.config(snap)  # raises the clear "not a store" error
                now = self.clock()
                change = plan(snap, config, now)  # type: ignore[arg-type]
                if not change.files:
                    return change.result
                strict.check_write(change.files)
                try:
                    self.repo.commit(snap, change.files, commit_message(change), now)  # type: ignore[arg-type]
                except RefConflict:
                    continue
                self._note_config(change.files)
                return change.result
        raise InternalServiceError(
            "The branch kept moving under this write (another writer that does not use gitsm's "
            "lock?). Nothing was written; try again."
        )
