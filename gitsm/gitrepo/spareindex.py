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
from collections.abc import Sequence, Set
from pathlib import Path

SPARE_NAME = "gitsm-index.spare"
OLD_NAME = "gitsm-index.old"
"""The old index's second name between the two renames of a swap (a leftover only after a crash)."""
_SETLEASE = getattr(fcntl, "F_SETLEASE", None)
_SETSIG = 10  # F_SETSIG on Linux (not exported by Python's fcntl)


class Early:
    """The spare, opened and leased ahead of a write's new index and filled with what that index
    takes unchanged from the old one (:mod:`.prehash` does it in its thread, beside the commit):
    :func:`write` then writes only the rest. Until then ``fd`` holds the lease (None when the spare
    could not be leased or written: :func:`write` does it all)."""

    def __init__(self, gitdir: Path, mode: int) -> None:
        self.gitdir = gitdir
        self.mode = mode
        self.fd: int | None = None

    def fill(self, parts: Sequence[bytes | memoryview]) -> None:
        """Lease the spare and write ``parts`` from its start (placeholders where the new
        entries go): at best one system call, which lets go of the interpreter lock."""
        fd = _open(self.gitdir)
        if fd is None:
            return
        try:
            if _lease(fd, self.mode):
                try:
                    _pwrite_all(fd, parts, 0)
                except OSError:
                    _unlease(fd)
                else:
                    self.fd, fd = fd, None
        finally:
            if fd is not None:
                os.close(fd)

    def close(self) -> None:
        """Give the lease up and close the spare, unless :func:`write` took it (idempotent)."""
        fd, self.fd = self.fd, None
        if fd is not None:
            _unlease(fd)
            os.close(fd)


def write(
    gitdir: Path, parts: Sequence[bytes | memoryview], *, mode: int, fsync: bool,
    early: Early | None = None, written: Set[int] = frozenset(),
) -> bool:  # fmt: skip
    """Write the index made of ``parts`` into the spare and swap it with the index; call it
    holding git's index lock. ``early``: the spare filled ahead, holding the parts numbered in
    ``written`` at their places already. False, with the index unchanged, when the spare cannot
    be overwritten safely (none, open elsewhere, not a plain file of one name) or writing it
    failed: the caller writes the index the usual way."""
    if _SETLEASE is None:  # no leases on this system
        return False
    fd = None
    if early is not None:
        fd, early.fd = early.fd, None  # its lease is this write's now
    if fd is None:
        written = frozenset()
        fd = _open(gitdir)
        if fd is None:
            return False
        if not _lease(fd, mode):
            os.close(fd)
            return False
    try:
        _finish(fd, parts, written, fsync=fsync)
    except OSError:
        return False
    finally:
        _unlease(fd)
        os.close(fd)
    index, old = gitdir / "index", gitdir / OLD_NAME
    # a crash's leftover is gone: indexlock.clear_own ran under the lock
    try:
        os.link(index, old)
    except OSError:
        return False
    try:
        os.replace(gitdir / SPARE_NAME, index)
    except OSError:
        old.unlink(missing_ok=True)
        return False
    with contextlib.suppress(OSError):  # the index is written: the spare is a saving only
        os.replace(old, gitdir / SPARE_NAME)
    return True


def _open(gitdir: Path) -> int | None:
    try:
        # not a FIFO or device someone put there: it must not block or act on being opened
        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        return os.open(gitdir / SPARE_NAME, flags)
    except OSError:
        return None


def _lease(fd: int, mode: int) -> bool:
    """Take a write lease on the open spare and check it is a plain file of one name owned by
    this user, with ``mode``; False, no lease held, otherwise."""
    if _SETLEASE is None:
        return False
    try:
        fcntl.fcntl(fd, _SETSIG, signal.SIGURG)
        fcntl.fcntl(fd, _SETLEASE, fcntl.F_WRLCK)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and st.st_uid == os.geteuid():
            if stat.S_IMODE(st.st_mode) != mode:
                os.fchmod(fd, mode)
            return True
    except OSError:
        pass
    _unlease(fd)
    return False


def _unlease(fd: int) -> None:
    if _SETLEASE is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _SETLEASE, fcntl.F_UNLCK)


def _pwrite_all(fd: int, parts: Sequence[bytes | memoryview], at: int) -> int:
    """Write ``parts`` one after another from ``at`` (one ``pwritev``, then what a short write
    left, part by part); where they end."""
    views = [memoryview(part) for part in parts]
    reached = at + os.pwritev(fd, views, at)
    start = at
    for view in views:
        end = start + view.nbytes
        if reached < end:  # a short write: the rest of this part
            rest, place = view[max(0, reached - start) :], max(reached, start)
            while rest:
                wrote = os.pwrite(fd, rest, place)
                rest, place = rest[wrote:], place + wrote
        start = end
    return start


def _finish(
    fd: int, parts: Sequence[bytes | memoryview], written: Set[int], *, fsync: bool
) -> None:
    """Write the parts of the index not ``written`` yet into the leased spare, at their places,
    and cut it to the index's length."""
    at = 0
    for number, part in enumerate(parts):
        view = memoryview(part)
        if number not in written:
            _pwrite_all(fd, [view], at)
        at += view.nbytes
    if os.fstat(fd).st_size > at:
        os.ftruncate(fd, at)
    if fsync:
        os.fsync(fd)


def keep(gitdir: Path) -> None:
    """Give the index a second name as the spare when there is none, before a new index file
    replaces it (best effort: without a spare the next write makes a new file)."""
    spare = gitdir / SPARE_NAME
    if os.path.lexists(spare):
        return
    with contextlib.suppress(OSError):
        os.link(gitdir / "index", spare)
