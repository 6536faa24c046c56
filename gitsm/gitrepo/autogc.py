"""When a write starts git's automatic gc: as git decides it, and not again while one runs.

git estimates the loose objects from ``objects/17`` against ``gc.auto`` (default 6,700; 0 turns it
off) and runs ``git gc --auto`` after the commands that add objects. gitsm does the same after a
write landed (in the background: it never fails or waits for the write). While a gc runs (its
lock, ``<gitdir>/gc.pid``, is held) the estimate stays over the limit, and starting another
``git gc --auto`` after every write only to have it find the lock cost each write a fork and an
exec (about 2 ms) and the machine a git process: in a 10,000-secret store, whose gc takes longest,
63 of 200 writes did so. So a write starts none while git's gc lock is held, judged as git judges
it, nor within :data:`SETTLE` seconds of the one this process started (before that one takes the
lock).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

DEFAULT_AUTO = 6700
"""git's default ``gc.auto``."""
SETTLE = 10.0
"""Seconds after starting a gc during which this process starts no other (it has not taken
``gc.pid`` yet, or is about to)."""
STALE = 12 * 3600
"""git's rule: a ``gc.pid`` older than 12 hours is a gc that died, whoever wrote it."""


def due(gitdir: Path, auto: int) -> bool:
    """Whether git would find too many loose objects: more in ``objects/17`` than ``auto`` spread
    over 256 directories (never when ``auto`` is 0 or less)."""
    if auto <= 0:
        return False
    try:
        loose = len(os.listdir(gitdir / "objects" / "17"))
    except OSError:
        return False
    return loose > (auto + 255) // 256


def running(gitdir: Path) -> bool:
    """Whether a gc holds the repository's gc lock, as git's ``gc`` decides before taking it:
    ``gc.pid`` (``PID HOSTNAME``) younger than 12 hours, written by a live process of this host
    or by another host."""
    lock = gitdir / "gc.pid"
    try:
        if time.time() - lock.stat().st_mtime > STALE:
            return False
        pid, _, host = lock.read_text(errors="replace").strip().partition(" ")
        number = int(pid)
    except (OSError, ValueError):
        return False
    if host != os.uname().nodename:
        return True
    try:
        os.kill(number, 0)
    except PermissionError:
        return True  # alive, another user's
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    return True
