"""git's index lock, taken the way git takes it, so that gitsm and git never write the index at
once.

git writes the index by creating ``<gitdir>/index.lock`` exclusively (O_CREAT|O_EXCL), writing the
new index into it and renaming it over ``index``; a second writer finds the lock and stops. gitsm
does the same: :meth:`IndexLock.acquire` creates the lock before a write checks the checkout clean
and before the branch moves, so a lock held by another program (a running ``git add``, ``git
commit`` waiting for its editor) fails the write before anything changes
(:class:`~gitsm.errors.GitLockHeld`, after a short wait for a quick git command to finish), and an
index someone else is writing is never replaced. The new index is built by libgit2 in a private
file (:data:`WORK_NAME`), copied into the lock, and the lock renamed over the index
(:meth:`IndexLock.commit`).

A killed gitsm writer's lock must not block the checkout for good, nor may anyone else's lock be
taken for gitsm's. So gitsm creates its lock as a second name of a file it owns: it creates
``<gitdir>/gitsm-index.lock`` (:data:`MARK_NAME`) and hard-links it to ``index.lock``, which fails
exactly as O_EXCL does when the lock exists. While both names point to one file, the lock is
gitsm's; the next writer (holding gitsm's advisory lock, so no gitsm writer is alive) removes such
a lock at once (:func:`clear_own`) and leaves any other alone. On a file system without hard links
the lock is created with O_EXCL alone, and a lock a killed writer left there must be removed by
hand, as git asks for its own.

Entries are copied with their file stat data (pygit2's ``IndexEntry`` keeps none), through
pygit2's cffi bindings of ``git_index_get_bypath``/``git_index_add``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Sequence, Set
from pathlib import Path
from types import TracebackType

import pygit2
from pygit2.ffi import C, ffi

from gitsm.errors import GitLockHeld
from gitsm.gitrepo import spareindex
from gitsm.gitrepo.indexfile import IndexImage
from gitsm.gitrepo.prehash import Prehash
from gitsm.gitrepo.splitindex import SplitImage, plain_copy

Image = IndexImage | SplitImage
"""An index as gitsm reads and changes it: whole, or split (:mod:`.splitindex`)."""

LOCK_NAME = "index.lock"
MARK_NAME = "gitsm-index.lock"
WORK_NAME = "gitsm-index.new"
_NO_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS})


def held_message(lock: Path, where: Path, outcome: str = "nothing was written") -> str:
    """What to do about an index lock another program holds; ``outcome`` ends it."""
    return (
        f"git's index lock {lock} is held by another program, so gitsm cannot update the index "
        f"of {where}: a git command is running there (wait for it to finish: a 'git commit' "
        "holds it while its editor is open), or one was killed and left the lock behind (then "
        f"remove the file, once no git command is running there). Then run this again; {outcome}."
    )


def clear_own(gitdir: Path) -> None:
    """Remove the index lock a killed gitsm writer left (the one that is its mark's second name),
    and gitsm's other leftovers; never anyone else's lock. Call it holding gitsm's write lock."""
    mark, lock = gitdir / MARK_NAME, gitdir / LOCK_NAME
    with contextlib.suppress(FileNotFoundError):
        if os.path.samefile(mark, lock):
            lock.unlink()
    for name in (MARK_NAME, WORK_NAME, WORK_NAME + ".lock", spareindex.OLD_NAME):
        (gitdir / name).unlink(missing_ok=True)


class IndexLock:
    """``<gitdir>/index.lock``, held by this process until :meth:`commit` or :meth:`release`."""

    def __init__(self, gitdir: Path, fd: int, marked: bool, fsync: bool) -> None:
        self.gitdir = gitdir
        self.lock = gitdir / LOCK_NAME
        self.work = gitdir / WORK_NAME
        self._fd: int | None = fd
        self._marked = marked
        self._fsync = fsync
        self.image: Image | None = None
        """The index as read under this lock (:mod:`.indexfile`), when it was read that way."""
        self.prehash: Prehash | None = None
        """The start of the index this write will patch from :attr:`image`, hashing
        (:mod:`.prehash`)."""

    @classmethod
    def acquire(
        cls, gitdir: Path, where: Path, *, fsync: bool, wait: float,
        outcome: str = "nothing was written",
    ) -> IndexLock:  # fmt: skip
        """Take the index lock, waiting up to ``wait`` seconds while another program holds it.

        Raises GitLockHeld (its message ending with ``outcome``) when it is still held then,
        OSError when the lock cannot be created (a full or read-only disk).
        """
        deadline = time.monotonic() + wait
        while True:
            try:
                return cls._take(gitdir, fsync)
            except FileExistsError:
                if time.monotonic() >= deadline:
                    lock = gitdir / LOCK_NAME
                    raise GitLockHeld(held_message(lock, where, outcome)) from None
                time.sleep(0.02)

    @classmethod
    def _take(cls, gitdir: Path, fsync: bool) -> IndexLock:
        mark, lock = gitdir / MARK_NAME, gitdir / LOCK_NAME
        mark.unlink(missing_ok=True)
        fd = os.open(mark, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            with contextlib.suppress(OSError):  # keep the index's mode (core.sharedRepository)
                os.fchmod(fd, os.stat(gitdir / "index").st_mode & 0o777)
            os.link(mark, lock)
        except OSError as exc:
            os.close(fd)
            mark.unlink(missing_ok=True)
            if exc.errno not in _NO_LINKS:
                raise
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            return cls(gitdir, os.open(lock, flags, 0o666), False, fsync)
        return cls(gitdir, fd, True, fsync)

    def working_index(self) -> pygit2.Index:
        """A private copy of the current index (:data:`WORK_NAME`), to change and write."""
        self.work.unlink(missing_ok=True)
        plain_copy(self.gitdir / "index", self.work, self.gitdir)  # none yet: an empty one
        return pygit2.Index(str(self.work))

    @staticmethod
    def copy_entry(source: pygit2.Index, target: pygit2.Index, path: str) -> None:
        """Put ``source``'s stage-0 entry of ``path`` into ``target``, file stat data included."""
        entry = C.git_index_get_bypath(source._index, os.fsencode(path), 0)
        if entry == ffi.NULL:
            raise KeyError(path)
        if C.git_index_add(target._index, entry) < 0:
            raise pygit2.GitError(f"could not add {path} to the index")

    def commit(self) -> None:
        """Copy the written working index into the lock and rename the lock over the index."""
        self.commit_data(self.work.read_bytes())

    def early_spare(self) -> spareindex.Early | None:
        """The spare index to fill ahead of this write's index (:mod:`.prehash`), when the index
        will be written through it."""
        if not self._marked or self._fd is None:
            return None
        return spareindex.Early(self.gitdir, stat.S_IMODE(os.fstat(self._fd).st_mode))

    def commit_data(
        self, data: bytes | Sequence[bytes | memoryview], *,
        early: spareindex.Early | None = None, written: Set[int] = frozenset(),
    ) -> None:  # fmt: skip
        """Write ``data`` (a whole index file, or its parts in order) into the spare index and
        swap it in (:mod:`.spareindex`; ``early``: the spare filled ahead with the parts numbered
        in ``written``), or else into the lock and rename the lock over the index, keeping the
        old one as the spare; then give the lock up."""
        assert self._fd is not None
        parts = [data] if isinstance(data, bytes) else data
        if self._marked:
            mode = stat.S_IMODE(os.fstat(self._fd).st_mode)
            if spareindex.write(self.gitdir, parts, mode=mode, fsync=self._fsync, early=early,
                                written=written):  # fmt: skip
                self.release()
                return
        self._end_prehash()
        for part in parts:
            view = memoryview(part)
            while view:
                view = view[os.write(self._fd, view) :]
        if self._fsync:
            os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        if self._marked:
            spareindex.keep(self.gitdir)
        os.replace(self.lock, self.gitdir / "index")
        self._forget()

    def _end_prehash(self) -> None:
        """Wait for the thread of :attr:`prehash` and give up a spare it filled and no write
        took."""
        if self.prehash is not None:
            self.prehash.close()
            self.prehash = None

    def release(self) -> None:
        """Give the lock up without changing the index (idempotent)."""
        self._end_prehash()
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        with contextlib.suppress(FileNotFoundError):
            if not self._marked or os.path.samefile(self.gitdir / MARK_NAME, self.lock):
                self.lock.unlink()
        self._forget()

    def _forget(self) -> None:
        for name in (MARK_NAME, WORK_NAME, WORK_NAME + ".lock"):
            with contextlib.suppress(OSError):
                (self.gitdir / name).unlink()

    def __enter__(self) -> IndexLock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
