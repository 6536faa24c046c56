"""Writing plaintext: all files or none, each atomically, 0600 files in 0700 directories, and never
through a symbolic link from the base directory down.

Every path is a base directory (``--out``, or the directory of a document's ``--out FILE``) and
components below it. The base is opened once (``O_DIRECTORY``; with ``O_NOFOLLOW`` too when the base
itself may not be a link, as ``--out`` may not), and each directory below it is opened relative to
its parent with ``O_DIRECTORY | O_NOFOLLOW``, or created there (0700 whatever the umask) when it is
missing. Every file operation then names a single component relative to an open directory
(``dir_fd``), so a directory swapped for a symbolic link after the checks cannot send a write
elsewhere: opening it fails, and the run is rolled back.

A set of files is written in two phases. Prepare: open the directories that exist, and write every
value to a temporary file beside its target (created 0600 with ``O_EXCL | O_NOFOLLOW``, then given
the entry's mode if that is another). A directory that does not exist yet is made under a
temporary name in its parent and everything below it is written there under the final names (no
reader can see into it before it is complete): a CI job's ``--out`` into a new directory costs
three system calls a file instead of six. Commit: ``rename`` each temporary file over its target,
after hard-linking an existing target to a backup name, and each new directory to its name (which
must still be free). A failure in either phase rolls back everything: temporary files removed,
replaced targets restored from their backups, new targets removed, created directories and their
files removed (deepest first). Readers see a target's old content or its new content, never a
partial file or directory. Files are not fsynced: CI secrets are short-lived, and the atomic
renames are what keep readers from seeing a torn file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets as _random
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from gitsm.materialize.errors import MaterializeError

DIR_MODE = 0o700
FILE_MODE = 0o600
TMP_SUFFIX = ".gitsm-tmp"
LINK_REFUSED = "is a symbolic link, and gitsm writes through no link from --out down"
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_FD_HEADROOM = 64

Parts = tuple[str, ...]
"""A path below the base directory, as its components (no ``.``, ``..`` or empty ones)."""


def _link_error(shown: str) -> OSError:
    return OSError(errno.ELOOP, f"{shown} {LINK_REFUSED}", shown)


def _is_link(path: str, parent: int | None) -> bool:
    try:
        return stat.S_ISLNK(os.stat(path, dir_fd=parent, follow_symlinks=False).st_mode)
    except OSError:
        return False


@dataclass
class _Staged:
    directory: int
    name: str
    shown: str
    temp: str | None = None
    existed: bool = False
    backup: str | None = None


@dataclass
class _Made:
    """A directory this run created: its parent's descriptor, its name now and its final name
    (another while it waits under a temporary name for the commit), and how it is shown."""

    parent: int
    name: str
    final: str
    shown: str


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


@dataclass
class _Txn:
    base: str
    follow_base: bool
    fds: list[int] = field(default_factory=list)
    dirs: dict[Parts, int] = field(default_factory=dict)
    new: set[Parts] = field(default_factory=set)
    """Directories this run created: nothing else can be in them, and no reader sees into them
    before the commit, so their files are written under their final names."""
    created: list[_Made] = field(default_factory=list)
    pending: list[_Made] = field(default_factory=list)
    """The created directories under temporary names, each renamed to its own at the commit."""
    direct: list[tuple[int, str]] = field(default_factory=list)
    """Files written under their final names in a created directory."""
    staged: list[_Staged] = field(default_factory=list)
    renamed: list[_Staged] = field(default_factory=list)
    token: str = field(default_factory=lambda: _random.token_hex(4))
    count: int = 0
    umask: int = field(default_factory=_umask)

    def shown(self, parts: Parts) -> str:
        return os.path.join(self.base, *parts)

    def _open_dir(self, path: str, parent: int | None, shown: str, *, follow: bool = False) -> int:
        """Open a directory (relative to ``parent``), refusing a symbolic link unless ``follow``."""
        flags = _DIR_FLAGS if follow else _DIR_FLAGS | os.O_NOFOLLOW
        try:
            fd = os.open(path, flags, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR) and not follow and _is_link(path, parent):
                raise _link_error(shown) from None
            raise
        self.fds.append(fd)
        return fd

    def _temp_name(self, name: str) -> str:
        self.count += 1
        return f".{name[:40]}.{self.token}{self.count}{TMP_SUFFIX}"

    def _make_dir(self, parent: int, name: str, shown: str, *, hidden: bool) -> int:
        """Create directory ``name`` in ``parent`` (0700) and open it without following links;
        ``hidden``: under a temporary name, renamed to ``name`` at the commit."""
        while True:
            made = _Made(parent, self._temp_name(name) if hidden else name, name, shown)
            try:
                os.mkdir(made.name, DIR_MODE, dir_fd=parent)
                break
            except FileExistsError:
                if hidden:  # another run's temporary name: draw another
                    self.token = _random.token_hex(4)
                    continue
                raise
        self.created.append(made)
        if hidden:
            self.pending.append(made)
        fd = self._open_dir(made.name, parent, shown)
        os.fchmod(fd, DIR_MODE)  # whatever the umask
        return fd

    def _open_base(self) -> int:
        """The base directory; missing directories on its way are created (0700)."""
        path = self.base.rstrip("/") or ("/" if self.base.startswith("/") else ".")
        missing: list[str] = []
        probe = path
        while True:
            follow = self.follow_base or probe != path  # directories above the base are followed
            try:
                fd = self._open_dir(probe, None, probe, follow=follow)
                break
            except FileNotFoundError:
                head, tail = os.path.split(probe)
                if tail in ("", ".", ".."):
                    raise
                missing.append(tail)
                probe = head or "."
        for n, name in enumerate(reversed(missing)):
            probe = os.path.join(probe, name)
            fd = self._make_dir(fd, name, probe, hidden=n == 0)
        if missing:
            self.new.add(())
        return fd

    def directory(self, parts: Parts) -> int:
        """The open directory ``parts`` below the base, created (with its parents) if missing."""
        if parts in self.dirs:
            return self.dirs[parts]
        if not parts:
            fd = self._open_base()
        else:
            parent = self.directory(parts[:-1])
            shown = self.shown(parts)
            if parts[:-1] in self.new:  # nothing exists yet in a directory made here
                fd = self._make_dir(parent, parts[-1], shown, hidden=False)
                self.new.add(parts)
            else:
                try:
                    fd = self._open_dir(parts[-1], parent, shown)
                except FileNotFoundError:
                    fd = self._make_dir(parent, parts[-1], shown, hidden=True)
                    self.new.add(parts)
        self.dirs[parts] = fd
        return fd

    def stage(self, parts: Parts, data: bytes, mode: int) -> None:
        directory = self.directory(parts[:-1])
        if parts[:-1] in self.new:
            fd = self._create_direct(directory, parts)
        else:
            entry = _Staged(directory, parts[-1], self.shown(parts))
            try:
                info = os.stat(entry.name, dir_fd=directory, follow_symlinks=False)
            except FileNotFoundError:
                pass
            else:
                if stat.S_ISLNK(info.st_mode):
                    raise _link_error(entry.shown)
                if stat.S_ISDIR(info.st_mode):
                    raise IsADirectoryError(errno.EISDIR, "is a directory", entry.shown)
                entry.existed = True
            fd = self._create_temp(entry)
            self.staged.append(entry)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if mode != FILE_MODE or self.umask & FILE_MODE:  # else created with it already
                os.fchmod(fd, mode)
        finally:
            os.close(fd)

    def _create_direct(self, directory: int, parts: Parts) -> int:
        """A new 0600 file under its final name in a directory this run created."""
        try:
            fd = os.open(parts[-1], _TEMP_FLAGS, FILE_MODE, dir_fd=directory)
        except FileExistsError:  # a directory made here for another target, or a repeated path
            if stat.S_ISDIR(os.stat(parts[-1], dir_fd=directory, follow_symlinks=False).st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory", self.shown(parts)) from None
            raise
        self.direct.append((directory, parts[-1]))
        return fd

    def _create_temp(self, entry: _Staged) -> int:
        """A new 0600 file beside the target (``mkstemp``'s guarantees, cheaper per file)."""
        while True:
            temp = self._temp_name(entry.name)
            try:
                fd = os.open(temp, _TEMP_FLAGS, FILE_MODE, dir_fd=entry.directory)
            except FileExistsError:
                self.token = _random.token_hex(4)
                continue
            entry.temp = temp
            return fd

    def commit(self) -> None:
        for entry in self.staged:
            if entry.existed:
                entry.backup = _backup(entry.directory, entry.name)
            self.renamed.append(entry)  # before: a failed rename is undone too
            try:
                os.replace(entry.temp or "", entry.name, src_dir_fd=entry.directory,
                           dst_dir_fd=entry.directory)  # fmt: skip
            except OSError as exc:
                exc.filename = entry.shown
                raise
            entry.temp = None
        for made in self.pending:
            _place(made)
        for entry in self.renamed:
            if entry.backup is not None:
                with contextlib.suppress(OSError):
                    os.unlink(entry.backup, dir_fd=entry.directory)
                entry.backup = None

    def rollback(self) -> None:
        for entry in reversed(self.renamed):
            with contextlib.suppress(OSError):
                if entry.backup is not None:
                    os.replace(entry.backup, entry.name, src_dir_fd=entry.directory,
                               dst_dir_fd=entry.directory)  # fmt: skip
                    # a rename between two links of one file is a no-op: the backup stays
                    os.unlink(entry.backup, dir_fd=entry.directory)
                elif not entry.existed and entry.temp is None:
                    os.unlink(entry.name, dir_fd=entry.directory)
                # else: an old file that could not be linked aside keeps its new content
        for entry in self.staged:
            if entry.temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(entry.temp, dir_fd=entry.directory)
        for directory, name in reversed(self.direct):
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=directory)
        for made in reversed(self.created):  # the deepest first
            with contextlib.suppress(OSError):
                os.rmdir(made.name, dir_fd=made.parent)

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()


