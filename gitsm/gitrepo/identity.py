"""Who a commit is by: the author and committer identities, decided by git itself.

``git commit`` takes its identity from GIT_AUTHOR_*/GIT_COMMITTER_* variables, ``author.*``,
``committer.*`` and ``user.*`` config keys (from every config source: system, global, repository,
worktree, GIT_CONFIG_COUNT/KEY_n/VALUE_n, ``git -c``'s GIT_CONFIG_PARAMETERS, includes), EMAIL, and
GIT_AUTHOR_DATE/GIT_COMMITTER_DATE. Rather than re-implement those rules, ask git:
``git var GIT_AUTHOR_IDENT`` and ``git var GIT_COMMITTER_IDENT``, run strictly (as ``git commit``
does, refusing an identity it would only guess from the user and host names). ``git var -l`` is not
used: it reports the guessed identity where ``git commit`` would stop.

The answer is kept per process, keyed by the repository, the variables that can change it, and the
size and modification time of the config files git reads (not of files those include), so a write
pays two ``git`` runs only when one of those changes; and, where that key can tell (no includes, no
fixed dates, config files not just changed), from one process to the next in the git dir
(:mod:`gitsm.gitrepo.answers`). When git refuses a side (no identity
configured anywhere), that side is ``gitsm <gitsm@localhost>``; when git is not installed, both
sides are the repository config's ``user.name``/``user.email`` as libgit2 reads them, else that
fallback. A write never fails for want of an identity.

The output of ``git var`` is parsed and never logged; its stderr is discarded.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pygit2

from gitsm.gitenv import REDIRECTING_GIT_VARS, finish_git, start_git
from gitsm.gitrepo import answers

FALLBACK_NAME, FALLBACK_EMAIL = "gitsm", "gitsm@localhost"
GIT_VAR_TIMEOUT = 10.0
_SIDES = ("AUTHOR", "COMMITTER")
_IDENT = re.compile(r"(?P<name>.*) <(?P<email>[^<>]*)> (?P<time>\d+) (?P<offset>[+-]\d{4})")
_ENV_ALSO = frozenset({"EMAIL", "HOME", "XDG_CONFIG_HOME", "PATH"})
_CACHE_MAX = 64

CacheKey = tuple[object, ...]


@dataclass(frozen=True)
class Ident:
    """One side's identity; ``time``/``offset`` only when GIT_<SIDE>_DATE fixed them."""

    name: str
    email: str
    time: int | None = None
    offset: int = 0

    def signature(self, when: datetime) -> pygit2.Signature:
        """A signature at the date git parsed from GIT_<SIDE>_DATE, else at ``when`` (UTC)."""
        if self.time is not None:
            return pygit2.Signature(self.name, self.email, self.time, self.offset)
        return pygit2.Signature(self.name, self.email, int(when.timestamp()), 0)


_cache: dict[CacheKey, tuple[Ident, Ident]] = {}


def parse_ident(line: str) -> tuple[str, str, int, int] | None:
    """(name, email, seconds, offset in minutes) of a ``git var`` ident line, or None."""
    match = _IDENT.fullmatch(line.strip())
    if match is None or not match["name"]:
        return None
    offset = match["offset"]
    minutes = int(offset[1:3]) * 60 + int(offset[3:5])
    return (
        match["name"],
        match["email"],
        int(match["time"]),
        -minutes if offset[0] == "-" else minutes,
    )


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


@functools.lru_cache(maxsize=_CACHE_MAX)
def _repo_config_files(gitdir: str) -> tuple[str, ...]:
    """The repository's own config files: its config and config.worktree, and for a linked
    worktree the main repository's config (``commondir``)."""
    files = [os.path.join(gitdir, "config"), os.path.join(gitdir, "config.worktree")]
    try:
        with open(os.path.join(gitdir, "commondir"), encoding="utf-8") as fh:
            common = os.path.normpath(os.path.join(gitdir, fh.read().strip()))
        files.append(os.path.join(common, "config"))
    except (OSError, ValueError):
        pass
    return tuple(files)


