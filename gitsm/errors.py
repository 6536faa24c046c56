"""The error tree of gitsm.

Every error the library raises on purpose is a :class:`GitsmError`. Operation errors carry the AWS
Secrets Manager error code they stand for; the client, the CLI and the server translate them once,
at their boundary, using the table in :data:`ERROR_TABLE` (code -> HTTP status, CLI exit code).

Messages never contain a secret value, a hash of one, or key material.
"""

from __future__ import annotations

import errno

# CLI exit codes follow aws CLI v2: 252 parse error, 253 environment, 254 service error, 255 other.
EXIT_USAGE = 252
EXIT_ENVIRONMENT = 253
EXIT_OPERATION = 254
EXIT_OTHER = 255


class GitsmError(Exception):
    """Base of every deliberate gitsm error."""

    code: str = "InternalServiceError"
    http_status: int = 500
    exit_code: int = EXIT_OTHER

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OperationError(GitsmError):
    """An error of an AWS Secrets Manager operation, named by its AWS error code."""

    http_status = 400
    exit_code = EXIT_OPERATION


class ResourceNotFoundException(OperationError):
    """The secret, version or label asked for does not exist."""

    code = "ResourceNotFoundException"


class InvalidParameterException(OperationError):
    """A parameter value is not valid for the current state of the resource."""

    code = "InvalidParameterException"


class InvalidRequestException(OperationError):
    """The request is not valid for the secret's state (for example, it is pending deletion)."""

    code = "InvalidRequestException"


class ResourceExistsException(OperationError):
    """A secret with that name, or a version with that token, already exists."""

    code = "ResourceExistsException"


class LimitExceededException(OperationError):
    """A quota (labels per version, tags per secret, ...) would be exceeded."""

    code = "LimitExceededException"


class DecryptionFailure(OperationError):
    """A version could not be decrypted: missing key, wrong key or altered ciphertext."""

    code = "DecryptionFailure"


class EncryptionFailure(OperationError):
    """A value could not be encrypted: the key is unknown or unusable."""

    code = "EncryptionFailure"


class ValidationException(OperationError):
    """The request does not satisfy the API's input constraints."""

    code = "ValidationException"


class InvalidNextTokenException(OperationError):
    """The NextToken is not one this store handed out."""

    code = "InvalidNextTokenException"


class InternalServiceError(OperationError):
    """The store could not complete the request (for example, a concurrent-writer conflict)."""

    code = "InternalServiceError"
    http_status = 500


class MalformedPolicyDocumentException(OperationError):
    """The resource policy is not valid JSON, or not a policy document of the right shape."""

    code = "MalformedPolicyDocumentException"


class PublicPolicyException(OperationError):
    """BlockPublicPolicy is set and the resource policy grants broad access to the secret."""

    code = "PublicPolicyException"


class StoreError(GitsmError):
    """The environment is not usable: no store at the path, a newer format, an unreadable config."""

    code = "StoreError"
    exit_code = EXIT_ENVIRONMENT


class LocalChangesError(StoreError):
    """The checked-out work tree or index has local edits to paths the operation must change."""

    code = "LocalChangesError"


class RemoteError(StoreError):
    """git could not fetch from or push to the store's remote (network, access, a declined push)."""

    code = "RemoteError"


class SigningError(StoreError):
    """git's config asks for signed commits (``commit.gpgsign``) and the commit could not be
    signed: no usable key, or the signing program failed. Nothing was written."""

    code = "SigningError"


class StorageError(StoreError):
    """The disk or file system failed gitsm: an I/O error while reading or writing the store's
    files. :class:`StorageFull` and :class:`ReadOnlyStore` name the two common causes."""

    code = "StorageError"


class StorageFull(StorageError):
    """No space (or quota) left on the file system that holds the store or its work tree."""

    code = "StorageFull"


class ReadOnlyStore(StorageError):
    """The store, its work tree or the key ring cannot be written: a read-only file system, or
    permissions that do not allow it."""

    code = "ReadOnlyStore"


class RepositoryError(StoreError):
    """The git repository is damaged: a corrupt or missing object, a truncated pack, an
    unreadable index or ref. ``git fsck`` says what is broken."""

    code = "RepositoryError"


class GitLockHeld(StoreError):
    """A lock file of git's (``index.lock``) is held by another program, so gitsm cannot update the
    checkout's index: wait for that git command to finish, or remove a lock a killed one left."""

    code = "GitLockHeld"


class KeySourceError(StoreError):
    """A key source of this machine is unusable (a malformed ``GITSM_LOCAL_KEYS``, an unreadable
    ``GITSM_AGE_IDENTITY_FILE`` or key ring): an environment error, not a key that is not held."""

    code = "KeySourceError"