def _place(made: _Made) -> None:
    """Rename a directory made under a temporary name to its own, which must still be free (a
    rename would replace an empty directory someone made there meanwhile)."""
    try:
        os.stat(made.final, dir_fd=made.parent, follow_symlinks=False)
    except FileNotFoundError:
        pass
    else:
        raise FileExistsError(errno.EEXIST, "it appeared while gitsm was writing", made.shown)
    try:
        os.rename(made.name, made.final, src_dir_fd=made.parent, dst_dir_fd=made.parent)
    except OSError as exc:
        exc.filename = made.shown
        raise
    made.name = made.final


def _backup(directory: int, name: str) -> str | None:
    """A hard link to ``name`` under a fresh name beside it (None if links are not possible)."""
    for _ in range(10):
        backup = f".{name[:40]}.{_random.token_hex(6)}.gitsm-old"
        try:
            os.link(name, backup, src_dir_fd=directory, dst_dir_fd=directory,
                    follow_symlinks=False)  # fmt: skip
            return backup
        except FileExistsError:
            continue
        except OSError:
            return None
    return None


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _room_for(directories: int) -> None:
    """Raise the soft limit on open files if the directories of one run need more."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not a POSIX system
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = directories + _FD_HEADROOM
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def write_files(
    base: str, files: Sequence[tuple[Parts, bytes, int]], *, follow_base: bool = False
) -> None:
    """Write every (parts, data, mode) below directory ``base``, or, on any failure, none of them.

    No component from ``base`` down is followed if it is a symbolic link (``base`` itself is, with
    ``follow_base``). Every file that cannot be prepared is listed in the one
    :class:`MaterializeError` raised.
    """
    txn = _Txn(base, follow_base)
    problems: list[str] = []
    _room_for(len({parts[:-1] for parts, _, _ in files}))
    try:
        for parts, data, mode in files:
            try:
                txn.stage(parts, data, mode)
            except OSError as exc:
                problems.append(f"{txn.shown(parts)}: cannot write: {_reason(exc)}")
        if not problems:
            try:
                txn.commit()
            except OSError as exc:
                problems.append(f"{exc.filename or 'a target'}: cannot move into place: "
                                f"{_reason(exc)}")  # fmt: skip
        if problems:
            txn.rollback()
    except BaseException:
        txn.rollback()
        raise
    finally:
        txn.close()
    if problems:
        raise MaterializeError(problems)


def write_file(path: str, data: bytes, mode: int = FILE_MODE) -> None:
    """Write one file atomically (same rules as :func:`write_files`; its directory may be reached
    through links, the file itself is never a link followed)."""
    directory, name = os.path.split(path)
    if name in ("", ".", ".."):
        raise MaterializeError([f"{path}: not a file name"])
    write_files(directory or ".", [((name,), data, mode)], follow_base=True)


def append_file(path: str, data: bytes) -> None:
    """Append ``data`` (``O_APPEND``); a new file is created 0600; a symbolic link is refused. A
    failed append is cut back."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError as exc:
        reason = f"{path} {LINK_REFUSED}" if os.path.islink(path) else _reason(exc)
        raise MaterializeError([f"{path}: cannot open for appending: {reason}"]) from None
    try:
        info = os.fstat(fd)
        start = info.st_size if stat.S_ISREG(info.st_mode) else None
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            if start is not None:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
            raise MaterializeError([f"{path}: cannot append: {_reason(exc)}"]) from None
    finally:
        os.close(fd)
