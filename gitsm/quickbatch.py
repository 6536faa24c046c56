"""Many GetSecretValue reads of one commit without pygit2 or the store: the quick read of
``gitsm materialize`` and ``gitsm exec`` (:mod:`gitsm.materialize.read`).

A CI job materializes from a fresh process, often in a fresh clone. Loading pygit2 and the store
costs a fresh ``gitsm materialize`` about as much as reading a thousand secrets, and the store's
reads check every object twice (once for libgit2, see :mod:`gitsm.gitrepo.loose`). This module
reads every request from the branch's tip with :mod:`gitsm.plaingit` (each tree read and
checked once), with the same parsers and checks as :mod:`gitsm.quickread`'s single read.

An envelope the quick opener does not take (a key other than a local one: age identities, AWS
KMS; several stanzas, as a team key has) is opened by the store's own opener
(:func:`gitsm.envelope.open_values` with the process's key service), as the store would open it.

It answers all the requests or none: any request that the quick read leaves to the full reader
(an error of any kind, a secret pending deletion, a replica, a non-canonical manifest, an
envelope that does not open, ...) raises :class:`~gitsm.plaingit.Doubt`, and the caller reads
everything through the store instead, which words every error. The store config is accepted as
:mod:`gitsm.quickread` accepts it (the full reader vetted that blob before) or, in a clone the
full reader has not read yet, parsed by the full reader's own parser
(:meth:`gitsm.manifest.StoreConfig.load`).
"""

from __future__ import annotations

from dataclasses import dataclass

from gitsm import paths
from gitsm.plaingit import Doubt, PlainRepo
from gitsm.quickopen import open_envelope, parse_envelope
from gitsm.quickread import (
    CONFIG_STAMP,
    arn_prefix,
    find,
    open_tip,
    record_config,
    version_file,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from gitsm.envelope import Sealed

Request = tuple[str, str | None, str | None]
"""(SecretId, VersionId, VersionStage)."""


@dataclass(frozen=True)
class QuickValue:
    """One value read: its bytes and how it was stored (``string`` or ``binary``)."""

    value: bytes
    kind: str


def read_many(
    store: str, requests: Sequence[Request], commit: str | None = None
) -> tuple[list[QuickValue], str]:
    """Every request's value, all from ``commit`` (default: the branch's tip), and that commit's
    id; Doubt (nothing answered) when any of them is one the quick read leaves to the full
    reader."""
    try:
        return _read_many(store, requests, commit)
    except Doubt:
        raise
    except Exception as exc:  # a damaged object, a key that does not open, ...: never a value
        raise Doubt(type(exc).__name__) from None


def _read_many(
    store: str, requests: Sequence[Request], commit: str | None
) -> tuple[list[QuickValue], str]:
    repo, tip = open_tip(store)
    tip = commit or tip
    tree = repo.tree_of(tip)
    prefix = _prefix(repo, tree)
    found: dict[str, tuple[str, dict[str, object]]] = {}
    keys: dict[str, bytes] = {}
    out: list[QuickValue | None] = []
    others: list[tuple[int, Sealed]] = []
    for secret_id, version_id, version_stage in requests:
        if secret_id not in found:
            found[secret_id] = find(repo, tree, secret_id, prefix)
        name, secret = found[secret_id]
        vid, _, data = version_file(repo, tree, name, secret, version_id, version_stage)
        sealed = (data, str(secret["name"]), str(secret["arn"]), vid)
        try:
            fields = parse_envelope(data, sealed[1], vid)
            out.append(QuickValue(open_envelope(fields, sealed[2], keys), fields["type"]))
        except Exception:  # another key, several stanzas, any doubt: opened as the store opens it
            out.append(None)
            others.append((len(out) - 1, sealed))
    if others:
        for (i, _), opened in zip(others, _open(s for _, s in others), strict=True):
            out[i] = opened
    values = [v for v in out if v is not None]
    if len(values) != len(out):
        raise Doubt("a value left unread")
    return values, tip


def _open(items: Iterable[Sealed]) -> list[QuickValue]:
    """The envelopes the quick opener leaves (another key than a local one, several stanzas),
    opened by the store's own opener (:func:`gitsm.envelope.open_values`, the process's key
    service: age identities, AWS KMS, local keys) in batches, as the store opens them; Doubt
    when any of them does not open (the full reader words why)."""
    from gitsm.envelope import OPEN_BATCH, open_values
    from gitsm.keys import KeyService

    keys = KeyService()
    pending = list(items)
    out: list[QuickValue] = []
    for start in range(0, len(pending), OPEN_BATCH):
        for result in open_values(pending[start : start + OPEN_BATCH], keys):
            if not isinstance(result, tuple):
                raise Doubt("an envelope that does not open")
            out.append(QuickValue(*result))
    return out


def _prefix(repo: PlainRepo, tree: str) -> str:
    """The ARN prefix of the store config in ``tree``: as vetted before by the full reader, or
    parsed here by its parser (and then noted as vetted, as the full reader notes it)."""
    try:
        return arn_prefix(repo, tree)
    except Doubt:
        pass
    entry = repo.entry(tree, paths.CONFIG_PATH)
    if entry is None or entry[0] != b"100644":
        raise Doubt("no store config")
    from gitsm.manifest import StoreConfig

    data = repo.blob(tree, paths.CONFIG_PATH)
    assert data is not None
    config = StoreConfig.load(data)  # MalformedStoreFile: a Doubt; the full reader words it
    record_config(f"{repo.common}/gitsm/{CONFIG_STAMP}", entry[1], config.account_id,
                  config.region)  # fmt: skip
    return f"arn:aws:secretsmanager:{config.region}:{config.account_id}:secret:"
