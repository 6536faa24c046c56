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
from gitsm.plaingit import TREE, Doubt, PlainRepo
from gitsm.quickmemo import Memo, key_of
from gitsm.quickopen import Opener, Parts, parse_envelope, sealed_parts
from gitsm.quickread import (
    CONFIG_STAMP,
    candidates,
    config_id,
    find,
    open_tip,
    prefix_of,
    record_config,
    version_file,
    vetted_prefix,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from gitsm.envelope import Sealed

Request = tuple[str, str | None, str | None]
"""(SecretId, VersionId, VersionStage)."""


@dataclass(frozen=True)
class QuickValue:
    """One value read: its bytes and how it was stored (``string`` or ``binary``)."""

    value: bytes
    kind: str


def read_many(
    store: str, requests: Sequence[Request], *, remember: bool = False
) -> tuple[list[QuickValue], str]:
    """Every request's value, all from the branch's tip, and that commit's id; Doubt (nothing
    answered) when any of them is one the quick read leaves to the full reader. ``remember``:
    through the repository's memo (:mod:`gitsm.quickmemo`), saved when the batch answers."""
    try:
        repo, tip = open_tip(store)
        memo = Memo(repo.common) if remember else None
        values = read_at(repo, tip, requests, memo)
        if memo is not None:
            memo.save()
        return values, tip
    except Doubt:
        raise
    except Exception as exc:  # a damaged object, a key that does not open, ...: never a value
        raise Doubt(type(exc).__name__) from None


def held(
    repo: PlainRepo, commit: str, requests: Sequence[Request], memo: Memo
) -> list[Parts | None]:
    """What ``memo`` holds for each request at ``commit`` (None: it is to be read); Doubt where
    :func:`read_at` would doubt. The memo's last batch answered whole is taken without walking
    when it asked the same requests at the same root tree (:meth:`.Memo.replay`)."""
    tree = repo.tree_of(commit)
    again = memo.replay(tree, requests)
    if again is not None:  # the same requests at the same root tree: the same directories
        return again
    prefix = _prefix(repo, tree)
    found = [_remembered(repo, tree, prefix, request, memo) for request in requests]
    hits = [hit for hit, _key in found]
    if None not in hits:
        memo.note_batch(tree, requests, [key for _hit, key in found])
    return hits


def open_held(parts: Sequence[Parts]) -> list[QuickValue]:
    """The values of envelopes the memo held (each read authenticates both layers)."""
    opener = Opener()
    return [QuickValue(opener.open(hit), hit[0]) for hit in parts]


def read_at(
    repo: PlainRepo,
    commit: str,
    requests: Sequence[Request],
    memo: Memo | None = None,
    *,
    look: bool = True,
) -> list[QuickValue]:
    """Every request's value at ``commit`` of ``repo`` (opened by
    :func:`gitsm.quickread.open_tip`). Raises Doubt, or any error, when not all of them can be
    answered: the caller reads them through the store. With a ``memo``, a secret directory it
    holds is not read again (:mod:`gitsm.quickmemo`), and what is read is added to it;
    ``look=False``: the memo was asked already (:func:`held`), and is only added to."""
    if not requests:
        return []
    tree = repo.tree_of(commit)
    prefix = _prefix(repo, tree)
    found: dict[str, tuple[str, dict[str, object]]] = {}
    opener = Opener()
    out: list[QuickValue | None] = []
    others: list[Sealed] = []
    for request in requests:
        hit = (
            _remembered(repo, tree, prefix, request, memo)[0] if memo is not None and look else None
        )
        if hit is not None:  # a key that no longer opens it: Doubt, the store words why
            out.append(QuickValue(opener.open(hit), hit[0]))
            continue
        secret_id, version_id, version_stage = request
        if secret_id not in found:
            found[secret_id] = find(repo, tree, secret_id, prefix)
        name, secret = found[secret_id]
        vid, _, data = version_file(repo, tree, name, secret, version_id, version_stage)
        sealed = (data, str(secret["name"]), str(secret["arn"]), vid)
        try:
            parts = sealed_parts(parse_envelope(data, sealed[1], vid), sealed[2])
            out.append(QuickValue(opener.open(parts), parts[0]))
        except Exception:  # another key, several stanzas, any doubt: opened as the store opens it
            out.append(None)
            others.append(sealed)
            continue
        if memo is not None:
            directory = paths.secret_dir(name)
            entry = repo.entry(tree, directory)
            if entry is not None and entry[0] == TREE:
                memo.add(key_of(directory, entry[1]), sealed[2], request[1:], parts)
    opened = iter(_open(others) if others else [])
    return [v if v is not None else next(opened) for v in out]


def _remembered(
    repo: PlainRepo, tree: str, prefix: str, request: Request, memo: Memo
) -> tuple[Parts | None, str]:
    """The checked envelope of ``request`` as the memo holds it for the secret directory
    :func:`gitsm.quickread.find` would find, at its tree id, and the memo's key of that
    directory; None (and "") when the memo does not hold that directory or that request (it is
    then read); Doubt where find would doubt."""
    secret_id, version_id, version_stage = request
    for name, full_arn in candidates(secret_id, prefix):
        if not name:
            continue
        directory = paths.secret_dir(name)
        entry = repo.entry(tree, directory)
        if entry is None:  # no directory, no manifest: find looks at the next candidate too
            continue
        key = key_of(directory, entry[1])
        known = memo.get(key) if entry[0] == TREE else None
        if known is None:
            return None, ""
        if full_arn is not None and known[0] != full_arn:
            continue
        hit = known[1].get((version_id, version_stage))
        return hit, key if hit is not None else ""
    return None, ""


def _open(items: Sequence[Sealed]) -> list[QuickValue]:
    """The envelopes the quick opener leaves (another key than a local one, several stanzas),
    opened by the store's own opener (:func:`gitsm.envelope.open_values`, the process's key
    service: age identities, AWS KMS, local keys) in batches, as the store opens them; Doubt
    when any of them does not open (the full reader words why)."""
    from gitsm.envelope import OPEN_BATCH, open_values
    from gitsm.keys import KeyService

    keys = KeyService()
    out: list[QuickValue] = []
    for start in range(0, len(items), OPEN_BATCH):
        for result in open_values(items[start : start + OPEN_BATCH], keys):
            if not isinstance(result, tuple):
                raise Doubt("an envelope that does not open")
            out.append(QuickValue(*result))
    return out


def _prefix(repo: PlainRepo, tree: str) -> str:
    """The ARN prefix of the store config in ``tree``: as vetted before by the full reader, or
    parsed here by its parser (and then noted as vetted, as the full reader notes it)."""
    oid = config_id(repo, tree)
    try:
        return vetted_prefix(repo.common, oid)
    except Doubt:
        pass
    from gitsm.manifest import StoreConfig

    kind, data = repo.read(oid)
    if kind != b"blob":
        raise Doubt("the store config is not a file")
    config = StoreConfig.load(data)  # MalformedStoreFile: a Doubt; the full reader words it
    record_config(f"{repo.common}/gitsm/{CONFIG_STAMP}", oid, config.account_id, config.region)
    return prefix_of(config.account_id, config.region)
