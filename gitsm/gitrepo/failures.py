"""How the git layer fails: pygit2's and the operating system's errors become gitsm errors here.

Every public method of the git layer's classes is wrapped by :func:`translating` (a class
decorator), so that callers above it see only gitsm errors: a corrupt or missing object, a
truncated pack or an unreadable index or ref is a :class:`~gitsm.errors.RepositoryError`; a disk
that is full, read-only or failing is a :class:`~gitsm.errors.StorageError` (``StorageFull``,
``ReadOnlyStore``); all exit 253 and say what to do. Methods that can fail after something was
written say so themselves (``GitRepo.commit`` reports a landed write; see ``repo``); what is
translated here failed before anything changed, or during a read.

libgit2 reports operating-system errors as text without an errno (``failed to write out file: No
space left on device``), so the system's words for the common causes are matched in the text, and
for writes the file system itself is asked (``statvfs``: read-only, or no space left).

Messages carry libgit2's words (object ids and paths, never file contents) and paths.
"""

from __future__ import annotations

import errno
import functools
import inspect
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pygit2

from gitsm.errors import GitsmError, RepositoryError, StorageError, storage_error

T = TypeVar("T")

_KNOWN = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO)
_BY_WORDS = {os.strerror(code).lower(): code for code in _KNOWN}
_VANISHED = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR})
_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
LOW_SPACE = 64 << 10
"""Fewer free bytes than this on the store's file system count as "no space left" when libgit2's
words do not say why a write failed."""

FSCK_HINT = (
    "Run 'git fsck' there to see what is broken, then restore the damaged objects from another "
    "clone (git fetch from a remote that has them) or clone the store again"
)


def fanout_vanished(exc: BaseException) -> bool:
    """True when libgit2 failed to move a new loose object into its fan-out directory
    (``objects/xx``) because that directory was gone: a ``git gc`` or ``git prune-packed``
    running beside the write removes empty fan-out directories, and libgit2, unlike git, does not
    create the directory again. Writing the object again succeeds (objects are named by their
    content, so nothing is written twice). pygit2 raises it as an OSError (libgit2's error class
    for the operating system's errors); a GitError with the same words is taken alike."""
    text = str(exc)
    return (
        isinstance(exc, (pygit2.GitError, OSError))
        and "rename" in text
        and f"{os.sep}objects{os.sep}" in text
        and os.strerror(errno.ENOENT) in text
    )


def errno_of(text: str) -> int | None:
    """The errno whose system words (``No space left on device``) ``text`` contains, if any."""
    low = text.lower()
    for words, code in _BY_WORDS.items():
        if words in low:
            return code
    return None


def filesystem_errno(where: Path) -> int | None:
    """ENOSPC or EROFS when the file system holding ``where`` is full or mounted read-only."""
    try:
        st = os.statvfs(where)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return errno.EROFS
    if st.f_bavail * st.f_frsize < LOW_SPACE or (st.f_files and st.f_favail == 0):
        return errno.ENOSPC
    return None


def is_missing_object(exc: BaseException) -> bool:
    """True for pygit2's "no such object" (a KeyError naming an object id)."""
    if isinstance(exc, pygit2.GitError) and isinstance(exc, KeyError):
        return True
    return isinstance(exc, KeyError) and bool(exc.args) and bool(_OID.search(str(exc.args[0])))


def translate(
    exc: BaseException, where: Path, doing: str, *, writing: bool = False, advice: str = ""
) -> GitsmError | None:
    """The gitsm error for ``exc`` (None when it is not a failure of git or of the system).

    ``where`` is the repository (its work tree, or git dir); ``doing`` what was under way
    (``reading the branch``); ``writing`` lets the file system be asked why a write failed;
    ``advice`` ends the message (``nothing was written``).
    """
    if isinstance(exc, GitsmError):
        return exc
    what = f"{doing} in {where}"
    if isinstance(exc, OSError) and exc.errno in _VANISHED:
        return RepositoryError(
            f"The git repository at {where} is damaged or was changed under gitsm: "
            f"{exc.strerror}: {exc.filename} (while {doing}). {FSCK_HINT}"
            f"{'; ' + advice if advice else ''}."
        )
    if isinstance(exc, OSError) and exc.errno is not None:
        return storage_error(exc, what, advice)
    if not isinstance(exc, pygit2.GitError | OSError) and not is_missing_object(exc):
        return None
    text = str(exc) if not isinstance(exc, KeyError) else f"object {exc.args[0]} is missing"
    code = errno_of(text)
    if code is None and (writing or isinstance(exc, OSError)):
        code = filesystem_errno(where)
    if code is not None:
        return storage_error(OSError(code, text), what, advice)
    if writing and isinstance(exc, OSError):  # libgit2 could not write, for a reason it kept
        return StorageError(
            f"git could not write while {what} ({text}). Check the file system (free space, "
            f"permissions, dmesg) and run the command again.{' ' + advice if advice else ''}"
        )
    tail = f"; {advice}" if advice else ""
    return RepositoryError(
        f"The git repository at {where} is damaged: {text} (while {doing}). {FSCK_HINT}{tail}."
    )


def _where(owner: object) -> Path:
    workdir = getattr(owner, "workdir", None)
    if isinstance(workdir, Path):
        return workdir
    gitdir = getattr(owner, "gitdir", None)
    if isinstance(gitdir, Path):
        return gitdir
    repo = getattr(owner, "repo", None)
    path = getattr(repo, "workdir", None) or getattr(repo, "path", None) or "."
    return Path(str(path))


_DOING = {
    "commit": "writing a commit",
    "advance": "moving the branch",
    "write_commit": "writing a commit",
    "set_ref": "writing a reference",
    "delete_ref": "deleting a reference",
    "staged_snapshot": "reading the index",
    "staged_entries": "reading the index",
    "unmerged_paths": "reading the index",
}


def _wrap(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    doing = _DOING.get(name, "reading the repository")

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def generator(self: object, *args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from func(self, *args, **kwargs)
            except Exception as exc:
                error = translate(exc, _where(self), doing)
                if error is None or error is exc:
                    raise
                raise error from None

        return generator

    @functools.wraps(func)
    def method(self: object, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(self, *args, **kwargs)
        except Exception as exc:
            error = translate(exc, _where(self), doing)
            if error is None or error is exc:
                raise
            raise error from None

    return method


def translating(cls: type[T]) -> type[T]:
    """Wrap the public methods ``cls`` defines so that they raise gitsm errors only (see the
    module docstring). Class methods and static methods are left as they are."""
    for name, value in list(vars(cls).items()):
        if name.startswith("_") or not inspect.isfunction(value):
            continue
        setattr(cls, name, _wrap(name, value))
    return cls