_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, getattr(errno, "EFBIG", errno.ENOSPC)})
_READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def storage_error(exc: OSError, what: str, advice: str = "") -> StorageError:
    """The gitsm error for an OSError that ``what`` (``writing the commit to /path/.git``) met:
    StorageFull, ReadOnlyStore or StorageError, saying what to do; ``advice`` is appended (what
    happened to the store, e.g. ``nothing was written``). The message names paths and the system's
    words for the error, never file contents."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None and str(exc.filename) not in what:
        reason += f": {exc.filename}"
    tail = f" {_sentence(advice)}." if advice else ""
    if exc.errno in _FULL:
        return StorageFull(
            f"No space left on the device while {what} ({reason}). Free space there (or raise "
            f"the quota) and run the command again.{tail}"
        )
    if exc.errno in _READ_ONLY:
        return ReadOnlyStore(
            f"The store cannot be written while {what} ({reason}). Make it writable (remount the "
            "file system read-write, or fix the owner and permissions of the repository) or work "
            f"on a writable clone, and run the command again.{tail}"
        )
    if exc.errno == errno.EIO:
        return StorageError(
            f"The disk or file system failed while {what} ({reason}). Check the device (dmesg, "
            f"the file system's health) and run the command again.{tail}"
        )
    return StorageError(
        f"The file system refused {what} ({reason}). Check that path (something in the way "
        f"where git or gitsm expects a file, its owner and permissions) and run the command "
        f"again.{tail}"
    )


class SyncConflict(OperationError):
    """``gitsm sync`` could not replay some local operations on the upstream tip.

    ``report`` is the sync's report (what was replayed, pushed, and what needs redoing).
    """

    code = "SyncConflict"

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class MalformedFile(Exception):
    """A store file that the strict readers refuse, with ``path``, ``problem`` and ``fix`` apart.

    Not raised itself: :class:`MalformedStoreFile` (a manifest or the store config) and
    :class:`MalformedEnvelope` (a version envelope) carry these fields, so that ``gitsm verify``
    reports the problem as one ``path: problem (fix)`` line without reading the message.
    """

    path: str
    problem: str
    fix: str

    def _fields(self, path: str, problem: str, fix: str) -> None:
        self.path, self.problem, self.fix = path, problem, fix


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


class MalformedStoreFile(StoreError, MalformedFile):
    """A manifest or the store config is unreadable: a bad YAML construct, over its size limit, a
    field of the wrong type or size, a newer format, or not a regular file (exit 253)."""

    code = "MalformedStoreFile"

    def __init__(self, path: str, problem: str, fix: str) -> None:
        super().__init__(
            f"The store file {path} {problem}. {_sentence(fix.replace('<path>', path))}. "
            "gitsm reads no part of it; 'gitsm verify' lists every problem of the tree."
        )
        self._fields(path, problem, fix)


class MalformedEnvelope(DecryptionFailure, MalformedFile):
    """A version envelope that is not intact: not canonical JSON, over its size limit, a field of
    the wrong type or size, another secret's or version's, or not a regular file (exit 254)."""

    def __init__(self, path: str, problem: str, fix: str, *, name: str, version_id: str) -> None:
        super().__init__(
            f"Secrets Manager can't decrypt version {version_id} of secret {name}: the envelope "
            f"{problem}. {_sentence(fix.replace('<path>', path))}."
        )
        self._fields(path, problem, fix)


class MergeInProgressError(StoreError):
    """A merge, rebase, cherry-pick or revert is in progress in the store's checkout, or its index
    has unmerged (conflict) entries: a write must wait until it is finished or aborted."""

    code = "MergeInProgress"


ERROR_TABLE: dict[str, tuple[int, int]] = {
    cls.code: (cls.http_status, cls.exit_code)
    for cls in (
        ResourceNotFoundException,
        InvalidParameterException,
        InvalidRequestException,
        ResourceExistsException,
        LimitExceededException,
        DecryptionFailure,
        EncryptionFailure,
        ValidationException,
        InvalidNextTokenException,
        InternalServiceError,
        MalformedPolicyDocumentException,
        PublicPolicyException,
        StoreError,
        MalformedStoreFile,
        LocalChangesError,
        RemoteError,
        SigningError,
        SyncConflict,
        MergeInProgressError,
        StorageError,
        StorageFull,
        ReadOnlyStore,
        RepositoryError,
        GitLockHeld,
        KeySourceError,
    )
}
"""AWS error code -> (HTTP status, CLI exit code)."""

SECRET_NOT_FOUND = "Secrets Manager can't find the specified secret."
MARKED_DELETED = (
    "You can't perform this operation on the secret because it was marked for deletion."
)
"""AWS's InvalidRequestException for a secret pending deletion, as AWS SDK error traces quote it."""
