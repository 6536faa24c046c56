"""The per-commit response cache, and reading the branch tip cheaply on every request.

A read's answer depends on the commit the branch points to, the request, the caller (what it may
see) and the clock (a secret past its deletion date disappears; rotation dates move). So answers
are kept per commit: the tip is read from the ref files on every request (one small file read,
about 15 us), and the whole cache is dropped as soon as it differs, whoever moved it (this
server, another gitsm process, ``gitsm sync``, ``git pull``). Entries also expire after
:data:`MAX_AGE` seconds, for what the clock changes. Only successful answers are kept.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

MAX_AGE = 2.0
"""Seconds an answer is reused at one commit (what depends on the clock stays within this)."""
MAX_ENTRIES = 10_000
"""Answers kept at one commit at most; the cache starts over when full."""
MAX_BYTES = 64 * 1024 * 1024
"""Bytes of answers kept at most (a BatchGetSecretValue answer can be over a megabyte); the cache
starts over beyond."""


class TipReader:
    """The commit id a branch points to, read from git's ref files with the standard library.

    Reads ``<common dir>/refs/heads/<branch>``, else the branch's line in ``packed-refs``. A
    repository whose refs live in a reftable gives ``None``: the cache is then off.
    """

    def __init__(self, gitdir: Path, branch: str) -> None:
        common = gitdir
        pointer = gitdir / "commondir"
        if pointer.is_file():  # a linked work tree: the branches live in the main repository
            common = (gitdir / pointer.read_text().strip()).resolve()
        self.reftable = (common / "reftable").exists()
        self.ref_name = f"refs/heads/{branch}"
        self.loose = os.path.join(common, self.ref_name)
        self.packed = os.path.join(common, "packed-refs")

    def tip(self) -> str | None:
        """The branch's commit id, or None (no such branch, or refs git files cannot give)."""
        if self.reftable:
            return None
        try:
            with open(self.loose, "rb") as handle:
                text = handle.read(128).strip()
            if text and not text.startswith(b"ref:"):
                return text.decode("ascii", "replace")
        except FileNotFoundError:
            pass
        except OSError:
            return None
        return self._packed()

    def _packed(self) -> str | None:
        suffix = " " + self.ref_name
        try:
            with open(self.packed, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    line = line.rstrip("\n")
                    if line.endswith(suffix) and not line.startswith(("#", "^")):
                        return line[: -len(suffix)]
        except OSError:
            return None
        return None


CacheKey = tuple[str, str, str, str]
"""(operation, canonical parameters, principal, region)."""


class ResponseCache:
    """Answers (HTTP status and body) kept for one commit of the branch."""

    def __init__(self) -> None:
        self.commit: str | None = None
        self.entries: dict[CacheKey, tuple[float, bytes]] = {}
        self.size = 0
        self.hits = 0
        self.misses = 0

    def get(self, commit: str | None, key: CacheKey) -> bytes | None:
        """The body kept for ``key`` at ``commit``; drops everything when the commit moved."""
        if commit != self.commit:
            self.clear()
            self.commit = commit
        if commit is None:
            return None
        found = self.entries.get(key)
        if found is None or time.monotonic() - found[0] > MAX_AGE:
            self.misses += 1
            return None
        self.hits += 1
        return found[1]

    def put(self, commit: str | None, key: CacheKey, body: bytes) -> None:
        """Keep ``body`` for ``key``, if the cache is still at ``commit``, the tip read before the
        answer was made (so the answer is of that commit or a newer one, and the next request
        that sees the newer tip drops it)."""
        if commit is None or commit != self.commit:
            return
        if len(self.entries) >= MAX_ENTRIES or self.size + len(body) > MAX_BYTES:
            self.entries = {}
            self.size = 0
        old = self.entries.get(key)
        self.size += len(body) - (len(old[1]) if old else 0)
        self.entries[key] = (time.monotonic(), body)

    def clear(self) -> None:
        """Forget everything (the tip moved, or the store was reset)."""
        self.entries = {}
        self.size = 0
        self.commit = None
