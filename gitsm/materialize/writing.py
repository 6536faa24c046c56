"""Writing plaintext: all files or none, each atomically, 0600 files in 0700 directories.

A set of files is written in two phases. Prepare: create the missing directories (0700, each one
recorded), and write every value to a temporary file in its target's directory (created 0600 with
``O_EXCL | O_NOFOLLOW``, then given the entry's mode). Commit: ``rename`` each temporary file over its target,
after hard-linking an existing target to a backup name. A failure in either phase rolls back
everything: temporary files removed, replaced targets restored from their backups, new targets
removed, created directories removed (deepest first). Readers see a target's old content or its new
content, never a partial file. Files are not fsynced: CI secrets are short-lived, and the atomic
rename is what keeps readers from seeing a torn file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets as _random
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitsm.materialize.errors import MaterializeError

DIR_MODE = 0o700
FILE_MODE = 0o600
TMP_SUFFIX = ".gitsm-tmp"
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class _Txn:
    created_dirs: list[Path] = field(default_factory=list)
    temps: list[tuple[str, Path, bool]] = field(default_factory=list)
    done: list[tuple[Path, str | None, bool]] = field(default_factory=list)
    ready: set[Path] = field(default_factory=set)
    fresh: set[Path] = field(default_factory=set)
    token: str = field(default_factory=lambda: _random.token_hex(4))
    count: int = 0

    def make_dirs(self, directory: Path) -> None:
        if directory in self.ready:
            return
        missing: list[Path] = []
        probe = directory
        while not probe.exists():
            if probe.is_symlink():  # a dangling link: mkdir would fail with an obscure error
                raise FileExistsError(errno.EEXIST, "a dangling symbolic link", str(probe))
            missing.append(probe)
            probe = probe.parent
        for path in reversed(missing):
            os.mkdir(path, DIR_MODE)
            self.created_dirs.append(path)
            os.chmod(path, DIR_MODE)  # whatever the umask
        self.ready.add(directory)
        if missing:
            self.fresh.add(directory)

    def stage(self, target: Path, data: bytes, mode: int) -> None:
        self.make_dirs(target.parent)
        exists = False
        if target.parent not in self.fresh:  # nothing exists yet in a directory made here
            try:
                info = os.lstat(target)
            except FileNotFoundError:
                pass
            else:
                exists = True
                if stat.S_ISDIR(info.st_mode):
                    raise IsADirectoryError(errno.EISDIR, "is a directory", str(target))
        fd, tmp = self._create_temp(target)
        self.temps.append((tmp, target, exists))
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
        finally:
            os.close(fd)

    def _create_temp(self, target: Path) -> tuple[int, str]:
        """A new 0600 file beside ``target`` (``mkstemp``'s guarantees, cheaper per file)."""
        while True:
            self.count += 1
            tmp = f"{target.parent}/.{target.name[:40]}.{self.token}{self.count}{TMP_SUFFIX}"
            try:
                return os.open(tmp, _TEMP_FLAGS, FILE_MODE), tmp
            except FileExistsError:
                self.token = _random.token_hex(4)

    def commit(self) -> None:
        for tmp, target, exists in self.temps:
            backup = _backup(target) if exists else None
            self.done.append((target, backup, exists))  # before: a failed rename is undone too
            os.replace(tmp, target)
        self.temps.clear()
        for _, backup, _ in self.done:
            if backup is not None:
                with contextlib.suppress(OSError):
                    os.unlink(backup)

    def rollback(self) -> None:
        for target, backup, existed in reversed(self.done):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, target)
                    if os.path.lexists(backup):  # rename between two links of one file: a no-op
                        os.unlink(backup)
                elif not existed:
                    os.unlink(target)
                # else: an old file that could not be linked aside keeps its new content
        for tmp, _, _ in self.temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        for directory in reversed(self.created_dirs):
            with contextlib.suppress(OSError):
                os.rmdir(directory)


def _backup(target: Path) -> str | None:
    """A hard link to ``target`` under a fresh name beside it (None if links are not possible)."""
    for _ in range(10):
        name = str(target.parent / f".{target.name[:40]}.{_random.token_hex(6)}.gitsm-old")
        try:
            os.link(target, name, follow_symlinks=False)
            return name
        except FileExistsError:
            continue
        except OSError:
            return None
    return None


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def write_files(files: Sequence[tuple[Path, bytes, int]]) -> None:
    """Write every (path, data, mode), or, on any failure, none of them.

    Every file that cannot be prepared is listed in the one :class:`MaterializeError` raised.
    """
    txn = _Txn()
    problems: list[str] = []
    try:
        for target, data, mode in files:
            try:
                txn.stage(target, data, mode)
            except OSError as exc:
                problems.append(f"{target}: cannot write: {_reason(exc)}")
        if not problems:
            try:
                txn.commit()
            except OSError as exc:
                problems.append(f"{exc.filename or 'a target'}: cannot move into place: "
                                f"{_reason(exc)}")  # fmt: skip
    except BaseException:
        txn.rollback()
        raise
    if problems:
        txn.rollback()
        raise MaterializeError(problems)


def write_file(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Write one file atomically (same rules as :func:`write_files`)."""
    write_files([(path, data, mode)])


def append_file(path: Path, data: bytes) -> None:
    """Append ``data`` (``O_APPEND``); a new file is created 0600. A failed append is cut back."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        raise MaterializeError([f"{path}: cannot open for appending: {_reason(exc)}"]) from None
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