def _config_files(gitdir: str, env: dict[str, str]) -> list[str]:
    """The config files git reads for ``gitdir``: repository, worktree, global and system."""
    files = list(_repo_config_files(gitdir))
    home = env.get("HOME", "")
    if "GIT_CONFIG_GLOBAL" in env:
        files.append(env["GIT_CONFIG_GLOBAL"])
    else:
        xdg = env.get("XDG_CONFIG_HOME") or (f"{home}/.config" if home else "")
        files += [f"{home}/.gitconfig"] if home else []
        files += [f"{xdg}/git/config"] if xdg else []
    files.append(env.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig")
    return files


def _env() -> dict[str, str]:
    """The variables that can change git's answers."""
    return {
        k: v
        for k, v in os.environ.items()
        if (k.startswith("GIT_") and k not in REDIRECTING_GIT_VARS) or k in _ENV_ALSO
    }


def cache_key(gitdir: Path) -> CacheKey:
    """What the identities of a write in ``gitdir`` depend on, as far as it is cheap to tell."""
    env = _env()
    where = str(gitdir)
    stamps = tuple(_stamp(f) for f in _config_files(where, env))
    return where, tuple(sorted(env.items())), stamps


def keepable(gitdir: Path) -> bool:
    """True when git's answers for ``gitdir`` may be kept for the next process
    (:func:`gitsm.gitrepo.answers.keepable`)."""
    env = _env()
    return answers.keepable(_config_files(str(gitdir), env), env)


def _recall(gitdir: Path, key: CacheKey) -> tuple[Ident, Ident] | None:
    """The identities an earlier process kept for ``key`` (:mod:`gitsm.gitrepo.answers`)."""
    kept = answers.recall(gitdir, key, "ident")
    if not (isinstance(kept, list) and len(kept) == 2):
        return None
    sides = []
    for side in kept:
        if not (
            isinstance(side, list) and len(side) == 2 and all(isinstance(x, str) for x in side)
        ):
            return None
        sides.append(Ident(side[0], side[1]))
    _remember(key, (sides[0], sides[1]))
    return sides[0], sides[1]


def _remember(key: CacheKey, kept: tuple[Ident, Ident]) -> None:
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[key] = kept


_pending: dict[CacheKey, dict[str, subprocess.Popen[bytes]]] = {}
"""``git var`` runs started by :func:`prefetch`, answered by the next :func:`identities`."""


def _start(gitdir: Path) -> dict[str, subprocess.Popen[bytes]]:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for side in _SIDES:
        try:
            procs[side] = start_git(["var", f"GIT_{side}_IDENT"], git_dir=gitdir, cwd=gitdir)
        except OSError:
            continue
    return procs


def prefetch(gitdir: Path, key: CacheKey | None = None) -> None:
    """Start asking git for the identities of a commit in ``gitdir`` now (a write calls this
    before it prepares its change, so that git answers meanwhile); nothing happens when they are
    known already or being asked. ``key``: :func:`cache_key` of ``gitdir`` when the caller has
    it."""
    key = key or cache_key(gitdir)
    if key in _cache or key in _pending or shutil.which("git") is None:
        return
    if _recall(gitdir, key) is None:
        _pending[key] = _start(gitdir)


def _ask_git(gitdir: Path, key: CacheKey) -> dict[str, Ident] | None:
    """The sides git answers for (``git var GIT_<SIDE>_IDENT``); None when git is missing."""
    if shutil.which("git") is None:
        return None
    procs = _pending.pop(key, None) or _start(gitdir)
    found: dict[str, Ident] = {}
    for side, proc in procs.items():
        try:
            done = finish_git(proc, GIT_VAR_TIMEOUT)
        except subprocess.TimeoutExpired:
            continue
        parsed = (
            parse_ident(done.stdout.decode("utf-8", "replace")) if done.returncode == 0 else None
        )
        if parsed is None:
            continue
        name, email, seconds, offset = parsed
        if os.environ.get(f"GIT_{side}_DATE"):
            found[side] = Ident(name, email, seconds, offset)
        else:
            found[side] = Ident(name, email)
    return found


def identities(gitdir: Path, fallback: Callable[[], tuple[str, str]]) -> tuple[Ident, Ident]:
    """(author, committer) for a commit in ``gitdir``, as ``git commit`` would record them.

    A side git refuses (it knows no identity) is ``gitsm <gitsm@localhost>``; without git at all,
    both sides are what ``fallback`` gives (the repository config as libgit2 reads it).
    """
    key = cache_key(gitdir)
    kept = _cache.get(key) or (None if key in _pending else _recall(gitdir, key))
    if kept is not None:
        return kept
    found = _ask_git(gitdir, key)
    asked = found is not None
    if found is None:
        found = dict.fromkeys(_SIDES, Ident(*fallback()))
    for side in _SIDES:
        found.setdefault(side, Ident(FALLBACK_NAME, FALLBACK_EMAIL))
    kept = found["AUTHOR"], found["COMMITTER"]
    _remember(key, kept)
    if asked and keepable(gitdir):
        answers.keep(gitdir, key, "ident", [[kept[0].name, kept[0].email],
                                            [kept[1].name, kept[1].email]])  # fmt: skip
    return kept


def clear_cache() -> None:
    """Forget every identity kept by this process."""
    _cache.clear()
    for procs in _pending.values():
        for proc in procs.values():
            proc.kill()
            proc.communicate()
    _pending.clear()
