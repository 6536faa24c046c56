"""The last tree ``gitsm verify`` found clean, so that the next verify of the tip checks only what
changed since.

A clean check of the branch tip (``gitsm verify`` without ``--rev``, ``--range`` or ``--staged``)
records, in ``<git dir>/gitsm/verified`` (the git dir every work tree shares; never committed,
never in a work tree): the tree id, the gitsm version, and every answer a key provider gave about
whether it holds a key (the only knowledge outside the tree that the checks use). The next check of
the tip then checks only the files whose blob or mode differ between that tree and the tip's
(:meth:`gitsm.verify.Checker.check_changes`, as the staged check does; everything when the store
config changed), provided that the gitsm version is the same and every recorded key answer still
holds; else, or with ``--full`` or ``--decrypt``, it checks the whole tree. When the changed
files have any problem the whole tree is checked again, so the problems reported are always those
of a full check, in its order.

The record is a cache of this machine's own results: it is never read for ``--rev``, ``--range``
(what a pre-receive hook runs) or ``--staged``, and a record that does not parse, names a tree no
longer in the repository, or cannot be written is simply not used.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets as _random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gitsm
from gitsm.gitrepo import GitRepo, Snapshot

MEMO_NAME = "verified"
FORMAT = 1

Claims = dict[tuple[str, str], bool]
"""(provider, key id) -> whether the provider holds (claims) that key."""


@dataclass(frozen=True)
class Memo:
    """The last tree found clean, with what the check relied on besides the tree."""

    tree: str
    claims: Claims


def _path(repo: GitRepo) -> Path:
    return repo.private_dir(MEMO_NAME)


def load(repo: GitRepo) -> Memo | None:
    """The record of ``repo`` when there is an intact one written by this gitsm version."""
    try:
        doc = json.loads(_path(repo).read_bytes())
        if doc["format"] != FORMAT or doc["gitsm"] != gitsm.__version__:
            return None
        tree = doc["tree"]
        claims = {(str(p), str(k)): held for p, k, held in doc["claims"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(tree, str) or not all(isinstance(v, bool) for v in claims.values()):
        return None
    return Memo(tree, claims)


def save(repo: GitRepo, snap: Snapshot, claims: Claims) -> None:
    """Record ``snap``'s tree as clean (written to a temporary file, renamed into place); a
    failure to write is ignored (the next verify checks the whole tree)."""
    if snap.tree_id is None:
        return
    path = _path(repo)
    doc = {"format": FORMAT, "gitsm": gitsm.__version__, "tree": snap.tree_id,
           "claims": sorted([p, k, held] for (p, k), held in claims.items())}  # fmt: skip
    tmp = path.with_name(f"{MEMO_NAME}.{os.getpid()}.{_random.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(doc) + "\n")
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def changed_since(
    repo: GitRepo, snap: Snapshot, claimed: Callable[[str, str], bool]
) -> tuple[list[str], Claims] | None:
    """The paths that differ between the recorded clean tree and ``snap``'s, and the recorded key
    answers; None when there is no usable record (none, another gitsm version, the tree is gone,
    or a key provider now answers otherwise about a key: ``claimed(provider, key_id)``)."""
    memo = load(repo)
    if memo is None or snap.tree_id is None:
        return None
    if any(claimed(p, k) != held for (p, k), held in memo.claims.items()):
        return None
    changes = repo.tree_changes(memo.tree, snap, "")
    return None if changes is None else ([c.path for c in changes], memo.claims)
