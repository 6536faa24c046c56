"""The server's access keys: who may call ``gitsm serve``, and the secrets they sign with.

An access key is an id like AWS's (``AKIA`` and 16 upper-case base32 characters), a 40-character
secret, the principal it belongs to (the name the server policy grants actions to) and when it
was made. Their secrets never go into git: they live in ``$GITSM_HOME/serve-access-keys.json``,
beside the key ring (default ``~/.config/gitsm``), a file of mode 0600 written atomically
(a private temporary file, fsync, rename) under a lock, whatever the umask; missing directories
on the way are made 0700. A file that other users can read or write, or that another user owns,
is refused (saying how to fix it), as is a malformed one.

The server calls :meth:`AccessKeys.lookup` on every request: a dictionary look-up, after one
``stat`` that notices when another process (``gitsm serve create-access-key``) changed the file.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from gitsm.errors import OperationError, StoreError, ValidationException
from gitsm.providers.local import gitsm_home, private_dirs
from gitsm.strict import aware_utc

FILE_NAME = "serve-access-keys.json"
FILE_MODE = 0o600
FORMAT_VERSION = 1
PRINCIPAL_PATTERN = r"[A-Za-z0-9+=,.@_-]{1,64}"
_PRINCIPAL = re.compile(PRINCIPAL_PATTERN)
_KEY_ID = re.compile(r"AKIA[A-Z2-7]{16}")
_SECRET = re.compile(r"[A-Za-z0-9+/]{40}")
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_MAX_FILE = 16 * 1024 * 1024
_UNREAD = (-1,)
log = logging.getLogger("gitsm.serve")


class NoSuchEntityException(OperationError):
    """No access key has the id given (IAM's error for an unknown access key)."""

    code = "NoSuchEntity"


class AccessKeyFileError(StoreError):
    """The access-key file cannot be used: open to other users, unreadable, malformed or not
    writable. Its message names the path and the fix, never a secret."""

    code = "AccessKeyFileError"


@dataclass(frozen=True)
class AccessKeyInfo:
    """What may be shown of an access key: everything but its secret."""

    access_key_id: str
    principal: str
    created: datetime


@dataclass(frozen=True)
class AccessKey:
    """An access key of the server (its secret is never part of its repr)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    principal: str
    created: datetime

    def info(self) -> AccessKeyInfo:
        """The key without its secret."""
        return AccessKeyInfo(self.access_key_id, self.principal, self.created)


def access_keys_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the server's access keys live: ``$GITSM_HOME/serve-access-keys.json``."""
    return gitsm_home(env) / FILE_NAME


def check_principal(principal: object) -> str:
    """``principal`` if it is a valid principal name (like an IAM user name), else
    ValidationException."""
    if isinstance(principal, str) and _PRINCIPAL.fullmatch(principal):
        return principal
    raise ValidationException(
        f"1 validation error detected: Value '{str(principal)[:128]}' at 'principal' failed to "
        f"satisfy constraint: Member must satisfy regular expression pattern: {PRINCIPAL_PATTERN}"
    )


def new_access_key_id() -> str:
    """A fresh access key id: ``AKIA`` and 16 random upper-case base32 characters."""
    return "AKIA" + "".join(secrets.choice(_BASE32) for _ in range(16))


def new_secret_access_key() -> str:
    """A fresh 40-character secret access key (240 random bits, base64 alphabet)."""
    return base64.b64encode(secrets.token_bytes(30)).decode("ascii")


def _fsync_wanted(env: Mapping[str, str]) -> bool:
    return env.get("GITSM_FSYNC", "1").strip().lower() not in ("0", "false", "no", "off")


Signature = tuple[int, ...]
T = TypeVar("T")


class AccessKeys:
    """The access keys of ``path`` (default :func:`access_keys_path`)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.env = dict(os.environ if env is None else env)
        self.path = path if path is not None else access_keys_path(self.env)
        self.clock = clock
        self._state: tuple[Signature | None, dict[str, AccessKey]] = (_UNREAD, {})

    # -- reading -------------------------------------------------------------------------------

    def lookup(self, access_key_id: str) -> AccessKey | None:
        """The access key ``access_key_id``, or None. Never raises: a file that became unusable
        is logged (warning) and then no key is known until it is fixed."""
        try:
            st = os.stat(self.path)
            now: Signature | None = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                                     st.st_ctime_ns, st.st_mode, st.st_uid)  # fmt: skip
        except OSError:
            now = None
        seen, keys = self._state
        if now != seen:
            try:
                loaded, keys = self._read()
            except AccessKeyFileError as exc:
                log.warning("gitsm serve: no access key is accepted: %s", exc.message)
                loaded, keys = now, {}
            self._state = (loaded, keys)
        return keys.get(access_key_id)

    def list(self, principal: str | None = None) -> tuple[AccessKeyInfo, ...]:
        """The access keys (of ``principal``, if given) in the order they were made, without
        their secrets; AccessKeyFileError when the file is unusable (a server checks this once,
        at start)."""
        _, keys = self._read()
        return tuple(k.info() for k in keys.values() if principal in (None, k.principal))

    def _read(self) -> tuple[Signature | None, dict[str, AccessKey]]:
        """(the file's stat signature, its keys); an absent file holds no keys."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None, {}
        except OSError as exc:
            raise self._error(f"cannot be read ({exc.strerror})", "Fix its owner and mode "
                              "(yours, 0600)") from None  # fmt: skip
        try:
            st = os.fstat(fd)
            self._check_private(st)
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read(_MAX_FILE + 1)
        except OSError as exc:
            raise self._error(f"cannot be read ({exc.strerror})", "Check the file") from None
        finally:
            os.close(fd)
        sig = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode,
               st.st_uid)  # fmt: skip
        return sig, self._parse(data)

    def _check_private(self, st: os.stat_result) -> None:
        if not stat.S_ISREG(st.st_mode):
            raise self._error("is not a regular file", "Move it away")
        if st.st_uid != os.geteuid():
            raise self._error(
                f"belongs to another user (uid {st.st_uid})",
                f"Make it yours ('chown {os.geteuid()} {self.path}') or point GITSM_HOME at "
                "your own directory",
            )
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise self._error(
                f"is open to other users (mode {mode:04o}), who could read the secret access "
                "keys in it",
                f"Run 'chmod 600 {self.path}', and replace the keys if others may have read them "
                "(create-access-key, then delete-access-key)",
            )

    def _parse(self, data: bytes) -> dict[str, AccessKey]:
        fix = "Restore it from your backup, or move it away and create new keys"
        if len(data) > _MAX_FILE:
            raise self._error(f"is larger than {_MAX_FILE} bytes", fix)
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            raise self._error("is not valid JSON", fix) from None
        rows = doc.get("AccessKeys") if isinstance(doc, dict) else None
        if not isinstance(doc, dict) or doc.get("Version") != FORMAT_VERSION:
            raise self._error(f"is not an access-key file of version {FORMAT_VERSION}", fix)
        if not isinstance(rows, list):
            raise self._error("has no AccessKeys list", fix)
        keys: dict[str, AccessKey] = {}
        for number, row in enumerate(rows, start=1):
            key = _key(row)
            if key is None or key.access_key_id in keys:
                raise self._error(f"is malformed: entry {number} of {len(rows)}", fix)
            keys[key.access_key_id] = key
        return keys

    def _error(self, problem: str, fix: str) -> AccessKeyFileError:
        return AccessKeyFileError(f"The access-key file {self.path} {problem}. {fix}.")

    # -- writing -------------------------------------------------------------------------------

    def create(self, principal: str) -> AccessKey:
        """A new access key for ``principal`` (ValidationException for an invalid name)."""
        check_principal(principal)

        def add(keys: dict[str, AccessKey]) -> AccessKey:
            key_id = new_access_key_id()
            while key_id in keys:  # pragma: no cover - 80 random bits
                key_id = new_access_key_id()
            created = self.clock().astimezone(UTC).replace(microsecond=0)
            keys[key_id] = AccessKey(key_id, new_secret_access_key(), principal, created)
            return keys[key_id]

        return self._update(add)

    def delete(self, access_key_id: str) -> None:
        """Delete an access key (NoSuchEntityException when there is none with that id)."""

        def remove(keys: dict[str, AccessKey]) -> None:
            if keys.pop(access_key_id, None) is None:
                raise NoSuchEntityException(
                    f"The Access Key with id {access_key_id[:128]} cannot be found."
                )

        self._update(remove)

    def _update(self, change: Callable[[dict[str, AccessKey]], T]) -> T:
        with self._locked():
            _, keys = self._read()
            result = change(keys)
            self._write(keys)
        return result

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            private_dirs(self.path.parent)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        except OSError as exc:
            raise self._unwritable(exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, keys: dict[str, AccessKey]) -> None:
        rows = [_row(k) for k in keys.values()]  # in the order they were made
        data = json.dumps({"Version": FORMAT_VERSION, "AccessKeys": rows}, indent=2) + "\n"
        temp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
        sync = _fsync_wanted(self.env)
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
            try:
                os.fchmod(fd, FILE_MODE)  # whatever the umask
                with os.fdopen(fd, "w", encoding="ascii", closefd=False) as fh:
                    fh.write(data)
                    fh.flush()
                    if sync:
                        os.fsync(fh.fileno())
            finally:
                os.close(fd)
            os.replace(temp, self.path)
            if sync:
                directory = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise self._unwritable(exc) from None

    def _unwritable(self, exc: OSError) -> AccessKeyFileError:
        return self._error(
            f"cannot be written ({exc.strerror})",
            f"Make {self.path.parent} writable (or free space there), or point GITSM_HOME at a "
            "private directory that is; no access key was changed",
        )


def _row(key: AccessKey) -> dict[str, str]:
    return {
        "AccessKeyId": key.access_key_id,
        "Principal": key.principal,
        "CreateDate": key.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SecretAccessKey": key.secret_access_key,
    }


def _key(row: Any) -> AccessKey | None:
    """The access key of one entry of the file, or None when it is malformed."""
    if not isinstance(row, dict):
        return None
    values = [
        row.get(name) for name in ("AccessKeyId", "SecretAccessKey", "Principal", "CreateDate")
    ]
    if not all(isinstance(v, str) for v in values):
        return None
    key_id, secret, principal, created = (str(v) for v in values)
    if not _KEY_ID.fullmatch(key_id) or not _SECRET.fullmatch(secret):
        return None
    if not _PRINCIPAL.fullmatch(principal):
        return None
    when = aware_utc(created)
    return None if when is None else AccessKey(key_id, secret, principal, when)
