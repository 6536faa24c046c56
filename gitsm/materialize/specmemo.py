"""Spec files as read before: kept beside the store they were materialized from, by content.

Reading and checking a spec of 1,000 entries takes about 5 ms, a sixth of a materialize through
the agent, and a CI runner or a developer materializes the same spec again and again. What
:func:`gitsm.materialize.spec.load_spec` made of a file is a function of its bytes, the name it
was given by (error messages and ``where`` carry it) and the code that read it: the memo keeps the
last :data:`KEPT` specs read from this store under the SHA-256 of those bytes, that name,
gitsm's version and the size and modification time of the modules that read specs.

The file (``<common git dir>/gitsm/spec-memo``) is the store's own, like the quick read's memo
(:mod:`gitsm.quickmemo`): only the user who owns the store's git directories reads or writes it
(anyone who can write there can change the repository's hooks and config anyway). It is written
whole and renamed into place with a CRC-32 of its body; a file that is missing, damaged or of
another format is no memo, and one that cannot be written is none either. It holds what the spec
names (secret ids, paths, variable names), never a value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

from gitsm import __version__, memofile
from gitsm.materialize import spec as _spec_module
from gitsm.materialize import specfast as _fast_module
from gitsm.materialize.spec import Entry, Spec, parse_file, read_file

FILE = "spec-memo"
_TAG = b"gitsm-spec-memo-1\n"
KEPT = 4
"""Specs the file holds at most (the last ones read)."""
_FIELDS = tuple(field.name for field in dataclasses.fields(Entry))
""":class:`Entry`'s fields, in the order it takes them."""

Kept = tuple[int, str | None, str | None, str | None, str | None, list[tuple[object, ...]]]
"""(mode, format, out, kubernetes name, kubernetes namespace, the entries' fields)."""


def memo_path(store: str) -> str | None:
    """Where the memo of the store at ``store`` is, when the store and its git directories
    belong to this user; None otherwise (no memo)."""
    from gitsm.plaingit import Doubt
    from gitsm.quickread import own_dirs

    try:
        common = own_dirs(store)[1]
    except (OSError, ValueError, Doubt):
        return None
    if not os.path.isfile(os.path.join(common, "HEAD")):  # not a repository: no memo in it
        return None
    return os.path.join(common, "gitsm", FILE)


def read_spec(path: str | os.PathLike[str], memo: str) -> Spec:
    """What :func:`~gitsm.materialize.spec.load_spec` reads from ``path``, through the memo file
    ``memo`` (:func:`memo_path`)."""
    where = os.fspath(path)
    data = read_file(where)
    key = key_of(data, where)
    kept = _read(memo)
    spec = _spec_of(kept.get(key))
    if spec is None:
        spec = parse_file(data, where)
        save(memo, key, spec, kept)
    return spec


def key_of(data: bytes, where: str) -> str:
    """The memo's key of a spec file's bytes read under the name ``where`` by this code."""
    stamps = []
    for module in (_spec_module, _fast_module):
        try:
            st = os.stat(module.__file__ or "")
            stamps.append(f"{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            stamps.append("-")
    return " ".join([hashlib.sha256(data).hexdigest(), __version__, *stamps, where])


def _spec_of(kept: Kept | None) -> Spec | None:
    """The spec a memo entry holds, or None."""
    if kept is None:
        return None
    try:
        mode, fmt, out, k8s_name, k8s_namespace, rows = kept
        entries = [Entry(*row) for row in rows]  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return Spec(entries, fmt, out, mode, k8s_name, k8s_namespace)


def save(path: str, key: str, spec: Spec, before: dict[str, Kept]) -> None:
    """Keep ``spec`` under ``key`` in the memo file ``path``, with the last ones read (those of
    ``before``, the file as read already)."""
    rows = [tuple(getattr(entry, name) for name in _FIELDS) for entry in spec.entries]
    kept: dict[str, Kept] = {
        key: (spec.mode, spec.format, spec.out, spec.k8s_name, spec.k8s_namespace, rows)
    }
    for other, value in before.items():
        if len(kept) >= KEPT:
            break
        kept.setdefault(other, value)
    memofile.write(path, _TAG, kept)


def _read(path: str) -> dict[str, Kept]:
    kept = memofile.read(path, _TAG)
    return kept if isinstance(kept, dict) else {}
