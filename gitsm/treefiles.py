"""The store's files read from a tree: regular files within their byte limits, or a clear error.

Every reader of a tree (the store, ``gitsm verify``, the leak guard) takes manifests, the store config
and envelopes through here, so each is refused alike when its git mode is not a regular file's
(100644: no symbolic link, gitlink or executable) or it is over the byte limit of its kind
(:func:`gitsm.strict.file_limit`), before its content is read. Manifests and the config are then
parsed strictly (:func:`gitsm.manifest.load_secret`, :meth:`StoreConfig.load`); envelopes are
parsed by :func:`gitsm.envelope.parse` when they are opened.

A refused manifest or config raises MalformedStoreFile; a refused envelope, MalformedEnvelope (a
DecryptionFailure). Both carry ``path``, ``problem`` and ``fix``.
"""

from __future__ import annotations

from collections.abc import Iterator

from gitsm import paths
from gitsm.errors import MalformedEnvelope, MalformedStoreFile
from gitsm.gitrepo import Snapshot, TreeFile
from gitsm.manifest import StoreConfig, load_secret
from gitsm.model import (
    CONFIG_MAX_BYTES,
    ENVELOPE_MAX_BYTES,
    MANIFEST_MAX_BYTES,
    Secret,
)
from gitsm.problems import RESTORE, mode_problem
from gitsm.strict import size_problem


def file_problem(found: TreeFile, what: str, limit: int) -> tuple[str, str] | None:
    """A (problem, fix) when ``found`` is not a regular file of at most ``limit`` bytes."""
    bad = mode_problem(found.path, found.mode)
    if bad is not None:
        return bad
    problem = size_problem(found.size, what, limit)
    return None if problem is None else (problem, RESTORE)


def _content(found: TreeFile | None, what: str, limit: int) -> bytes | None:
    if found is None:
        return None
    bad = file_problem(found, what, limit)
    if bad is not None:
        raise MalformedStoreFile(found.path, *bad)
    return found.data


def config_bytes(snap: Snapshot) -> bytes | None:
    """The store config's content; None when there is none (MalformedStoreFile when refused)."""
    found = snap.file(paths.CONFIG_PATH, CONFIG_MAX_BYTES)
    return _content(found, "the store config", CONFIG_MAX_BYTES)


def read_config(snap: Snapshot) -> StoreConfig | None:
    """The store config at ``snap``, parsed strictly; None when the tree has none."""
    data = config_bytes(snap)
    return None if data is None else StoreConfig.load(data)


def server_policy_bytes(snap: Snapshot) -> bytes | None:
    """The content of ``.gitsm/server.yaml`` (gitsm serve's policy); None when there is none
    (MalformedStoreFile when it is not a regular file within its limit)."""
    from gitsm.serverpolicy import SERVER_MAX_BYTES  # gitsm serve's: a store's reads need none

    found = snap.file(paths.SERVER_PATH, SERVER_MAX_BYTES)
    return _content(found, "the server policy", SERVER_MAX_BYTES)


def manifest_bytes(snap: Snapshot, path: str) -> bytes | None:
    """The content of the manifest at ``path``; None when there is none (MalformedStoreFile
    when refused)."""
    return _content(snap.file(path, MANIFEST_MAX_BYTES), "a manifest", MANIFEST_MAX_BYTES)


def read_manifest(snap: Snapshot, path: str) -> Secret | None:
    """The secret whose manifest is at ``path``, parsed strictly; None when there is none."""
    data = manifest_bytes(snap, path)
    return None if data is None else load_secret(data, path)


def each_manifest(snap: Snapshot) -> Iterator[tuple[str, Secret | MalformedStoreFile]]:
    """(secret directory, secret or why its manifest is refused) for every manifest of the
    tree, in no particular order."""
    for directory, found in snap.find_dirs_with(
        paths.SECRETS_ROOT, paths.MANIFEST, paths.VERSIONS, MANIFEST_MAX_BYTES
    ):
        try:
            data = _content(found, "a manifest", MANIFEST_MAX_BYTES)
            assert data is not None
            yield directory, load_secret(data, found.path)
        except MalformedStoreFile as exc:
            yield directory, exc


def manifests(snap: Snapshot) -> Iterator[tuple[str, Secret]]:
    """(secret directory, secret) for every manifest of the tree, in no particular order.

    Raises MalformedStoreFile at the first manifest that is refused.
    """
    for directory, secret in each_manifest(snap):
        if isinstance(secret, MalformedStoreFile):
            raise secret
        yield directory, secret


def envelope_bytes(
    snap: Snapshot, name: str, version_id: str, path: str | None = None
) -> bytes | None:
    """The envelope of one version of secret ``name`` (at ``path``, by default where the name
    puts it); None when there is none. Raises MalformedEnvelope (a DecryptionFailure) when it is
    not a regular file within its limit."""
    path = path or paths.version_path(name, version_id)
    found = snap.file(path, ENVELOPE_MAX_BYTES)
    if found is None:
        return None
    bad = file_problem(found, "an envelope", ENVELOPE_MAX_BYTES)
    if bad is not None:
        raise MalformedEnvelope(path, *bad, name=name, version_id=version_id)
    return found.data
