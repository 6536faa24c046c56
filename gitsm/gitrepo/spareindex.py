"""The index's previous file, kept and overwritten by the next write instead of a new file.

Replacing a 2.6 MB index (10,000 secrets) with a new file costs more than writing its bytes: the
file system allocates 640 new blocks for it and frees the old file's 640 when the rename drops
it, 3.4 ms on the 2-core machine, growing with the store (0.7 ms to overwrite a file of the same
size in place). So gitsm keeps the index it replaces as
``<gitdir>/gitsm-index.spare`` (:data:`SPARE_NAME`: a second name taken before the rename, so
nothing is freed), and the next write, holding git's index lock, writes the new index into the
spare and swaps the two names: the spare becomes ``index`` by a rename (readers see the old index
or the new one, never a part), the old index becomes the spare.

Overwriting a file in place is safe only when nobody reads it. The spare was the index two writes
ago, so a reader that opened it then (``git status`` on a large tree, a program keeping the index
mapped) may still hold it. A Linux write lease (``F_SETLEASE``) is granted only when no other
open file refers to the file, a mapping included, and holds off anyone who opens it until it is
given up: gitsm takes one before it writes and gives it up when the file is complete. When the
lease is refused (the file is open elsewhere, another user's, on a file system or system without
leases) or the spare is not a plain file of one name, the write goes through the lock file as git
writes it (:meth:`~gitsm.gitrepo.indexlock.IndexLock.commit_data`) and the spare waits for the
next write. A lease holder is told by a signal when someone opens the file: gitsm asks for
``SIGURG``, which is ignored unless a program handles it, instead of ``SIGIO``, which would end it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import stat
from collections.abc import Sequence
from pathlib import Path

SPARE_NAME = "gitsm-index.spare"
OLD_NAME = "gitsm-index.old"
"""The old index's second name between the two renames of a swap (a leftover only after a crash)."""
_SETLEASE = getattr(fcntl, "F_SETLEASE", None)
_SETSIG = 10  # F_SETSIG on Linux (not exported by Python's fcntl)


def write(gitdir: Path, parts: Sequence[bytes | memoryview], *, mode: int, fsync: bool) -> bool:
    """Write the index made of ``parts`` into the spare and swap it with the index; call it
    holding git's index lock. False, with the index unchanged, when the spare cannot be
    overwritten safely (none, open elsewhere, not a plain file of one name) or writing it failed:
    the caller writes the index the usual way."""
    if _SETLEASE is None:  # no leases on this system
        return False
    spare, index = gitdir / SPARE_NAME, gitdir / "index"
    try:
        # not a FIFO or device someone put there: it must not block or act on being opened
        fd = os.open(spare, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not _fill(fd, parts, mode=mode, fsync=fsync):
            return False
    except OSError:
        return False
    finally:
        os.close(fd)
    old = gitdir / OLD_NAME  # a crash's leftover is gone: indexlock.clear_own ran under the lock
    try:
        os.link(index, old)
    except OSError:
        return False
    try:
        os.replace(spare, index)
    except OSError:
        old.unlink(missing_ok=True)
        return False
    with contextlib.suppress(OSError):  # the index is written: the spare is a saving only
        os.replace(old, spare)
    return True


def _fill(fd: int, parts: Sequence[bytes | memoryview], *, mode: int, fsync: bool) -> bool:
    """Overwrite the open spare with ``parts`` under a write lease (False, untouched, when the
    lease is refused or it is not a plain file of one name owned by this user)."""
    assert _SETLEASE is not None
    try:
        fcntl.fcntl(fd, _SETSIG, signal.SIGURG)
        fcntl.fcntl(fd, _SETLEASE, fcntl.F_WRLCK)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_uid != os.geteuid():
            return False
        if stat.S_IMODE(st.st_mode) != mode:
            os.fchmod(fd, mode)
        at = 0
        for part in parts:
            view = memoryview(part)
            while view:
                done = os.pwrite(fd, view, at)
                at += done
                view = view[done:]
        if st.st_size > at:
            os.ftruncate(fd, at)
        if fsync:
            os.fsync(fd)
    finally:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, _SETLEASE, fcntl.F_UNLCK)
    return True


def keep(gitdir: Path) -> None:
    """Give the index a second name as the spare when there is none, before a new index file
    replaces it (best effort: without a spare the next write makes a new file)."""
    spare = gitdir / SPARE_NAME
    if os.path.lexists(spare):
        return
    with contextlib.suppress(OSError):
        os.link(gitdir / "index", spare)
