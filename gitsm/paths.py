"""Where a secret lives in the tree: a collision-free, reversible name -> path mapping.

A secret named ``prod/db/password`` lives in ``secrets/prod/db/password/``. That directory holds the
secret's own entries, ``~secret.yaml`` (the manifest) and ``~versions/`` (one envelope per version),
next to the directories of any secrets whose names extend this one (``prod/db/password/old``).

Names use only ``[A-Za-z0-9/_+=.@-]``; ``~`` never occurs in a name, so it is the escape sigil:

* an empty segment (``a//b``, a leading or trailing ``/``) becomes ``~``;
* a segment starting with ``.`` (``.``, ``..``, ``.git``, ``.gitattributes``) gets a ``~`` prefix;
* an encoded segment longer than :data:`CHUNK` characters is cut, as the raw segment, into chunks
  of ``CHUNK - 1`` characters; each chunk is escaped like a segment (a ``~`` prefix if it starts
  with ``.``, so no chunk is ``.``, ``..`` or ``.git``) and every chunk but the last gets a ``~``
  suffix (so no path component exceeds 129 bytes).

The secret's own entries start with ``~`` followed by a letter, which no encoded segment does (an
escaped segment is ``~`` alone or starts with ``~.``), so they can never collide with a child secret's
directory. Decoding inverts each rule, which makes the mapping injective; ``tests/test_paths.py``
checks both properties with hypothesis over the whole name alphabet.

VersionIds (ClientRequestTokens) are only bounded by length, so a token that is not a safe file name
(runs of ``[A-Za-z0-9_-]`` joined by single dots) is stored under ``~<sha256 hex of the token>.json``;
the token itself is kept inside the envelope and the manifest.
"""

from __future__ import annotations

SECRETS_ROOT = "secrets"
MANIFEST = "~secret.yaml"
VERSIONS = "~versions"
CONFIG_PATH = ".gitsm/config.yaml"
SERVER_PATH = ".gitsm/server.yaml"
"""The server policy of ``gitsm serve`` (:mod:`gitsm.serverpolicy`): an administrator's file, changed
by plain git commits, not by gitsm operations."""
CHUNK = 128

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _safe_token(token: str) -> bool:
    """True for runs of ``[A-Za-z0-9_-]`` joined by single dots: never "..", never a "." at
    either end. (No ``re`` here: the quick read of get-secret-value starts without it.)"""
    return all(run and _SAFE.issuperset(run) for run in token.split("."))


def _escape(piece: str) -> str:
    return "~" + piece if piece.startswith(".") else piece


def _encode_segment(segment: str) -> list[str]:
    if segment == "":
        return ["~"]
    encoded = _escape(segment)
    if len(encoded) <= CHUNK:
        return [encoded]
    size = CHUNK - 1
    chunks = [_escape(segment[i : i + size]) for i in range(0, len(segment), size)]
    return [c + "~" for c in chunks[:-1]] + [chunks[-1]]


def _unescape(piece: str, path: str) -> str:
    if piece.startswith("~."):
        return piece[1:]
    if "~" in piece or piece == "":
        raise ValueError(f"not a secret directory: {path!r}")
    return piece


def secret_dir(name: str) -> str:
    """Return the tree path of the directory that holds the secret ``name``."""
    if (
        len(name) <= CHUNK and name[:1] not in ("", "/", ".") and name[-1] != "/"
        and "//" not in name and "/." not in name
    ):  # fmt: skip
        return f"{SECRETS_ROOT}/{name}"  # no segment is empty, escaped or cut: the name itself
    return _general_dir(name)


def _general_dir(name: str) -> str:
    parts = [SECRETS_ROOT]
    for segment in name.split("/"):
        parts.extend(_encode_segment(segment))
    return "/".join(parts)


def manifest_path(name: str) -> str:
    """Return the tree path of the manifest of secret ``name``."""
    return f"{secret_dir(name)}/{MANIFEST}"


def version_file_name(version_id: str) -> str:
    """Return the file name of a version's envelope inside the ``~versions`` directory."""
    if _safe_token(version_id):
        return f"{version_id}.json"
    import hashlib

    return "~" + hashlib.sha256(version_id.encode("utf-8")).hexdigest() + ".json"


def version_path(name: str, version_id: str) -> str:
    """Return the tree path of the envelope of one version of secret ``name``."""
    return f"{secret_dir(name)}/{VERSIONS}/{version_file_name(version_id)}"


def id_candidates(secret_id: str, arn_prefix: str) -> list[tuple[str, str | None]] | None:
    """The names a SecretId may stand for, each with the full ARN it must match (None: any):
    a name; a full ARN (``arn_prefix`` + name + ``-`` + six characters), tried as that secret's
    ARN first and as a partial ARN (``arn_prefix`` + name) second. None for an ARN that does not
    start with ``arn_prefix`` (another partition, Region or account)."""
    if not secret_id.startswith("arn:"):
        return [(secret_id, None)]
    if not secret_id.startswith(arn_prefix):
        return None
    rest = secret_id[len(arn_prefix) :]
    full = [(rest[:-7], secret_id)] if len(rest) > 7 and rest[-7] == "-" else []
    return [*full, (rest, None)]


def name_from_dir(path: str) -> str:
    """Invert :func:`secret_dir`: turn ``secrets/...`` back into the secret's name."""
    components = path.split("/")
    if not components or components[0] != SECRETS_ROOT or len(components) < 2:
        raise ValueError(f"not a secret directory: {path!r}")
    segments: list[str] = []
    pending: list[str] | None = None
    for comp in components[1:]:
        if len(comp) > 1 and comp.endswith("~"):
            pending = (pending or []) + [_unescape(comp[:-1], path)]
            continue
        if comp == "~" and pending is None:
            segments.append("")
        else:
            segments.append("".join((pending or []) + [_unescape(comp, path)]))
        pending = None
    if pending is not None:
        raise ValueError(f"not a secret directory: {path!r}")
    return "/".join(segments)


def is_store_path(path: str) -> bool:
    """True for the config and anything under ``secrets/``."""
    root = SECRETS_ROOT
    return path in (CONFIG_PATH, root) or path.startswith(root + "/")


def classify(path: str) -> tuple[str, str] | None:
    """``("manifest" | "envelope", secret dir)`` for a store file under ``secrets/``, else None."""
    parts = path.split("/")
    if parts[-1] == MANIFEST:
        kind, directory = "manifest", parts[:-1]
    elif len(parts) >= 2 and parts[-2] == VERSIONS and parts[-1].endswith(".json"):
        kind, directory = "envelope", parts[:-2]
    else:
        return None
    if len(directory) < 2 or directory[0] != SECRETS_ROOT:
        return None
    if VERSIONS in directory or MANIFEST in directory:
        return None
    return kind, "/".join(directory)
